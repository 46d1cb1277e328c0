"""Whole USSD sessions through the Africa's Talking callback: response times at half its max.

Ceiling, in the same run: uvicorn + FastAPI reading the same form and answering a question's
screen with no I/O (bench/echo_app.py). heard: `heard serve --workers 0` on the benchmark's
PostgreSQL and Redis (bench/pipeline.py), an open round of water-access. Each person dials in
(text ""), types the round's code on the keys, goes on from the intro, then answers every
question as AT posts it: all inputs so far joined by `*`, a long question's second page
turned with 98, a multiple choice as digits (13), the question in words as free text with a
star of its own. First as
fast as heard answers (its max throughput), then paced at half of the lower of that and the
ceiling, from SESSIONS_AT_ONCE concurrent sessions: p50 and p99 response times (goal: p99 <
100 ms). Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (bench/pipeline.py), BENCH_SESSIONS.
"""

from __future__ import annotations

import os

import httpx
from redis import Redis
from sqlalchemy import func, select

from bench import http_load
from bench.pipeline import (
    DATABASE_URL,
    HTTP_CONNECTIONS,
    REDIS_URL,
    ROOT,
    cpu_seconds,
    create_database,
    reset,
    server,
)
from bench.voice import GOAL_P99, percentile, server_pid
from surveys import catalog
from surveys.database import migrate, session_scope
from surveys.tables import SurveySession
from surveys.words import keypad_digits
from worker import rounds

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "600"))
SESSIONS_AT_ONCE = 200  # sessions in progress at once, each on its own connection
PORT = 8797
SECRET = "bench-ussd-secret-0123456789"
PATH = f"/ussd/africastalking/{SECRET}"
# on from the intro, consent yes, gender, age, source (its second page, then public tap),
# minutes to fetch, daily yes, on from "almost done", problems 1 and 3, a comment in words
# with a star
INPUTS = ["1", "1", "2", "2", "98", "2", "15", "1", "1", "13", "far*dirty"]


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    reset(redis)
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench"),
                        "HEARD_USSD_SECRET": SECRET}
    with session_scope(DATABASE_URL) as db:
        survey = catalog.latest(db, "water-access")
        assert survey is not None  # reset() registered it
        texts = texts_of([keypad_digits(rounds.create_round(db, survey, "bench").code or ""),
                          *INPUTS])
    before = os.getloadavg()[0]
    with server(PORT + 1, env, "bench.echo_app:app") as port:
        ceiling, _ = http_load.run_sequences("127.0.0.1", port, [
            session(texts, f"ATUid_ce{n}", n) for n in range(SESSIONS)], HTTP_CONNECTIONS)
    with server(PORT, env) as port:
        probe(port, texts)
        sessions = [session(texts, f"ATUid_{n:x}", n) for n in range(2 * SESSIONS)]
        http_load.run_sequences("127.0.0.1", port, sessions[:20], HTTP_CONNECTIONS)  # warm up
        serving = cpu_seconds(pid=server_pid(port))
        postgres = cpu_seconds("postgres")
        most, saturated = http_load.run_sequences("127.0.0.1", port, sessions[20:SESSIONS],
                                                  HTTP_CONNECTIONS)
        server_cpu = (cpu_seconds(pid=server_pid(port)) - serving) / len(saturated)
        postgres_cpu = (cpu_seconds("postgres") - postgres) / len(saturated)
        limit, which = min((ceiling, "the HTTP ceiling"), (most, "the USSD callback's max"))
        rate, times = http_load.run_sequences("127.0.0.1", port, sessions[SESSIONS:],
                                              SESSIONS_AT_ONCE, limit / 2)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    with session_scope(DATABASE_URL) as db:  # every session answered the whole survey
        completed = db.scalar(select(func.count()).select_from(SurveySession)
                              .where(SurveySession.status == "completed"))
    assert completed == len(sessions) + 1, f"{completed} of {len(sessions) + 1} completed"
    print(f"USSD sessions through POST /ussd/africastalking/<secret>, water-access, "
          f"{len(texts)} callbacks a session; load average before {before:.1f}, after "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (others' work skews the figures)")
    print(f"  ceiling: {ceiling:,.0f} req/s (uvicorn + FastAPI, the form read, a question's "
          f"screen, no I/O; {HTTP_CONNECTIONS} connections)")
    print(f"  max USSD callback: {most:,.0f} req/s = {most / ceiling:.0%} of the ceiling "
          f"({HTTP_CONNECTIONS} sessions, each callback sent once the last is answered; "
          f"p50 {percentile(saturated, 50) * 1000:.0f} ms, "
          f"p99 {percentile(saturated, 99) * 1000:.0f} ms); CPU per callback: heard "
          f"{server_cpu * 1000:.1f} ms, PostgreSQL {postgres_cpu * 1000:.1f} ms")
    print(f"  paced at half of {which} ({limit / 2:,.0f} req/s), {SESSIONS_AT_ONCE} concurrent "
          f"sessions, {SESSIONS} sessions: {rate:,.0f} req/s achieved = {rate / ceiling:.0%} "
          f"of the ceiling; p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms: goal p99 < "
          f"{GOAL_P99 * 1000:.0f} ms {'met' if p99 < GOAL_P99 else 'NOT met'}")
    reset(redis)


def texts_of(inputs: list[str]) -> list[str]:
    """AT's `text` of each callback of a session: "", then all inputs so far joined by *."""
    return ["", *("*".join(inputs[:count]) for count in range(1, len(inputs) + 1))]


def probe(port: int, texts: list[str]) -> None:
    """One session walked through: every screen waits (CON) but the last (END), which proves
    the inputs fit the survey."""
    answers = [httpx.post(f"http://127.0.0.1:{port}{PATH}", data=_form("ATUid_probe", 999_999,
                                                                        text)).text
               for text in texts]
    assert all(answer.startswith("CON ") for answer in answers[:-1]), answers
    assert answers[-1].startswith("END "), answers


def session(texts: list[str], session_id: str, number: int) -> list[bytes]:
    """The callbacks of one whole session by person `number`, as AT makes them."""
    return [http_load.post_form(PATH, _form(session_id, number, text), {}) for text in texts]


def _form(session_id: str, number: int, text: str) -> dict[str, str]:
    return {"sessionId": session_id, "serviceCode": "*384*123#", "networkCode": "63902",
            "phoneNumber": f"+14152{number:06d}", "text": text}


if __name__ == "__main__":
    main()
