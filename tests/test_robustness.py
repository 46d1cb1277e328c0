"""Nothing lost, nothing refused wrongly, under faults a real deployment meets (issue 16):
a database that blinks, one bad webhook among many, bodies too large to read, values the
database refuses, surveys built to exhaust the server."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from heard.app import create_app
from surveys import catalog
from surveys.database import session_scope
from surveys.messages import BadInbound, Inbound
from surveys.summaries import summarise
from surveys.tables import Contact, InboxMessage, SurveySession
from surveys.validation import SurveyError, parse_survey
from tests.fakes.tcp_proxy import Proxy
from tests.pipeline import client_for, count
from tests.test_sms import AMINA, TOKEN, sms
from worker import rounds
from worker.ingest import ingest
from worker.runtime import Runtime


def through_proxy(runtime: Runtime) -> tuple[Proxy, str]:
    """A proxy in front of the test's PostgreSQL, and the database URL that goes through it."""
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("a database server to cut off is PostgreSQL's")
    parts = urlsplit(runtime.database_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    return proxy, runtime.database_url.replace(parts.netloc.split("@")[-1],
                                               f"127.0.0.1:{proxy.port}", 1)


def test_a_webhook_holds_its_message_while_the_database_restarts(runtime, monkeypatch):
    """Twilio does not retry a 500: the message is held and committed once the database is
    back, within the time a provider waits for an answer."""
    monkeypatch.setenv("HEARD_INGEST_PATIENCE_SECONDS", "10")
    proxy, url = through_proxy(runtime)
    try:
        assert ingest(url, runtime.redis, Inbound("sms", AMINA, "warm", "SM-warm")) is not None
        proxy.cut()
        threading.Timer(1.5, proxy.restore).start()
        began = time.monotonic()
        inbox_id = ingest(url, runtime.redis, Inbound("sms", AMINA, "held", "SM-held"))
        waited = time.monotonic() - began
    finally:
        proxy.stop()
    assert inbox_id is not None and 1.0 < waited < 10
    with session_scope(runtime.database_url) as db:
        assert db.scalar(select(InboxMessage.text).where(InboxMessage.id == inbox_id)) == "held"


def test_past_its_patience_a_webhook_answers_503_and_closes_the_connection(runtime,
                                                                            monkeypatch):
    monkeypatch.setenv("HEARD_INGEST_PATIENCE_SECONDS", "0.3")
    proxy, url = through_proxy(runtime)
    client_for(runtime)  # surveys registered through the real database
    client = TestClient(create_app(Runtime(url, runtime.redis)))
    proxy.cut()
    try:
        response = client.post("/api/v1/simulate", json={"survey": "test-water",
                                                         "address": "x", "text": "hi"})
    finally:
        proxy.stop()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["connection"] == "close"
    assert "database is unavailable" in response.json()["detail"]


def test_one_value_the_database_refuses_fails_only_its_own_webhook(runtime):
    """Committed together, the others are stored: PostgreSQL refusing one row (here a JSON
    NaN) used to fail every webhook of its group."""
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("SQLite stores what PostgreSQL refuses")
    good = [Inbound("sms", f"+2547000000{n:02d}", "hi", f"SM-good-{n}") for n in range(40)]
    bad = Inbound("sms", "+254711111111", "hi", "SM-bad", payload={"x": float("nan")})
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(ingest, runtime.database_url, runtime.redis, message)
                   for message in [*good[:20], bad, *good[20:]]]
    results = []
    for future in futures:
        try:
            results.append(future.result() is not None)
        except Exception:  # noqa: BLE001 - the bad one's own error
            results.append(False)
    assert results == [True] * 20 + [False] + [True] * 20
    assert count(runtime, InboxMessage) == 40


@pytest.mark.parametrize(("field", "value", "named"), [
    ("From", "+2547\x0012345678", "From: control characters"),
    ("MessageSid", "SM" + "x" * 200, "MessageSid: expected 1 to 128 characters"),
])
def test_values_no_database_stores_are_a_400_naming_the_field(runtime, twilio, monkeypatch,
                                                               field, value, named):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)  # what tests.test_sms signs with
    client = client_for(runtime)
    extra = {field: value}
    response = sms(client, extra.pop("From", AMINA), "1", extra.pop("MessageSid", "SM-v"))
    assert response.status_code == 400 and named in response.json()["detail"]
    assert count(runtime, InboxMessage) == 0


def test_an_inbound_refuses_what_no_inbox_row_can_hold():
    for address in ("", "a\x00b", "x" * 256):
        with pytest.raises(BadInbound):
            Inbound("sms", address, "hi", "SM1")
    assert Inbound("sms", "+2547", "hi", "SM1", payload={"to": "+1\x00"}).payload == {"to": "+1"}


def test_bodies_over_the_limit_are_refused_before_they_are_read(runtime, monkeypatch):
    monkeypatch.setenv("HEARD_MAX_BODY_BYTES", "10000")
    client = TestClient(create_app(runtime))
    big = b"x" * 20_000
    for path in ("/sms/twilio", "/sms/twilio/status", "/api/v1/simulate", "/telegram/webhook"):
        response = client.post(path, content=big, headers={"Content-Type": "text/plain"})
        assert response.status_code == 413, (path, response.status_code)
        assert response.headers["connection"] == "close"

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(5):
            yield b"y" * 4000

    assert client.post("/api/v1/simulate", content=chunks(),
                       headers={"Content-Type": "application/json"}).status_code == 413


def test_every_answer_forbids_framing(runtime):
    client = client_for(runtime)
    for path in ("/simulator", "/healthz", "/api/v1/surveys"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_ids_beyond_the_databases_integers_are_a_422(runtime):
    client = client_for(runtime)
    assert client.get(f"/rounds/{2**70}").status_code == 422
    for path in (f"/api/v1/rounds/{2**70}/summary", f"/api/v1/rounds/{2**70}"):
        assert client.get(path, headers={"Authorization": "Bearer x"}).status_code in (401,
                                                                                       422)


def test_deep_json_on_the_telegram_webhook_is_a_400(runtime, monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s")
    client = client_for(runtime)
    deep = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/telegram/webhook", content=deep,
                           headers={"X-Telegram-Bot-Api-Secret-Token": "s"})
    assert response.status_code == 400


def test_a_survey_built_to_exhaust_the_server_is_refused_at_once():
    lol = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True))
    for text, said in ((lol, "through its aliases"), ("a: " + "[" * 5000 + "]" * 5000,
                                                       "nested more than 30 levels")):
        began = time.monotonic()
        with pytest.raises(SurveyError) as caught:
            parse_survey(text)
        assert said in str(caught.value) and time.monotonic() - began < 1


def test_a_round_of_a_survey_with_no_choice_question_is_summarised(runtime):
    """An empty `IN ()` once compared text with an integer on PostgreSQL (a 500)."""
    survey = parse_survey("id: plain\nlanguages: [en]\ntitle: {en: P}\nquestions:\n"
                          "  - {id: note, type: text, text: {en: Say}}\n"
                          "  - {id: n, type: number, min: 0, text: {en: N}}\n")
    with session_scope(runtime.database_url) as db:
        row = catalog.register(db, survey)
        round_id = rounds.create_round(db, row, None).id
        contact = Contact(channel="sms", address=AMINA, profile={})
        db.add(contact)
        db.flush()
        db.add(SurveySession(contact_id=contact.id, survey_pk=row.id, round_id=round_id,
                             state={}, status="completed"))
    with session_scope(runtime.database_url) as db:
        summary = summarise(db, round_id)
    assert summary.participants == 1


def test_two_processes_registering_a_survey_at_once_agree_on_one_row(runtime):
    """Two `heard round create` at the same moment on a fresh database: the second crashed
    with a UniqueViolation once the first committed."""
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("SQLite lets one writer in at a time")
    survey = parse_survey("id: race\nlanguages: [en]\ntitle: {en: R}\nquestions:\n"
                          "  - {id: q, type: text, text: {en: Q}}\n")
    registered, release = threading.Event(), threading.Event()

    def first() -> int:
        with session_scope(runtime.database_url) as db:
            row_id = catalog.register(db, survey).id
            registered.set()
            release.wait(10)  # still uncommitted while the second registers
            return row_id

    def second() -> int:
        registered.wait(10)
        with session_scope(runtime.database_url) as db:
            return catalog.register(db, survey).id

    with ThreadPoolExecutor(2) as pool:
        one, two = pool.submit(first), pool.submit(second)
        time.sleep(0.5)  # the second is now waiting on the first's row
        release.set()
        assert one.result() == two.result()
