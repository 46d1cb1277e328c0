"""Counters every worker keeps in Redis, for /metrics to read at scrape time.

Workers run on any number of machines, so their counts cannot live in their own memory (nor
in one machine's prometheus_client multiprocess files): each is a field of a Redis hash,
incremented where it happens and read whole by the web process that is scraped. Redis keeps
no data across a restart; a counter then starts again from 0, which Prometheus' `rate()` and
`increase()` take as a reset.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
PROVIDER_ERRORS = "heard:metrics:provider-errors"  # "channel|code" -> errors
SEND_SLOTS = "heard:metrics:send-slots"  # limit -> slots taken (one a provider call)
SEND_LIMITS = "heard:metrics:send-limits"  # limit -> its rate, a second


def count_provider_error(redis: Redis, channel: str, code: str) -> None:
    """One more error of `code` from `channel`'s provider; a lost count never fails a send."""
    with suppress(RedisError):
        redis.hincrby(PROVIDER_ERRORS, f"{channel}|{code}", 1)


def provider_errors(redis: Redis) -> dict[tuple[str, str], int]:
    """{(channel, code): errors} since Redis last lost its data."""
    counted = {_text(field): int(value) for field, value in redis.hgetall(PROVIDER_ERRORS).items()}
    return {(field.partition("|")[0], field.partition("|")[2]): count
            for field, count in counted.items()}


def send_slots(redis: Redis) -> dict[str, tuple[int, float]]:
    """{limit: (slots taken, its rate a second)} of every limit a sender took slots of."""
    taken = {_text(field): int(value) for field, value in redis.hgetall(SEND_SLOTS).items()}
    rates = {_text(field): float(value) for field, value in redis.hgetall(SEND_LIMITS).items()}
    return {limit: (count, rates.get(limit, 0.0)) for limit, count in taken.items()}


def _text(field: bytes | str) -> str:
    """A hash field as text, whether the connection decodes responses or not."""
    return field.decode() if isinstance(field, bytes) else field
