"""What a heard process connects to, resolved once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from redis import Redis

from surveys.database import migrate
from surveys.settings import get_settings
from worker.connection import redis_connection


@dataclass(frozen=True)
class Runtime:
    database_url: str
    redis: Redis


@cache
def runtime() -> Runtime:
    settings = get_settings()
    return Runtime(settings.resolved_database_url(),
                   redis_connection(settings.redis_url, settings.data_dir))


@cache
def migrated_runtime() -> Runtime:
    """The runtime, with the schema brought up to date (once per process)."""
    current = runtime()
    migrate(current.database_url)
    return current
