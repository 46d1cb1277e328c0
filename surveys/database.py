"""Database engine, sessions and migrations, for SQLite (the default) and PostgreSQL."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Rows a bulk write must touch before its tables' planner statistics are refreshed at once;
# autovacuum's own threshold (10% of the table, checked once a minute) comes too late for
# the queries that follow a launch or an import of many contacts.
ANALYZE_AFTER_ROWS = 1000


@cache
def get_engine(url: str) -> Engine:
    """The engine of `url`; its errors never show a statement's parameters (addresses and
    texts of messages), for they are logged."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _sqlite_writes_take_the_lock_up_front(engine)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                           hide_parameters=True)
    # rq forks its scheduler from the worker: a pooled connection inherited by that child
    # outlives a killed worker and keeps its transaction's row locks. Close idle ones first.
    os.register_at_fork(before=engine.pool.dispose)
    return engine


def _sqlite_writes_take_the_lock_up_front(engine: Engine) -> None:
    """BEGIN IMMEDIATE: two workers on one SQLite file serialize instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@cache
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with _session_factory(url).begin() as session:
        yield session


def analyze(url: str, tables: Sequence[str], rows: int) -> bool:
    """Fresh planner statistics for `tables` after a bulk write of `rows` rows (committed),
    so the next queries are planned for the rows now there, not the few there were; whether
    it ran (not for fewer than ANALYZE_AFTER_ROWS rows)."""
    if rows < ANALYZE_AFTER_ROWS:
        return False
    engine = get_engine(url)
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:  # (PostgreSQL and SQLite alike analyze in a transaction)
        for table in tables:
            connection.exec_driver_sql(f"ANALYZE {quote(table)}")
    log.info("analyzed %s after %d rows", ", ".join(tables), rows)
    return True


def migrate(url: str, revision: str = "head", downgrade: bool = False) -> None:
    """Bring the schema to the newest migration (safe to run on every start), or up or down
    to `revision` (the migration tests start from an older schema)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)


def patiently(work: Callable[[], T], patience: float, holding: str) -> T:
    """`work`, tried again while the database is unreachable (a restart, a failover) for up
    to `patience` seconds; any other error, or one past that, is raised."""
    deadline = time.monotonic() + patience
    pause = 0.05
    while True:
        try:
            return work()
        except DBAPIError as error:
            if not unreachable(error) or time.monotonic() + pause > deadline:
                raise
            log.warning("database unreachable (%s); holding %s", error.orig, holding)
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def unreachable(error: BaseException) -> bool:
    """A database that cannot be reached now (connection refused or dropped: a restart, a
    failover), not one that refuses this row: worth waiting for."""
    return isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)
