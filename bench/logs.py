"""What the per-message log lines (HEARD_LOG_LEVEL=INFO, JSON) cost a drain, against the same
run with only warnings logged: `python -m bench logs`.

Each round ingests the same conversations and times one `heard worker --burst` until every
inbox row is processed (the drain, where a line per message is written), alternating quiet and
JSON so a busy machine slows both alike; the figure is the rate with JSON lines as a share of
the quiet rate. Environment as bench/pipeline.py's (a Redis of the benchmark's own: a worker
of another run on the same database would take its jobs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from sqlalchemy import func, select

from bench.pipeline import DATABASE_URL, MESSAGES, REDIS_URL, create_database, messages, reset
from surveys.database import migrate, session_scope
from surveys.tables import InboxMessage
from worker.ingest import ingest_many

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 2


def drain_rate(redis: Redis, env: dict[str, str], count: int) -> float:
    """Messages a second one worker processes from a full inbox (start-up included)."""
    reset(redis)
    batch = messages(count, "l-")
    for start in range(0, len(batch), 500):
        ingest_many(DATABASE_URL, redis, batch[start:start + 500])
    began = time.perf_counter()
    worker = subprocess.Popen([sys.executable, "-m", "heard", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            with session_scope(DATABASE_URL) as db:
                if not db.scalar(select(func.count()).select_from(InboxMessage)
                                 .where(InboxMessage.processed_at.is_(None))):
                    break
            time.sleep(0.05)
        return count / (time.perf_counter() - began)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench"), "HEARD_LOG_FORMAT": "json"}
    print(f"log lines benchmark: {MESSAGES} messages drained by one worker, {ROUNDS} rounds")
    rates: dict[str, list[float]] = {"WARNING": [], "INFO": []}
    for _ in range(ROUNDS):
        for level in rates:
            rates[level].append(drain_rate(redis, env | {"HEARD_LOG_LEVEL": level}, MESSAGES))
            print(f"  {level}: {rates[level][-1]:,.0f} msg/s", flush=True)
    quiet, logged = max(rates["WARNING"]), max(rates["INFO"])
    print(f"  warnings only: {quiet:,.0f} msg/s; a JSON line per message: {logged:,.0f} msg/s = "
          f"{logged / quiet:.0%} of the quiet rate (best of {ROUNDS} each)")


if __name__ == "__main__":
    main()
