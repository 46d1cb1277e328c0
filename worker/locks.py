"""Locks on many Redis keys at once: taken, kept alive and freed in one round trip for all.

A sender holds one lock per contact it sends to. redis-py's `Lock` takes and frees one key a
call: a batch to 400 contacts would cost 800 round trips and a keeper thread each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from uuid import uuid4

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
         "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0")
FREE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('del', KEYS[1]) end return 0")
POLL_SECONDS = 0.1  # how often a key another holder has is tried again while waiting


@contextmanager
def held(redis: Redis, keys: list[str], seconds: float, wait: float) -> Iterator[set[str]]:
    """Those of `keys` this holder got within `wait` seconds, kept alive every third of
    `seconds` by one thread until the block ends, then freed: a killed holder's locks expire
    within `seconds`. A key whose lock expired meanwhile (Redis was away) leaves the set."""
    token, milliseconds = uuid4().hex, int(seconds * 1000)
    got = _taken(redis, keys, token, milliseconds)
    deadline = time.monotonic() + wait
    while len(got) < len(keys) and time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        got |= _taken(redis, [key for key in keys if key not in got], token, milliseconds)
    released = threading.Event()

    def keep() -> None:
        while not released.wait(seconds / 3):
            try:
                got.intersection_update(_each(redis, RENEW, list(got), token, milliseconds))
            except RedisError as error:
                log.warning("%s send locks not renewed: %s", len(got), error)

    keeper = threading.Thread(target=keep, name="locks-keeper", daemon=True)
    keeper.start()
    try:
        yield got
    finally:
        released.set()
        keeper.join()
        with suppress(RedisError):
            _each(redis, FREE, list(got), token)


def _taken(redis: Redis, keys: list[str], token: str, milliseconds: int) -> set[str]:
    """Of `keys`, those nobody held, now this holder's."""
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(key, token, nx=True, px=milliseconds)
        return {key for key, took in zip(keys, pipe.execute(), strict=True) if took}


def _each(redis: Redis, lua: str, keys: list[str], *args: str | int) -> set[str]:
    """`lua` run on each key in one round trip: the keys it returned true for."""
    if not keys:
        return set()
    script = redis.register_script(lua)
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            script(keys=[key], args=list(args), client=pipe)
        return {key for key, done in zip(keys, pipe.execute(), strict=True) if done}
