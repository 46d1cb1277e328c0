"""A round's summary over 1,000,000 answers, against ceilings measured in the same run.

Data: the water-access example, 125,000 sessions of one round open to three communities, with
8 answers each (choice, multi, yes/no, number, text; profile questions gender and age group,
and the community: three dimensions), written with COPY. Ceilings: `SELECT count(*) FROM
answers` (one pass over the table) and a single `GROUP BY question_id, value` over it, the
least any summary must read. heard: `summarise()`, i.e. every count, multi element and number
statistic (with the median), overall and by each dimension; then the release: the same counts,
the per-community scopes, joint suppression and its linear-program audit (surveys/release.py).
Goal: the release under 2 s on PostgreSQL.

Environment: BENCH_DATABASE_URL (default: database heard_bench on the local PostgreSQL, as
bench/pipeline.py; this benchmark keeps to its own schema there), BENCH_SUMMARY_ANSWERS
(default 1000000).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.pipeline import DATABASE_URL as BENCH_DATABASE_URL
from bench.pipeline import ROOT, create_database
from surveys import catalog
from surveys.database import get_engine, migrate, session_scope
from surveys.release import cut
from surveys.summaries import responses_per_day, summarise
from surveys.tables import Base, Round
from surveys.validation import load_survey

ANSWERS = int(os.environ.get("BENCH_SUMMARY_ANSWERS", "1000000"))
SCHEMA = "bench_summary"  # its own schema: other benchmarks on heard_bench keep their tables
DATABASE_URL = BENCH_DATABASE_URL if not BENCH_DATABASE_URL.startswith("postgresql") else (
    f"{BENCH_DATABASE_URL}{'&' if '?' in BENCH_DATABASE_URL else '?'}"
    f"options=-csearch_path%3D{SCHEMA}")
PER_SESSION = 8
SMALL_ROUND = 194  # the attacked round: 194 people in three communities
START = datetime(2025, 3, 1, tzinfo=UTC)
GENDERS = ["female", "male", "other", "prefer_not_to_say"]
AGES = ["under_18", "age_18_29", "age_30_44", "age_45_59", "age_60_plus"]
SOURCES = ["tap_home", "public_tap", "tubewell", "well", "surface", "vendor", "other"]
COMMUNITIES = ["kibera", "mathare", "korail"]  # the round is open to all: a third dimension
PROBLEMS = ["dirty", "salty", "far", "cost", "queues", "safety", "none"]


def main() -> None:
    create_database()
    if DATABASE_URL != BENCH_DATABASE_URL:
        with get_engine(BENCH_DATABASE_URL).begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    migrate(DATABASE_URL)
    database = DATABASE_URL.split("+")[0].split(":")[0]
    sessions = max(1, ANSWERS // PER_SESSION)
    began = time.perf_counter()
    round_id = generate(sessions)
    generated = time.perf_counter() - began
    print(f"summary benchmark on {database}: {sessions * PER_SESSION:,} answers in "
          f"{sessions:,} sessions of one round (generated with "
          f"{'COPY' if database == 'postgresql' else 'executemany'} in {generated:.1f}s)")
    count_all, group_by = ceilings(DATABASE_URL)
    print(f"  ceiling: SELECT count(*) FROM answers: {count_all:.3f}s; "
          f"one GROUP BY question_id, value: {group_by:.3f}s")
    summary = None

    def run(db: Any) -> None:
        nonlocal summary
        summary = summarise(db, round_id)

    heard = best(run)
    assert summary is not None and summary.participants == sessions
    print(f"  summarise(): {heard:.3f}s (best of 3; by {', '.join(summary.dimensions)}) = "
          f"{heard / group_by:.1f}x one GROUP BY, {heard / count_all:.0f}x count(*); "
          f"goal < 2s: {'met' if heard < 2 else 'NOT met'}")
    timings: dict[str, float] = {}

    def release(db: Any) -> None:
        began = time.perf_counter()
        found = summarise(db, round_id)
        starts = responses_per_day(db, round_id)
        counted = time.perf_counter()
        _, audit = cut(found, starts)
        timings.update(count=counted - began, total=time.perf_counter() - began,
                       audit=audit["seconds"], programs=audit["linear_programs"],
                       unknowns=audit["unknowns"])

    best(release)
    print(f"  release (counts + joint suppression + audit): {timings['total']:.3f}s = "
          f"{timings['total'] / group_by:.1f}x one GROUP BY (counting {timings['count']:.3f}s, "
          f"the model {timings['total'] - timings['count'] - timings['audit']:.3f}s); the audit "
          f"{timings['audit']:.3f}s ({timings['audit'] / timings['total']:.0%} of it: "
          f"{timings['programs']:.0f} linear programs over {timings['unknowns']:.0f} unknowns); "
          f"goal < 2s: {'met' if timings['total'] < 2 else 'NOT met'}")
    small = generate(SMALL_ROUND)  # where cells are small and the audit does the work
    count_small = best(lambda db: summarise(db, small))
    round_id = small
    best(release)
    print(f"  a {SMALL_ROUND}-person round: release {timings['total']:.3f}s = "
          f"{timings['total'] / count_small:.1f}x its summarise(); the audit "
          f"{timings['audit']:.3f}s ({timings['audit'] / timings['total']:.0%}: "
          f"{timings['programs']:.0f} linear programs over {timings['unknowns']:.0f} unknowns)")
    if DATABASE_URL != BENCH_DATABASE_URL:  # a million rows are not worth keeping
        get_engine(DATABASE_URL).dispose()
        with get_engine(BENCH_DATABASE_URL).begin() as connection:
            connection.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))


def ceilings(database_url: str) -> tuple[float, float]:
    """Seconds of `SELECT count(*) FROM answers` and of one GROUP BY question_id, value."""
    count_all = best(lambda db: db.execute(text("SELECT count(*) FROM answers")).scalar(),
                     database_url=database_url)
    group_by = best(lambda db: db.execute(text(
        "SELECT question_id, CAST(value AS TEXT), count(*) FROM answers "
        "GROUP BY 1, 2")).all(), database_url=database_url)
    return count_all, group_by


def best(work: Callable[[Any], Any], times: int = 3, database_url: str | None = None) -> float:
    """The fastest of `times` runs, each in its own transaction (warm caches, as in use)."""
    results = []
    for _ in range(times):
        with session_scope(database_url or DATABASE_URL) as db:
            began = time.perf_counter()
            work(db)
            results.append(time.perf_counter() - began)
    return min(results)


def generate(sessions: int) -> int:
    """A fresh round of `sessions` people with 8 answers each; returns the round id."""
    engine = get_engine(DATABASE_URL)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    with session_scope(DATABASE_URL) as db:
        survey = catalog.register(db, load_survey(ROOT / "surveys" / "examples" /
                                                  "water-access.yaml"))
        round_row = Round(survey_pk=survey.id, community=None, status="closed")  # all
        db.add(round_row)
        db.flush()
        survey_pk, round_id = survey.id, round_row.id
    rng = random.Random(8)
    now = START.isoformat()
    write("contacts", ["id", "channel", "address", "language", "community", "profile",
                       "consent", "opted_out", "created_at"],
          ((n, "sms", f"+2547{n:08d}", rng.choice(["en", "sw", "bn"]),
            rng.choice(COMMUNITIES), "{}", True, False, now) for n in range(1, sessions + 1)))
    write("sessions", ["id", "contact_id", "survey_pk", "round_id", "status", "state",
                       "started_at", "updated_at", "completed_at"],
          ((n, n, survey_pk, round_id, "completed", '{"lang": "en"}', now, now, now)
           for n in range(1, sessions + 1)))
    write("answers", ["id", "session_id", "question_id", "value", "raw", "skipped",
                      "answered_at"], _answers(sessions, rng))
    with engine.begin() as connection:
        for table in ("contacts", "sessions", "answers"):
            connection.execute(text(f"ANALYZE {table}"))
    return round_id


def _answers(sessions: int, rng: random.Random) -> Iterator[Sequence[Any]]:
    number = 0
    for session in range(1, sessions + 1):
        at = (START + timedelta(minutes=session % 20_000)).isoformat()
        source = rng.choice(SOURCES)
        minutes = None if source == "tap_home" else rng.randint(0, 120)
        values: list[tuple[str, Any]] = [
            ("gender", rng.choice(GENDERS)), ("age_group", rng.choice(AGES)),
            ("source", source), ("fetch_minutes", minutes),
            ("daily", rng.choice(["yes", "no"])),
            ("problems", sorted(rng.sample(PROBLEMS, rng.randint(1, 3)))),
            ("comment", rng.choice([None, "the pump is broken", "water is salty"])),
            ("source_other", "rain" if source == "other" else None)]
        for question_id, value in values:
            number += 1
            yield (number, session, question_id, json.dumps(value), str(value), value is None,
                   at)


def write(table: str, columns: list[str], rows: Iterator[Sequence[Any]]) -> None:
    """COPY on PostgreSQL, executemany elsewhere."""
    engine = get_engine(DATABASE_URL)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                               list(rows))
        raw.commit()
    finally:
        raw.close()


if __name__ == "__main__":
    main()
