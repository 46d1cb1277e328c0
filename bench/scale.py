"""Scale: a launch to 1,000,000 contacts, a summary over 10,000,000 answers, and their CSV and
XLSX exports, against ceilings measured in the same run.

`python -m bench scale [--answers 10000000] [--contacts 1000000]`. The answers are
bench/history.py's (kept between runs; the database bench/growth.py uses for that size): one
round of the export benchmark's ten-question survey, a session per contact. The launch runs on
heard_growth_empty, to CONTACTS new contacts of one community and to a tenth as many, each in
a child process so that its peak resident memory (VmHWM) is its own: flat memory is the same
peak for both. Ceilings: the launch against PostgreSQL COPY of as many rows as it writes
(bench/launch.py); the summary against one count(*) and one GROUP BY over the answers
(bench/summary.py); each export against COPY of the answers joined to their sessions and
contacts (bench/export.py). Goals: launch < 60 s, summary < 10 s, exports < 200 MB peak, XLSX
≥ 25% of COPY's answers per second.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from redis import Redis
from sqlalchemy import text

from bench import history
from bench.export import GOAL_MB, GOAL_RATIO, copy_ceiling, export_in_child, peak_rss_kb
from bench.launch import copy_ceiling as launch_copy_ceiling
from bench.pipeline import ROOT
from bench.summary import best, ceilings
from surveys.database import get_engine
from surveys.summaries import responses_per_day, summarise

LAUNCH_GOAL, SUMMARY_GOAL = 60.0, 10.0


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scale")
    parser.add_argument("--answers", type=int, default=10_000_000, help="answers summarised "
                        "and exported (bench/history.py's history of that size)")
    parser.add_argument("--messages", type=int, default=None,
                        help="the history's messages (default: as many as answers)")
    parser.add_argument("--contacts", type=int, default=1_000_000, help="contacts launched to")
    parser.add_argument("--formats", default="csv xlsx", help="export formats")
    parser.add_argument("--skip", default="",
                        help="parts to leave out, comma-separated: launch,summary,export")
    return parser.parse_args(argv)


def launch_in_child(contacts: int) -> dict[str, Any]:
    """A round launched to `contacts` new contacts of its own community on the empty
    database, in a fresh process: its seconds, invitations and peak memory."""
    url = history.EMPTY_URL
    history.prepared(url, None)
    community = f"scale-{contacts}"
    with get_engine(url).begin() as connection:
        first = history.contacts(connection, contacts, f"{community}-", community)
        connection.execute(text("ANALYZE contacts"))
    round_id = history.new_round(url, community, "open", community)
    result = subprocess.run([sys.executable, "-m", "bench.scale", "launch", str(round_id)],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    measured["first_contact"] = first
    return measured


def launch_child(round_id: int) -> None:
    """The measured side of `launch_in_child`: one JSON line."""
    from worker import rounds
    from worker.queues import enqueue_outbound

    redis = Redis.from_url(history.REDIS_URL)
    baseline = peak_rss_kb()
    began = time.perf_counter()
    invited = rounds.launch(history.EMPTY_URL, redis, round_id, enqueue_outbound)
    seconds = time.perf_counter() - began
    redis.flushdb()
    print(json.dumps({"seconds": seconds, "invited": invited, "baseline_mb": baseline / 1024,
                      "peak_mb": peak_rss_kb() / 1024}))


def scale_launch(contacts: int) -> None:
    small = launch_in_child(max(1, contacts // 10))
    big = launch_in_child(contacts)
    ceiling = launch_copy_ceiling(big["invited"] * 3, history.EMPTY_URL)
    history.emptied(history.EMPTY_URL)
    seconds = big["seconds"]
    print(f"  launch to {big['invited']:,} contacts: {seconds:.1f}s "
          f"({big['invited'] / seconds:,.0f} contacts/s; goal < {LAUNCH_GOAL:.0f}s: "
          f"{'met' if seconds < LAUNCH_GOAL else 'MISSED'}) = {seconds / ceiling:.1f}× COPY of "
          f"as many rows into a bare table ({ceiling:.1f}s)")
    print(f"  launch peak memory: {big['peak_mb']:.0f} MB to {big['invited']:,} contacts, "
          f"{small['peak_mb']:.0f} MB to {small['invited']:,} (after imports "
          f"{big['baseline_mb']:.0f} MB): {big['peak_mb'] / small['peak_mb']:.2f}× for "
          f"{big['invited'] / small['invited']:.0f}× the contacts")


def scale_summary(database_url: str, round_id: int, answers: int) -> None:
    count_all, group_by = ceilings(database_url)

    def work(db: Any) -> None:
        summarise(db, round_id)
        responses_per_day(db, round_id)

    seconds = best(work, times=2, database_url=database_url)
    print(f"  summary of {answers:,} answers (summarise + responses per day): {seconds:.1f}s "
          f"(goal < {SUMMARY_GOAL:.0f}s: {'met' if seconds < SUMMARY_GOAL else 'MISSED'}) = "
          f"{seconds / group_by:.1f}× one GROUP BY ({group_by:.1f}s), "
          f"{seconds / count_all:.0f}× count(*) ({count_all:.2f}s)")


def scale_exports(database_url: str, round_id: int, formats: list[str]) -> None:
    copy_rate = 0.0
    for ordered in (False, True):
        seconds, lines = copy_ceiling(round_id, ordered, database_url)
        copy_rate = max(copy_rate, lines / seconds)
    print(f"  ceiling: COPY (answers ⋈ sessions ⋈ contacts) TO STDOUT, the faster of unordered "
          f"and by session: {copy_rate:,.0f} answers/s")
    for format in formats:
        measured = export_in_child(round_id, format, database_url)
        answers = measured["rows"] * history.ANSWERS_PER_SESSION
        rate = answers / measured["seconds"]
        fast = "met" if rate / copy_rate >= GOAL_RATIO else "MISSED"
        small = "met" if measured["peak_mb"] < GOAL_MB else "MISSED"
        print(f"  export --format {format}: {measured['rows']:,} rows ({answers:,} answers) in "
              f"{measured['seconds']:.1f}s = {rate:,.0f} answers/s = {rate / copy_rate:.0%} of "
              f"COPY (goal ≥ {GOAL_RATIO:.0%}: {fast}); peak memory {measured['peak_mb']:.0f} MB "
              f"(goal < {GOAL_MB} MB: {small}); {measured['bytes'] / 1e6:,.0f} MB written")


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    skip = options.skip.split(",")
    sizes = history.Sizes(options.answers, options.answers if options.messages is None
                          else options.messages)
    print(f"scale benchmark: launch to {options.contacts:,} contacts; summary and exports of "
          f"{sizes.answers:,} answers")
    if "launch" not in skip:
        scale_launch(options.contacts)
    if "summary" in skip and "export" in skip:
        return
    round_id, generated = history.prepared(sizes.database_url, sizes)
    if generated:
        print(f"  history generated: {sizes.described()} in {generated:.0f}s")
    if "summary" not in skip:
        scale_summary(sizes.database_url, round_id, sizes.answers)
    if "export" not in skip:
        scale_exports(sizes.database_url, round_id, options.formats.split())


if __name__ == "__main__":
    if sys.argv[1:2] == ["launch"]:
        launch_child(int(sys.argv[2]))
    else:
        main()
