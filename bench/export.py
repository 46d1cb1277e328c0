"""Round export speed and memory, against PostgreSQL's own COPY of the same answers.

One run: generate BENCH_EXPORT_ANSWERS answers (default 1,000,000: 100k sessions × 10 questions
of every type) with COPY, then time the ceiling, `COPY (SELECT answers ⋈ sessions ⋈ contacts)
TO STDOUT` (one line per answer, nothing to reshape; unordered and by session, the faster one
counts), against heard's export of the round (one row per session, pseudonyms, multi 0/1
columns, formula defusing). Each export runs in a child process so its peak memory (VmHWM)
is its own. Goals: CSV at ≥ 25% of COPY's answers per second, peak memory < 200 MB.

Environment: BENCH_DATABASE_URL (default: database heard_bench, as bench/pipeline.py),
BENCH_EXPORT_ANSWERS, BENCH_EXPORT_FORMATS (default "csv jsonl xlsx").
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis

from bench.pipeline import DATABASE_URL, REDIS_URL, create_database, reset
from surveys import catalog
from surveys.database import get_engine, migrate, session_scope
from surveys.model import Survey
from surveys.tables import Round

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = int(os.environ.get("BENCH_EXPORT_ANSWERS", "1000000"))
FORMATS = os.environ.get("BENCH_EXPORT_FORMATS", "csv jsonl xlsx").split()
DATA_DIR = ROOT / "data" / "bench"
GOAL_RATIO, GOAL_MB = 0.25, 200


def bench_survey() -> Survey:
    """Ten questions: two of each kind that carries an answer."""
    def text(en: str) -> dict[str, str]:
        return {"en": en, "sw": f"{en} (sw)"}

    def choices(*values: str) -> list[dict]:
        return [{"value": value, "text": text(value.title())} for value in values]

    questions = []
    for n in (1, 2):
        questions += [
            {"id": f"choice{n}", "type": "choice", "text": text("Pick"),
             "choices": choices("tap", "well", "river", "other")},
            {"id": f"multi{n}", "type": "multi", "text": text("Pick any"),
             "choices": choices("dirty", "far", "cost", "queue", "broken")},
            {"id": f"number{n}", "type": "number", "text": text("How many?")},
            {"id": f"text{n}", "type": "text", "text": text("Tell us")},
            {"id": f"yesno{n}", "type": "yesno", "text": text("Yes or no?")}]
    return Survey.model_validate({"id": "bench-export", "languages": ["en", "sw"],
                                  "title": text("Bench"), "questions": questions})


def answer(question: dict, rng: random.Random) -> object:
    kind = question["type"]
    if kind == "choice":
        return rng.choice(question["choices"])["value"]
    if kind == "multi":
        values = [choice["value"] for choice in question["choices"]]
        return sorted(rng.sample(values, rng.randint(1, 3)), key=values.index)
    if kind == "number":
        return rng.randint(-5, 600)
    if kind == "yesno":
        return rng.choice(("yes", "no"))
    return rng.choice(("The pump is broken again", "=1+1", "far from the school", "ok"))


def generate(sessions: int) -> int:
    """Contacts, sessions and answers of one round, written with COPY; returns the round id."""
    survey = bench_survey()
    with session_scope(DATABASE_URL) as db:
        survey_pk = catalog.register(db, survey).id
        found = Round(survey_pk=survey_pk, community="bench", status="closed", code="bench-export")
        db.add(found)
        db.flush()
        round_id = found.id
    questions = [question.model_dump() for question in survey.questions]
    rng = random.Random(7)
    began = datetime(2024, 6, 1, tzinfo=UTC)
    raw = get_engine(DATABASE_URL).raw_connection()
    cursor = raw.cursor()
    with cursor.copy("COPY contacts (channel, address, language, community, profile, opted_out, "
                     "created_at) FROM STDIN") as copy:
        for number in range(1, sessions + 1):
            profile = {"gender": rng.choice("fmx"), "age": rng.choice(("18-29", "30-49", "50+"))}
            copy.write_row(("sms", f"+2547{number:08d}", rng.choice(("en", "sw")), "bench",
                            json.dumps(profile), False, began))
    with cursor.copy("COPY sessions (contact_id, survey_pk, round_id, status, state, started_at, "
                     "updated_at, completed_at) FROM STDIN") as session_copy:
        for number in range(1, sessions + 1):
            at = began + timedelta(seconds=number)
            state = {"v": 1, "status": "completed", "lang": "en", "current": None,
                     "answers": {q["id"]: answer(q, rng) for q in questions}}
            session_copy.write_row((number, survey_pk, round_id, "completed", json.dumps(state),
                                    at, at, at + timedelta(minutes=4)))
    with cursor.copy("COPY answers (session_id, question_id, value, raw, skipped, answered_at) "
                     "FROM STDIN") as answer_copy:
        for number in range(1, sessions + 1):
            at = began + timedelta(seconds=number)
            for question in questions:
                value = answer(question, rng)
                answer_copy.write_row((number, question["id"], json.dumps(value), str(value),
                                       False, at))
    raw.commit()
    cursor.execute("ANALYZE contacts; ANALYZE sessions; ANALYZE answers")
    raw.commit()
    raw.close()
    return round_id


def copy_ceiling(round_id: int, ordered: bool,
                 database_url: str = DATABASE_URL) -> tuple[float, int]:
    """Seconds and lines for PostgreSQL to COPY the round's answers, joined, to a client."""
    query = ("COPY (SELECT s.id, c.id, c.channel, c.language, c.community, c.profile, s.status, "
             "s.started_at, s.completed_at, a.question_id, a.value FROM answers a "
             "JOIN sessions s ON s.id = a.session_id JOIN contacts c ON c.id = s.contact_id "
             f"WHERE s.round_id = {int(round_id)}{' ORDER BY a.session_id' if ordered else ''}) "
             "TO STDOUT (FORMAT csv)")
    raw = get_engine(database_url).raw_connection()
    cursor = raw.cursor()
    lines = 0
    began = time.perf_counter()
    with tempfile.TemporaryFile() as sink, cursor.copy(query) as copy:
        for block in copy:
            sink.write(block)
            lines += bytes(block).count(b"\n")
    seconds = time.perf_counter() - began
    raw.rollback()
    raw.close()
    return seconds, lines


def export_in_child(round_id: int, format: str, database_url: str = DATABASE_URL) -> dict:
    """Run one export in a fresh process; its seconds, rows, bytes and peak memory."""
    env = os.environ | {"DATABASE_URL": database_url, "HEARD_DATA_DIR": str(DATA_DIR)}
    result = subprocess.run([sys.executable, "-m", "bench.export", "child", str(round_id), format],
                            env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def peak_rss_kb() -> int:
    """This process's peak resident memory. Linux's VmHWM belongs to this program alone;
    ru_maxrss also counts what the parent had resident when it forked this child."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(round_id: int, format: str) -> None:
    """The measured side: plan, stream and write the round, then report as one JSON line."""
    from surveys.exports import WRITERS, open_export
    from surveys.pseudonym import load_key
    from surveys.settings import get_settings

    settings = get_settings()
    baseline = peak_rss_kb()
    key = load_key(settings.pseudonym_key, settings.data_dir,
                   settings.resolved_database_url())
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"round.{format}"
        began = time.perf_counter()
        plan = open_export(settings.resolved_database_url(), round_id, key)
        if format == "xlsx":
            rows = WRITERS[format](plan, str(out))
        else:
            with out.open("w", encoding="utf-8", newline="") as handle:
                rows = WRITERS[format](plan, handle)
        seconds = time.perf_counter() - began
        size = out.stat().st_size
    peak = peak_rss_kb()
    print(json.dumps({"seconds": seconds, "rows": rows, "bytes": size,
                      "columns": len(plan.columns), "baseline_mb": baseline / 1024,
                      "peak_mb": peak / 1024}))


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    reset(Redis.from_url(REDIS_URL))
    questions = len(bench_survey().questions)
    sessions = max(1, ANSWERS // questions)
    print(f"export benchmark on PostgreSQL: {sessions:,} sessions × {questions} questions = "
          f"{sessions * questions:,} answers")
    began = time.perf_counter()
    round_id = generate(sessions)
    print(f"  generated with COPY in {time.perf_counter() - began:.1f}s")
    copy_rate = 0.0
    for ordered in (False, True):
        copy_seconds, lines = copy_ceiling(round_id, ordered)
        copy_rate = max(copy_rate, lines / copy_seconds)
        print(f"  ceiling: COPY (answers ⋈ sessions ⋈ contacts{' ORDER BY session' * ordered}) "
              f"TO STDOUT, csv: {lines:,} answers in {copy_seconds:.2f}s = "
              f"{lines / copy_seconds:,.0f} answers/s")
    print(f"  ratios below are against the faster COPY, {copy_rate:,.0f} answers/s")
    for format in FORMATS:
        measured = export_in_child(round_id, format)
        rate = sessions * questions / measured["seconds"]
        goal = ""
        if format == "csv":
            fast = "met" if rate / copy_rate >= GOAL_RATIO else "MISSED"
            small = "met" if measured["peak_mb"] < GOAL_MB else "MISSED"
            goal = f" (goal ≥ {GOAL_RATIO:.0%} of COPY: {fast}; < {GOAL_MB} MB: {small})"
        print(f"  heard export --format {format}: {measured['rows']:,} rows × "
              f"{measured['columns']} columns in {measured['seconds']:.2f}s = "
              f"{measured['rows'] / measured['seconds']:,.0f} rows/s, {rate:,.0f} answers/s = "
              f"{rate / copy_rate:.0%} of COPY; peak memory {measured['peak_mb']:.0f} MB "
              f"(after imports {measured['baseline_mb']:.0f} MB){goal}")
    reset(Redis.from_url(REDIS_URL))


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child(int(sys.argv[2]), sys.argv[3])
    else:
        main()
