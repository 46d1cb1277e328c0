"""Whole calls through the signed voice webhook: response times at half the rate it can take.

Ceiling, in the same run: uvicorn + FastAPI reading the same form and answering a question's
TwiML with no I/O (bench/echo_app.py). heard: `heard serve --workers 0` on the benchmark's
PostgreSQL and Redis (bench/pipeline.py), an open round of water-access. Each caller walks in:
the call begins (step 0), the round's code on the keys, then every question answered with
keys (a number, a multiple choice) or aloud (the question in words: a `<Record>`), each
request signed as Twilio signs it (X-Twilio-Signature over the Gather's action URL). First as
fast as heard answers (its max throughput), then paced at half of the lower of that and the
ceiling, from CALLERS concurrent callers: p50 and p99 response times (goal: p99 < 100 ms).
Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL (see bench/pipeline.py), BENCH_CALLS.
"""

from __future__ import annotations

import os
import statistics
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
from redis import Redis
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bench import http_load
from bench.pipeline import (
    DATABASE_URL,
    HTTP_CONNECTIONS,
    REDIS_URL,
    ROOT,
    TWILIO_TOKEN,
    cpu_seconds,
    create_database,
    reset,
    server,
)
from surveys import catalog
from surveys.database import migrate, session_scope
from surveys.tables import SurveySession
from surveys.words import keypad_digits
from worker import rounds

CALLS = int(os.environ.get("BENCH_CALLS", "600"))
CALLERS = 200  # calls in progress at once, each on its own connection
GOAL_P99 = 0.100  # seconds
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
    before = os.getloadavg()[0]
    with server(PORT + 1, env, "bench.echo_app:app") as port:
        ceiling, _ = http_load.run_sequences("127.0.0.1", port, [
            [http_load.post_form("/voice/twilio?step=1", _form(f"CE{n}", n, "1"), {})] * 10
            for n in range(CALLS)],
            HTTP_CONNECTIONS)
    with server(PORT, env) as port:
        steps = probe(port, keypad_digits(code))
        calls = [call(steps, f"CA{number:032x}", number) for number in range(2 * CALLS)]
        http_load.run_sequences("127.0.0.1", port, calls[:20], HTTP_CONNECTIONS)  # warm up
        serving = cpu_seconds(pid=server_pid(port))
        postgres = cpu_seconds("postgres")
        most, saturated = http_load.run_sequences("127.0.0.1", port, calls[20:CALLS],
                                                  HTTP_CONNECTIONS)
        server_cpu = (cpu_seconds(pid=server_pid(port)) - serving) / len(saturated)
        postgres_cpu = (cpu_seconds("postgres") - postgres) / len(saturated)
        limit, which = min((ceiling, "the HTTP ceiling"), (most, "the voice webhook's max"))
        rate, times = http_load.run_sequences("127.0.0.1", port, calls[CALLS:], CALLERS,
                                              limit / 2)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    with session_scope(DATABASE_URL) as db:  # every call answered the whole survey
        completed = db.scalar(select(func.count()).select_from(SurveySession)
                              .where(SurveySession.status == "completed"))
    assert completed == len(calls) + 1, f"{completed} of {len(calls) + 1} calls completed"
    print(f"voice calls through POST /voice/twilio (signed), water-access, "
          f"{len(steps)} requests a call; load average before {before:.1f}, after "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (others' work skews the figures)")
    print(f"  ceiling: {ceiling:,.0f} req/s (uvicorn + FastAPI, the form read, a question's "
          f"TwiML, no I/O; {HTTP_CONNECTIONS} connections)")
    print(f"  max voice webhook: {most:,.0f} req/s = {most / ceiling:.0%} of the ceiling "
          f"({HTTP_CONNECTIONS} callers, each request sent once the last is answered; "
          f"p50 {percentile(saturated, 50) * 1000:.0f} ms, "
          f"p99 {percentile(saturated, 99) * 1000:.0f} ms); CPU per request: heard "
          f"{server_cpu * 1000:.1f} ms (one process: at most {1 / server_cpu:,.0f} req/s on a "
          f"core of its own), PostgreSQL {postgres_cpu * 1000:.1f} ms")
    print(f"  paced at half of {which} ({limit / 2:,.0f} req/s), {CALLERS} concurrent callers, "
          f"{CALLS} calls: {rate:,.0f} req/s achieved = {rate / ceiling:.0%} of the ceiling; "
          f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms: goal p99 < "
          f"{GOAL_P99 * 1000:.0f} ms {'met' if p99 < GOAL_P99 else 'NOT met'}")
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


def server_pid(port: int) -> int:
    """The `heard serve` (or bare uvicorn) process listening on `port` (Linux /proc)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if (b"serve" in words or b"uvicorn" in words) and str(port).encode() in words:
            return int(cmdline.parent.name)
    raise LookupError(f"no heard serve on port {port}")


def percentile(times: list[float], which: int) -> float:
    return statistics.quantiles(times, n=100)[which - 1] if len(times) > 1 else times[0]


if __name__ == "__main__":
    main()
