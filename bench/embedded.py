"""The embedded default under load: `heard serve` with nothing configured (SQLite, the embedded
Redis and its one worker: what `make run` runs) beside the same command on PostgreSQL + Redis.

CLIENTS people at once each go through the simulator's conversation (POST /api/v1/simulate,
each message sent once the last is answered), from the first message to the last one processed
and its replies written. Then everything is counted: every message stored and processed with
its replies, as many replies on SQLite as on PostgreSQL, and no "database is locked" in the
server's output; anything else fails the benchmark. Goal: SQLite >= 50 % of PostgreSQL's rate.

Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (see bench/pipeline.py), BENCH_PEOPLE (people
in all, default 400).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from redis import Redis
from sqlalchemy import func, select

from bench import http_load
from bench.pipeline import (
    CONVERSATION,
    DATABASE_URL,
    REDIS_URL,
    create_database,
    reset,
    server,
)
from surveys.database import get_engine, migrate, session_scope
from surveys.tables import InboxMessage, OutboxMessage

CLIENTS = 50
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "400"))
GOAL = 0.5
PORT = 8789
SETTLE_SECONDS = 300
LOCKED = b"database is locked"


def conversations(prefix: str) -> list[list[bytes]]:
    return [[http_load.post_json("/api/v1/simulate", {
        "survey": "water-access", "address": f"{prefix}{person}", "text": text,
        "id": f"{prefix}{person}-{turn}"}) for turn, text in enumerate(CONVERSATION)]
        for person in range(PEOPLE)]


def end_to_end(env: dict[str, str], database_url: str, workers: int | None,
               log: Path) -> tuple[float, int, float]:
    """(messages per second from the first sent to the last processed, replies written, the
    webhooks' p99 answer time in s) through `heard serve` with `env`."""
    sequences = conversations("e")
    count = sum(len(sequence) for sequence in sequences)
    with server(PORT, env, workers=workers, log=log) as port:
        http_load.run_sequences("127.0.0.1", port, conversations("w")[:CLIENTS], CLIENTS)
        settle(database_url, len(CONVERSATION) * CLIENTS, "w")  # warm: the worker is up
        began = time.perf_counter()
        _, answers = http_load.run_sequences("127.0.0.1", port, sequences, CLIENTS)
        settle(database_url, count, "e")
        elapsed = time.perf_counter() - began
    locked = log.read_bytes().count(LOCKED)
    if locked:
        raise SystemExit(f"embedded benchmark: {locked} 'database is locked' in {log}")
    with session_scope(database_url) as db:
        replies = db.scalar(select(func.count()).select_from(OutboxMessage).join(
            InboxMessage, OutboxMessage.inbox_id == InboxMessage.id).where(
            InboxMessage.provider_id.like("e%"))) or 0
    get_engine(database_url).dispose()
    return count / elapsed, replies, sorted(answers)[int(len(answers) * 0.99)]


def settle(database_url: str, expected: int, prefix: str) -> None:
    """Wait until the `expected` messages whose ids start with `prefix` are all processed;
    fails loudly when one is missing or they stop being processed."""
    like = InboxMessage.provider_id.like(f"{prefix}%")
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with session_scope(database_url) as db:
            stored = db.scalar(select(func.count()).select_from(InboxMessage).where(like))
            waiting = db.scalar(select(func.count()).select_from(InboxMessage).where(
                like, InboxMessage.processed_at.is_(None)))
        if stored != expected:
            raise SystemExit(f"embedded benchmark lost messages: {stored} of {expected} stored")
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"embedded benchmark: {waiting} of {expected} messages still "
                             f"unprocessed after {SETTLE_SECONDS} s")
        time.sleep(0.1)


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    reset(Redis.from_url(REDIS_URL))
    work = Path(tempfile.mkdtemp(prefix="heard-embedded-"))
    unset = {"DATABASE_URL", "REDIS_URL", "HEARD_SIMULATOR"}  # nothing configured
    embedded = {name: value for name, value in os.environ.items() if name not in unset} | {
        "HEARD_DATA_DIR": str(work / "data")}
    sqlite_url = f"sqlite:///{(work / 'data' / 'heard.sqlite3').resolve()}"
    configured = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                               "HEARD_DATA_DIR": str(work / "pg"), "HEARD_SIMULATOR": "open"}
    count = PEOPLE * len(CONVERSATION)
    print(f"embedded default (heard serve, nothing configured) beside PostgreSQL + Redis: "
          f"{CLIENTS} clients, {PEOPLE} people, {count:,} simulator messages")
    postgres, postgres_replies, postgres_p99 = end_to_end(configured, DATABASE_URL, 1,
                                                          work / "pg.log")
    print(f"  PostgreSQL + Redis, heard serve --workers 1: {postgres:,.0f} msg/s end to end, "
          f"{postgres_replies:,} replies, webhook p99 {postgres_p99 * 1000:,.0f} ms")
    sqlite, sqlite_replies, sqlite_p99 = end_to_end(embedded, sqlite_url, None,
                                                    work / "sqlite.log")
    print(f"  SQLite + embedded Redis, heard serve: {sqlite:,.0f} msg/s end to end = "
          f"{sqlite / postgres:.0%} of PostgreSQL's (goal {GOAL:.0%}: "
          f"{'met' if sqlite >= GOAL * postgres else 'NOT met'}), {sqlite_replies:,} replies, "
          f"webhook p99 {sqlite_p99 * 1000:,.0f} ms; no 'database is locked'")
    if sqlite_replies != postgres_replies or not sqlite_replies:
        raise SystemExit(f"embedded benchmark: {sqlite_replies} replies on SQLite, "
                         f"{postgres_replies} on PostgreSQL, for the same messages")
    reset(Redis.from_url(REDIS_URL))


if __name__ == "__main__":
    main()
