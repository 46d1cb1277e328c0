"""A rate limiter every worker process shares through Redis, for provider send limits.

Each key is a GCRA bucket (the "theoretical arrival time" of the next free slot) updated by one
Lua script on Redis' own clock, so any number of processes on any number of machines take slots
in turn without a lock and without trusting their local clocks. Callers reserve a slot and wait
for it, so whoever asked first sends first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis

from worker.metrics import SEND_LIMITS, SEND_SLOTS

# KEYS[1]: bucket; KEYS[2], KEYS[3]: the hashes of slots taken and rates (worker.metrics).
# ARGV: interval ms, burst, max wait ms (negative: no limit), the limit's name in /metrics ("":
# not counted, e.g. a per-chat bucket), its rate a second.
# Returns {reserved (1/0), wait ms as a string}: Lua numbers would be truncated to integers.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - (burst - 1) * interval
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then return {0, tostring(wait)} end
local next_tat = tat + interval
redis.call('SET', KEYS[1], tostring(next_tat), 'PX', math.ceil(next_tat - now) + 1000)
if ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
end
return {1, tostring(wait)}
"""

# KEYS[1]: bucket. ARGV: pause ms, interval ms, burst. Nobody gets a slot before now + pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local until_tat = now + tonumber(ARGV[1]) + (tonumber(ARGV[3]) - 1) * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < until_tat then tat = until_tat end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 1000)
return 1
"""


class RateLimited(Exception):
    """The next free slot is further away than the caller is willing to wait."""

    def __init__(self, key: str, wait: float):
        super().__init__(f"rate limit {key}: next slot in {wait:.1f}s")
        self.wait = wait


def acquire(redis: Redis, key: str, rate_per_second: float, *, burst: int = 1,
            max_wait: float | None = None, sleep: Callable[[float], None] | None = time.sleep,
            meter: str = "") -> float:
    """Take one slot of `key` (at most `rate_per_second`, `burst` at once); the seconds waited.

    A `meter` names the limit in /metrics, which shows the slots taken against the rate.

    Sleeps until the slot is due unless `sleep` is None (then the caller must wait the returned
    time itself). When the wait would exceed `max_wait`, nothing is reserved and `RateLimited`
    says how long it would have been, so a job can be retried later instead of holding a worker.
    """
    if rate_per_second <= 0:
        raise ValueError("rate_per_second must be positive")
    interval_ms = 1000.0 / rate_per_second
    limit_ms = -1.0 if max_wait is None else max_wait * 1000.0
    reserved, wait_ms = redis.eval(_ACQUIRE, 3, key, SEND_SLOTS, SEND_LIMITS, repr(interval_ms),
                                   max(1, burst), repr(limit_ms), meter, repr(rate_per_second))
    wait = float(wait_ms) / 1000.0
    if not int(reserved):
        raise RateLimited(key, wait)
    if wait > 0 and sleep is not None:
        sleep(wait)
    return wait


def pause(redis: Redis, key: str, seconds: float, rate_per_second: float, *,
          burst: int = 1) -> None:
    """Give nobody a slot of `key` for `seconds` (a provider answered "retry after")."""
    redis.eval(_PAUSE, 1, key, repr(seconds * 1000.0), repr(1000.0 / rate_per_second),
               max(1, burst))
