"""Launching a round to 100,000 contacts: every invitation queued (goal < 10 s).

Ceilings in the same run: PostgreSQL COPY of as many rows as the launch writes (one session and
two outbox rows per contact) into a bare table, which is the fastest way those rows could reach
the database; and COPY of the launch's own rows into the real tables (their indexes and foreign
keys; rolled back), which is what the database itself must do on one connection.
Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (see bench/pipeline.py), BENCH_CONTACTS.
"""

from __future__ import annotations

import os
import time
from typing import cast

from redis import Redis
from sqlalchemy import Table, text

from bench.pipeline import DATABASE_URL, REDIS_URL, create_database, reset
from surveys import catalog
from surveys.database import get_engine, migrate, session_scope
from surveys.tables import OutboxMessage, SurveySession
from worker import rounds
from worker.queues import OUTBOUND, enqueue_outbound

CONTACTS = int(os.environ.get("BENCH_CONTACTS", "100000"))


def seed_contacts(count: int) -> None:
    raw = get_engine(DATABASE_URL).raw_connection()
    cursor = raw.cursor()
    languages = ("en", "sw", "bn")
    with cursor.copy("COPY contacts (channel, address, language, community, profile, consent, "
                     "opted_out, created_at) FROM STDIN") as copy:
        for number in range(count):
            copy.write_row(("sms", f"+2547{number:08d}", languages[number % 3], "bench", "{}",
                            True, False, "2026-01-01T00:00:00Z"))
    raw.commit()
    raw.close()


def copy_ceiling(rows: int, database_url: str = DATABASE_URL) -> float:
    """Seconds PostgreSQL needs to COPY `rows` outbox-sized rows into a scratch table."""
    engine = get_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS bench_copy "
                                "(a bigint, b text, c text, d jsonb)"))
    raw = engine.raw_connection()
    cursor = raw.cursor()
    body = '{"text": "Where do you get water?", "kind": "question"}'
    began = time.perf_counter()
    with cursor.copy("COPY bench_copy (a, b, c, d) FROM STDIN") as copy:
        for number in range(rows):
            copy.write_row((number, "+254700000000", "Where do you get water?", body))
    raw.commit()
    elapsed = time.perf_counter() - began
    cursor.execute("DROP TABLE bench_copy")
    raw.commit()
    raw.close()
    return elapsed


def tables_ceiling(database_url: str = DATABASE_URL, where: str = "true") -> float:
    """Seconds PostgreSQL needs to COPY the launch's sessions and outbox rows (those `where`
    says) into their own tables again (new ids, every index and foreign key checked), then
    rolled back."""
    raw = get_engine(database_url).raw_connection()
    cursor = raw.cursor()
    copied: list[tuple[str, bytes]] = []
    for table in (cast(Table, SurveySession.__table__), cast(Table, OutboxMessage.__table__)):
        names = [column.name for column in table.columns if column.name != "id"]
        columns = ", ".join(names)
        read = ", ".join("gen_random_uuid()::text" if name == "uuid" else name  # (unique)
                         for name in names)
        with cursor.copy(f"COPY (SELECT {read} FROM {table.name} WHERE {where}) TO STDOUT"
                         ) as copy:
            copied.append((f"COPY {table.name} ({columns}) FROM STDIN", b"".join(copy)))
    began = time.perf_counter()
    for statement, data in copied:
        with cursor.copy(statement) as copy:
            copy.write(data)
    elapsed = time.perf_counter() - began
    raw.rollback()
    raw.close()
    return elapsed


def with_contacts(count: int) -> Redis:
    """The benchmark's database emptied (migrated, created on first use) with `count` contacts
    of community "bench"; its Redis, flushed."""
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    reset(redis)
    seed_contacts(count)
    return redis


def main() -> None:
    redis = with_contacts(CONTACTS)
    with session_scope(DATABASE_URL) as db:
        survey = catalog.latest(db, "water-access")
        assert survey is not None  # reset() registered it
        round_id = rounds.create_round(db, survey, "bench").id
    began = time.perf_counter()
    invited = rounds.launch(DATABASE_URL, redis, round_id, enqueue_outbound)
    elapsed = time.perf_counter() - began
    jobs = redis.llen(f"rq:queue:{OUTBOUND}")
    ceiling = copy_ceiling(invited * 3)
    tables = tables_ceiling()
    print(f"round launch to {invited:,} contacts: {elapsed:.1f} s (goal < 10 s), "
          f"{invited / elapsed:,.0f} contacts/s, {jobs:,} send jobs queued")
    print(f"  ceiling: COPY of the same {invited * 3:,} rows: {ceiling:.1f} s "
          f"→ launch takes {elapsed / ceiling:.1f}× the ceiling")
    print(f"  ceiling: COPY of its own rows into sessions and outbox (indexes, foreign keys): "
          f"{tables:.1f} s → launch takes {elapsed / tables:.1f}× that ceiling")
    reset(redis)


if __name__ == "__main__":
    main()
