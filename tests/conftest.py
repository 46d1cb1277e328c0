"""Shared fixtures: real PostgreSQL and Redis (the machine's), SQLite and embedded Redis otherwise.

HEARD_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing PostgreSQL or Redis into a failure
instead of a skip or a fallback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from surveys.database import get_engine, migrate
from surveys.model import Survey
from surveys.tables import Base
from surveys.validation import load_survey
from tests.fakes.twilio_api import FakeTwilio, fake_twilio

HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "surveys" / "examples"
REQUIRED = os.environ.get("HEARD_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# A Redis database of this run's own (1-13; the benchmarks use 14), so runs side by side never
# flush each other's queues.
REDIS_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{1 + os.getpid() % 13}")


@pytest.fixture(scope="session")
def water() -> Survey:
    return load_survey(HERE / "data" / "water.yaml")


def _missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable: {error}"
    if REQUIRED:
        pytest.fail(f"{message} (HEARD_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@contextmanager
def postgres_schema(name: str) -> Iterator[str]:
    """An empty PostgreSQL schema of this run's own (dropped after), as a database URL."""
    schema = f"{name}_{os.getpid()}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as error:
        _missing("PostgreSQL", error)
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A schema of this test run's own, so concurrent runs on one database never collide."""
    with postgres_schema("heard_test") as url:
        migrate(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (on PostgreSQL a schema of this test's own) that no migration ran on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    with postgres_schema("heard_migration") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'heard.sqlite3'}"
        migrate(url)
        return url
    url = request.getfixturevalue("postgres_url")
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with get_engine(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    try:
        Redis.from_url(REDIS_URL).ping()
        return REDIS_URL
    except RedisError as error:
        if REQUIRED:
            _missing("Redis", error)
    from worker.connection import embedded_redis, url_of

    return url_of(embedded_redis(tmp_path_factory.mktemp("redis")))


@pytest.fixture
def redis(redis_server_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_server_url)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def runtime(database_url: str, redis: Redis, redis_server_url: str, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch):
    """Environment and caches set so in-process jobs and child processes use these services."""
    from worker import runtime as runtime_module

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_server_url)
    monkeypatch.setenv("HEARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEARD_SIMULATOR", "open")  # tests of its access set their own
    runtime_module.runtime.cache_clear()
    runtime_module.migrated_runtime.cache_clear()
    yield runtime_module.migrated_runtime()
    runtime_module.runtime.cache_clear()
    runtime_module.migrated_runtime.cache_clear()


@pytest.fixture
def twilio(runtime: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    """The real twilio library sending to a local fake of Twilio's API."""
    with fake_twilio() as fake:
        for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t",
                            "TWILIO_FROM": "+15005550006", "TWILIO_API_BASE_URL": fake.url,
                            "PUBLIC_BASE_URL": "https://heard.example.org",
                            "HEARD_SMS_PER_SECOND": "1000"}.items():
            monkeypatch.setenv(name, value)
        yield fake
