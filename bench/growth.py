"""Growth: heard on a database with a year of history against the same work on an empty one.

`python -m bench growth [--answers 10000000] [--messages N]`: the history (bench/history.py:
A/10 contacts, A answers, N inbound and N outbound messages over a year; kept between runs)
in one database, nothing in another, both measured alike in the same run, twice each
(alternating; the better figure counts): the end-to-end rate (bench/pipeline.py's: inbox row →
engine → answers, state, outbox → send jobs; one worker; conversations of people who have
history), a round's launch (LAUNCH new contacts of their own community) and a summary
(summarise() and responses per day of a round of SUMMARY answers). The ratio is the full
database's figure over the empty one's (goal ≥ 80%). Then EXPLAIN of the hot queries on the
full database: a plan that reads the history (a scan growing with it) is named.

Environment: BENCH_GROWTH_SERVER, BENCH_GROWTH_REDIS_URL (see bench/history.py).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from redis import Redis
from sqlalchemy import text

from bench import history
from bench.pipeline import ROOT, end_to_end_rate, worker_startup
from bench.summary import best
from surveys.database import get_engine
from surveys.summaries import responses_per_day, summarise
from worker import rounds
from worker.queues import enqueue_outbound

GOAL = 0.80
LAUNCH = 20_000
SUMMARY = 100_000
CONVERSATIONS = 4_000  # messages end to end: 500 people's eight-message conversations


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench growth")
    parser.add_argument("--answers", type=int, default=10_000_000,
                        help="answers in the history (contacts: a tenth of it)")
    parser.add_argument("--messages", type=int, default=None,
                        help="inbound (and as many outbound) messages in the history "
                             "(default: as many as answers)")
    parser.add_argument("--launch", type=int, default=LAUNCH, help="contacts launched")
    parser.add_argument("--summary", type=int, default=SUMMARY, help="answers summarised")
    parser.add_argument("--end-to-end", type=int, default=CONVERSATIONS,
                        help="messages processed end to end")
    return parser.parse_args(argv)


def environment(database_url: str) -> dict[str, str]:
    """What a worker of this benchmark runs with."""
    return os.environ | {"DATABASE_URL": database_url, "REDIS_URL": history.REDIS_URL,
                         "HEARD_DATA_DIR": str(ROOT / "data" / "bench"),
                         "HEARD_SIMULATOR": "open"}


def launch_seconds(database_url: str, redis: Redis, count: int, run: int) -> float:
    """A round of community launch-RUN launched to its `count` new contacts."""
    community = f"launch-{run}"
    with get_engine(database_url).begin() as connection:
        history.contacts(connection, count, f"{community}-", community)
        connection.execute(text("ANALYZE contacts"))  # as after an import
    round_id = history.new_round(database_url, community, "open", f"growth-launch-{run}")
    began = time.perf_counter()
    invited = rounds.launch(database_url, redis, round_id, enqueue_outbound)
    seconds = time.perf_counter() - began
    assert invited == count, (invited, count)
    return seconds


def summary_seconds(database_url: str, answers: int, run: int) -> float:
    """summarise() and responses_per_day() of a new round of `answers` answers, best of 3."""
    round_id = history.new_round(database_url, None, "closed", f"growth-summary-{run}")
    with get_engine(database_url).begin() as connection:
        history.respondents(connection, round_id, max(1, answers // 10), f"summary-{run}-")
        connection.execute(text("ANALYZE contacts; ANALYZE sessions; ANALYZE answers"))

    def work(db: Any) -> None:
        summarise(db, round_id)
        responses_per_day(db, round_id)

    return best(work, database_url=database_url)


def measure(database_url: str, options: argparse.Namespace, run: int) -> dict[str, float]:
    """The three figures on one database, which is left as it was found."""
    redis = Redis.from_url(history.REDIS_URL)
    marked = history.marks(database_url)
    try:
        redis.flushdb()
        startup = worker_startup(environment(database_url))
        rate, worker_cpu, _ = end_to_end_rate(
            redis, environment(database_url), 1, options.end_to_end, database_url, prefix="g")
        redis.flushdb()
        launched = launch_seconds(database_url, redis, options.launch, run)
        summarised = summary_seconds(database_url, options.summary, run)
    finally:
        redis.flushdb()
        history.restore(database_url, marked)
        with get_engine(database_url).connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            for table in history.MARKED:
                connection.execute(text(f"VACUUM ANALYZE {table}"))
    return {"rate": rate, "startup": startup, "worker_cpu": worker_cpu,
            "launch": launched, "summary": summarised}


def better(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's better value over the runs (the least disturbed by other work)."""
    return {name: (max if name == "rate" else min)(run[name] for run in runs)
            for name in runs[0]}


def verdict(ratio: float) -> str:
    return f"{ratio:.0%} of empty's (goal ≥ {GOAL:.0%}: {'met' if ratio >= GOAL else 'MISSED'})"


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    sizes = history.Sizes(options.answers, options.answers if options.messages is None
                          else options.messages)
    history.prepared(history.EMPTY_URL, None)
    _, generated = history.prepared(sizes.database_url, sizes)
    print(f"growth benchmark: {sizes.described()} "
          f"({f'generated in {generated:.0f}s' if generated else 'kept from an earlier run'}) "
          f"against an empty database")
    empty: list[dict[str, float]] = []
    full: list[dict[str, float]] = []
    for run in range(2):
        empty.append(measure(history.EMPTY_URL, options, run))
        full.append(measure(sizes.database_url, options, run))
    e, f = better(empty), better(full)
    print(f"  end to end, 1 worker, {options.end_to_end:,} messages (the worker's start-up, "
          f"included: empty {e['startup']:.1f}s, full {f['startup']:.1f}s): "
          f"empty {e['rate']:,.0f} msg/s ({e['worker_cpu']:,.0f} µs worker CPU per message), "
          f"full {f['rate']:,.0f} msg/s ({f['worker_cpu']:,.0f} µs) = "
          f"{verdict(f['rate'] / e['rate'])}")
    print(f"  launch to {options.launch:,} contacts: empty {e['launch']:.2f}s, full "
          f"{f['launch']:.2f}s = {verdict(e['launch'] / f['launch'])}")
    print(f"  summary of {options.summary:,} answers (summarise + responses per day): empty "
          f"{e['summary']:.3f}s, full {f['summary']:.3f}s = "
          f"{verdict(e['summary'] / f['summary'])}")
    for name, plan in plans(sizes.database_url).items():
        print(f"  plan, {name}: {plan}")


def _plan_of(connection: Any, sql: str) -> str:
    """The plan's nodes in one line, with the rows each read."""
    lines = connection.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")).scalars()
    return " / ".join(line.strip().removeprefix("->  ") for line in lines
                      if ("->" in line or "Rows Removed" in line or not line.startswith(" "))
                      and not line.startswith("Planning"))


# The hot queries as the worker, a launch and a summary send them (one contact's, one round's).
HOT: dict[str, Callable[[int], str]] = {
    "worker drain (claim unprocessed inbox rows)": lambda _: (
        "SELECT id FROM inbox WHERE processed_at IS NULL AND outcome IS NULL "
        "ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED"),
    "worker: a contact's pending messages in order": lambda _: (
        "SELECT id FROM inbox WHERE channel = 'simulator' AND address IN ('g1', 'g2') "
        "AND processed_at IS NULL AND id <= 2147483647 ORDER BY id"),
    "worker: a contact's sessions in open rounds": lambda _: (
        "SELECT sessions.id FROM sessions LEFT JOIN rounds ON rounds.id = sessions.round_id "
        "WHERE sessions.contact_id IN (1, 2) AND (sessions.round_id IS NULL "
        "OR rounds.status = 'open') ORDER BY sessions.id"),
    "launch: the next chunk of a community's reachable contacts (kibera: a third)": lambda _: (
        "SELECT id FROM contacts WHERE consent IS true AND opted_out IS false "
        "AND unreachable IS NULL AND community = 'kibera' AND id > 0 ORDER BY id LIMIT 5000"),
    "summary: the round's participants": lambda round_id: (
        f"SELECT count(*) FROM sessions WHERE round_id = {round_id}"),
}


def plans(database_url: str) -> dict[str, str]:
    round_id = history.history_round(database_url)
    with get_engine(database_url).connect() as connection:
        found = {name: _plan_of(connection, sql(round_id)) for name, sql in HOT.items()}
        connection.rollback()
    return found


if __name__ == "__main__":
    main()
