"""What the per-message log lines (HEARD_LOG_LEVEL=INFO, JSON) cost end to end, against the
same run with only warnings logged: `python -m bench logs`.

Each round drains the same conversations with one `heard worker --burst` (bench/pipeline.py's
end to end), alternating quiet and JSON so a busy machine slows both alike; the figure is the
rate with JSON lines as a share of the quiet rate. Environment as bench/pipeline.py's.
"""

from __future__ import annotations

import os
from pathlib import Path

from redis import Redis

from bench.pipeline import DATABASE_URL, MESSAGES, REDIS_URL, create_database, end_to_end_rate
from surveys.database import migrate

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 2


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench")}
    print(f"log lines benchmark: {MESSAGES} messages end to end, one worker, {ROUNDS} rounds")
    rates: dict[str, list[float]] = {"WARNING": [], "INFO": []}
    for _ in range(ROUNDS):
        for level in rates:
            rate, _, _ = end_to_end_rate(redis, env | {"HEARD_LOG_LEVEL": level,
                                                       "HEARD_LOG_FORMAT": "json"}, 1, MESSAGES)
            rates[level].append(rate)
            print(f"  {level}: {rate:,.0f} msg/s", flush=True)
    quiet, logged = max(rates["WARNING"]), max(rates["INFO"])
    print(f"  warnings only: {quiet:,.0f} msg/s; a JSON line per step: {logged:,.0f} msg/s = "
          f"{logged / quiet:.0%} of the quiet rate (best of {ROUNDS} each)")


if __name__ == "__main__":
    main()
