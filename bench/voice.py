"""Whole calls through the signed voice webhook: response times at half the rate it can take.

Ceiling, in the same run: uvicorn + FastAPI reading the same form and answering a question's
TwiML with no I/O (bench/echo_app.py). heard: `heard serve --workers 0` on the benchmark's
PostgreSQL and Redis (bench/pipeline.py), an open round of water-access. Each caller walks in:
the call begins (step 0), the round's code on the keys, then every question answered with
keys (a number, a multiple choice) or aloud (the question in words: a `<Record>`), each
request signed as Twilio signs it (X-Twilio-Signature over the Gather's action URL). What is
measured, and how: bench/synchronous.py (goal: p99 < 100 ms at half the webhook's max).
Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (see bench/pipeline.py), BENCH_CALLS.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import httpx
from redis import Redis
from twilio.request_validator import RequestValidator

from bench import http_load, synchronous
from bench.pipeline import (
    DATABASE_URL,
    REDIS_URL,
    ROOT,
    TWILIO_TOKEN,
    create_database,
    reset,
)
from surveys import catalog
from surveys.database import migrate, session_scope
from surveys.words import keypad_digits
from worker import rounds

CALLS = int(os.environ.get("BENCH_CALLS", "600"))
PORT = 8795
PUBLIC = f"http://127.0.0.1:{PORT}"
# consent yes, gender, age, source (public tap), minutes to fetch, daily yes, problems 1 and 3
KEYS = ["1", "2", "2", "2", "15#", "1", "13#"]
SPOKEN = "(spoken)"  # a step answered aloud (the optional question in words): a recording


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    reset(redis)
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench"),
                        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                        "PUBLIC_BASE_URL": PUBLIC, "HEARD_VOICE_LANGUAGES": "en=en-US"}
    with session_scope(DATABASE_URL) as db:
        survey = catalog.latest(db, "water-access")
        assert survey is not None  # reset() registered it
        code = rounds.create_round(db, survey, "bench").code or ""
    echoed = [[http_load.post_form("/voice/twilio?step=1", _form(f"CE{n}", n, "1"), {})] * 10
              for n in range(CALLS)]

    def calls(port: int) -> list[list[bytes]]:
        steps = probe(port, keypad_digits(code))
        return [call(steps, f"CA{number:032x}", number) for number in range(2 * CALLS)]

    synchronous.run(synchronous.Words("voice calls through POST /voice/twilio (signed)",
                                      "voice webhook", "request", "calls",
                                      "a question's TwiML"), env, PORT, CALLS, echoed, calls)
    reset(redis)


def probe(port: int, code: str) -> list[tuple[str, str | None]]:
    """One call walked through, following each Gather's action: (path, keys) of each
    request; that it ends with the survey's closing (a Hangup) proves the keys fit."""
    steps: list[tuple[str, str | None]] = [("/voice/twilio", None)]
    presses = iter([code, *KEYS])
    while True:
        path, keys = steps[-1]
        form = _form("CAPROBE", 999_999, keys)
        response = httpx.post(PUBLIC + path, data=form, headers={
            "X-Twilio-Signature": _signature(path, form)})
        response.raise_for_status()
        root = ET.fromstring(response.content)
        gather, record = root.find("Gather"), root.find("Record")
        if record is not None:  # a question in words: answered aloud, a recording
            steps.append((record.get("action", "").removeprefix(PUBLIC), SPOKEN))
            continue
        if gather is None:
            said = [say.text for say in root.iter("Say")]
            assert root[-1].tag == "Hangup" and next(presses, None) is None, said
            return steps
        action = gather.get("action", "").removeprefix(PUBLIC)
        pressed = next(presses, None)
        assert pressed is not None, [say.text for say in gather.iter("Say")]
        steps.append((action, pressed.removesuffix("#")))


def call(steps: list[tuple[str, str | None]], sid: str, number: int) -> list[bytes]:
    """The requests of one whole call by caller `number`, as Twilio would make them."""
    requests = []
    for path, keys in steps:
        form = _form(sid, number, keys)
        requests.append(http_load.post_form(path, form, {
            "X-Twilio-Signature": _signature(path, form)}))
    return requests


def _form(sid: str, number: int, keys: str | None) -> dict[str, str]:
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": f"+14152{number:06d}",
            "To": "+15005550006", "CallStatus": "in-progress", "Direction": "inbound"}
    if keys == SPOKEN:  # Twilio's <Record> action post: the call's own recording
        recording = f"RE{number:032x}"
        return form | {"RecordingSid": recording, "RecordingDuration": "4",
                       "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC"
                                       f"{'0' * 32}/Recordings/{recording}"}
    return form | ({"Digits": keys} if keys is not None else {})


def _signature(path: str, form: dict[str, str]) -> str:
    return RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form)
