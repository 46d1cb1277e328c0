"""A paced launch of 100,000 contacts: how close the send rate stays to the configured limit.

Two `heard worker` processes send through the real twilio library to the fake Twilio API
(tests/fakes/twilio_api.py), which stamps each message as it arrives. First the ceiling, in the
same run: the rate the two workers send a sample launch at with no limit. The limit is then set
to LIMIT_SHARE of it (HEARD_SMS_PER_SECOND) and 100,000 contacts are launched spread over
exactly the time their invitations need at that limit (`--over`), so the pace and the limit
are both tight: every second sent below the limit is lost for good, and none may go above it.
Reported: the whole launch's rate, the slowest and fastest 10-second windows and the fastest
second, each as a share of the limit (goal: >= 95 %, never above).
Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (see bench/pipeline.py), BENCH_CONTACTS,
BENCH_SAMPLE (contacts of the unlimited sample launch).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import NamedTuple

from redis import Redis
from rq import Worker
from sqlalchemy import text

from bench.launch import seed_contacts, with_contacts
from bench.pipeline import DATABASE_URL, REDIS_URL, ROOT, reset
from surveys import catalog
from surveys.database import get_engine, session_scope
from tests.fakes.twilio_api import FakeTwilio, fake_twilio
from worker import rounds
from worker.queues import enqueue_outbound

CONTACTS = int(os.environ.get("BENCH_CONTACTS", "100000"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "2000"))
LIMIT_SHARE = 0.6  # of the unlimited rate: headroom for the scheduler and the machine's others
WORKERS = 2
WINDOW = 10  # seconds


@contextmanager
def workers(fake: FakeTwilio, per_second: float) -> Iterator[None]:
    """Two workers (with rq's scheduler) sending to the fake at most `per_second`."""
    env = os.environ | {
        "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
        "HEARD_DATA_DIR": str(ROOT / "data" / "bench"), "HEARD_SIMULATOR": "off",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "bench-token",
        "TWILIO_FROM": "+15005550006", "TWILIO_API_BASE_URL": fake.url,
        "PUBLIC_BASE_URL": "http://127.0.0.1:9", "HEARD_SMS_PER_SECOND": repr(per_second),
        "HEARD_SWEEP_AFTER_SECONDS": "600", "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-m", "heard", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(WORKERS)]
    redis = Redis.from_url(REDIS_URL)
    while len(Worker.all(connection=redis)) < WORKERS:  # started: the ceiling excludes that
        time.sleep(0.1)
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def stamped(fake: FakeTwilio) -> list[float]:
    """When each message reached the fake (monotonic seconds), appended as they arrive."""
    arrivals: list[float] = []
    record = fake.record

    def stamp(sent: dict[str, str]) -> None:
        arrivals.append(time.monotonic())
        record(sent)

    fake.record = stamp  # type: ignore[method-assign]
    return arrivals


def launch_and_wait(contacts: int, limit: float | None,
                    arrivals: list[float]) -> tuple[float, timedelta | None]:
    """Launch a fresh round to the first `contacts` contacts, spread over what its messages
    need at `limit` (None: unpaced); (seconds until all arrived, the window)."""
    with session_scope(DATABASE_URL) as db:
        db.execute(text("UPDATE contacts SET community = CASE WHEN id <= :n THEN 'bench' "
                        "ELSE 'later' END"), {"n": contacts})
        survey = catalog.latest(db, "water-access")
        assert survey is not None  # reset() registered it
        round_id = rounds.create_round(db, survey, "bench").id
        messages = rounds.plan_launch(db, round_id).total("messages")
    over = timedelta(seconds=messages / limit) if limit else None
    began = time.monotonic()
    rounds.launch(DATABASE_URL, Redis.from_url(REDIS_URL), round_id, enqueue_outbound,
                  over=over)
    while len(arrivals) < messages:
        time.sleep(0.2)
    return time.monotonic() - began, over


class Shares(NamedTuple):
    whole: float  # the whole launch's rate / the limit
    slowest: float  # the slowest full 10-s window's
    slowest_at: int  # when it began, seconds after the first message
    fastest: float  # the fastest full 10-s window's
    fastest_second: float  # the fastest second's


def shares(arrivals: list[float], per_second: float) -> Shares:
    """The send rate against the limit, over the whole launch, its 10-s windows and seconds."""
    first = arrivals[0]
    seconds = Counter(int(moment - first) for moment in arrivals)
    last = max(seconds)
    windows = {start: sum(seconds[second] for second in range(start, start + WINDOW))
               for start in range(0, last - WINDOW + 1, WINDOW)}
    slowest_at = min(windows, key=lambda start: windows[start])
    whole = len(arrivals) / max(arrivals[-1] - first, 1e-9)
    return Shares(whole / per_second, windows[slowest_at] / WINDOW / per_second, slowest_at,
                  max(windows.values()) / WINDOW / per_second,
                  max(seconds.values()) / per_second)


def main() -> None:
    redis = with_contacts(CONTACTS)
    with get_engine(DATABASE_URL).begin() as connection:
        connection.execute(text("ANALYZE"))
    print(f"paced launch benchmark: {CONTACTS:,} contacts, {WORKERS} workers, fake Twilio")
    with fake_twilio() as fake:
        arrivals = stamped(fake)
        with workers(fake, 100_000.0):
            took, _ = launch_and_wait(SAMPLE, None, arrivals)
        ceiling = len(arrivals) / took
        limit = math.floor(ceiling * LIMIT_SHARE)
        print(f"  ceiling: {ceiling:,.0f} messages/s, {SAMPLE:,} contacts launched unlimited")
        reset(redis)
        seed_contacts(CONTACTS)
        arrivals.clear()
        with workers(fake, float(limit)):
            took, over = launch_and_wait(CONTACTS, limit, arrivals)
    assert over is not None
    found = shares(sorted(arrivals), limit)
    print(f"  limit HEARD_SMS_PER_SECOND={limit} ({LIMIT_SHARE:.0%} of the ceiling); the launch "
          f"spread over {over.total_seconds():,.0f} s, what its messages need at the limit")
    print(f"  sent {len(arrivals):,} in {took:,.0f} s ({took / over.total_seconds():.1%} of the "
          f"window): {found.whole:.1%} of the limit over the whole launch; 10-s windows "
          f"{found.slowest:.1%} (from {found.slowest_at} s) to {found.fastest:.1%}; fastest "
          f"second {found.fastest_second:.1%}")
    reset(redis)


if __name__ == "__main__":
    main()
