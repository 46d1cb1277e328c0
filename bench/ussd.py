"""Whole USSD sessions through the Africa's Talking callback: response times at half its max.

Ceiling, in the same run: uvicorn + FastAPI reading the same form and answering a question's
screen with no I/O (bench/echo_app.py). heard: `heard serve --workers 0` on the benchmark's
PostgreSQL and Redis (bench/pipeline.py), an open round of water-access. Each person dials in
(text ""), types the round's code on the keys, goes on from the intro, then answers every
question as AT posts it: all inputs so far joined by `*`, a long question's second page
turned with 98, a multiple choice as digits (13), the question in words as free text with a
star of its own. What is measured, and how: bench/synchronous.py (goal: p99 < 100 ms at half
the callback's max). Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (bench/pipeline.py),
BENCH_SESSIONS.
"""

from __future__ import annotations

import os

import httpx
from redis import Redis

from bench import http_load, synchronous
from bench.pipeline import (
    DATABASE_URL,
    REDIS_URL,
    ROOT,
    create_database,
    reset,
)
from surveys import catalog
from surveys.database import migrate, session_scope
from surveys.words import keypad_digits
from worker import rounds

SESSIONS = int(os.environ.get("BENCH_SESSIONS", "600"))
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
    echoed = [session(texts, f"ATUid_ce{n}", n) for n in range(SESSIONS)]

    def sessions(port: int) -> list[list[bytes]]:
        probe(port, texts)
        return [session(texts, f"ATUid_{n:x}", n) for n in range(2 * SESSIONS)]

    synchronous.run(synchronous.Words("USSD sessions through POST /ussd/africastalking/<secret>",
                                      "USSD callback", "callback", "sessions",
                                      "a question's screen"), env, PORT, SESSIONS, echoed,
                    sessions)
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
