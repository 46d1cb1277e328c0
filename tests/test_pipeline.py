"""Webhook → inbox → rq → engine → answers + state + outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

from rq import Queue
from sqlalchemy import select

from surveys.conversation import not_in_a_survey
from surveys.database import session_scope
from surveys.messages import Inbound
from surveys.tables import Contact
from tests.pipeline import (
    InboxMessage,
    OutboxMessage,
    StoredAnswer,
    answers,
    client_for,
    conversation,
    count,
    drain,
    say,
)
from worker import inbound, jobs
from worker.ingest import ingest
from worker.queues import INBOUND, OUTBOUND, QUEUE_NAMES


def test_simulated_conversation_end_to_end(runtime):
    client = client_for(runtime)
    say(client, "amina", "hello")
    drain(runtime)
    assert conversation(client, "amina") == [
        ("in", "hello"),
        ("out", "Five questions about water.\nReply LANG to change the language."),
        ("out", "Do you agree?\n1 Yes\n2 No")]  # consent first: nothing stored without a yes
    for text in ("yes", "1", "৫", "1 3", "yes"):
        say(client, "amina", text)
    drain(runtime)
    assert answers(runtime) == {"source": "tap", "days": 5, "problems": ["dirty", "cost"],
                                "safe": "yes"}, conversation(client, "amina")
    assert conversation(client, "amina")[-1] == ("out", "Thank you!")
    assert count(runtime, OutboxMessage, OutboxMessage.status != "sent") == 0


def test_same_webhook_three_times_is_one_inbox_row_one_answer_one_reply(runtime):
    client = client_for(runtime)
    say(client, "bo", "hi")
    say(client, "bo", "yes")
    drain(runtime)
    results = [say(client, "bo", "2", id="provider-msg-1") for _ in range(3)]
    assert [result["duplicate"] for result in results] == [False, True, True]
    drain(runtime)
    assert count(runtime, InboxMessage) == 3
    assert answers(runtime) == {"source": "well"}
    assert count(runtime, OutboxMessage) == 4  # intro + consent, question, then one reply


def processed(runtime, inbox_id: int) -> list[int]:
    """Process one inbox row (and the contact's earlier ones); the outbox ids written."""
    with session_scope(runtime.database_url) as db:
        return inbound.process(db, inbox_id)[1]


def test_processing_an_inbox_row_twice_changes_nothing(runtime):
    client = client_for(runtime)
    say(client, "cy", "hi")
    say(client, "cy", "yes")
    inbox_id = say(client, "cy", "1")["inbox_id"]
    drain(runtime)
    before = (count(runtime, OutboxMessage), answers(runtime))
    assert processed(runtime, inbox_id) == []  # as the sweeper processes a row
    assert (count(runtime, OutboxMessage), answers(runtime)) == before


def test_messages_of_one_contact_are_processed_in_arrival_order(runtime):
    client = client_for(runtime)
    ids = [say(client, "di", text)["inbox_id"] for text in ("hi", "yes", "3", "river", "4")]
    Queue(INBOUND, connection=runtime.redis).empty()
    processed(runtime, ids[-1])  # the newest row first: all five are handled, in order
    assert answers(runtime) == {"source": "other", "source_other": "river", "days": 4}
    for inbox_id in ids:
        assert processed(runtime, inbox_id) == []


def test_message_stored_when_redis_is_down_and_swept_later(runtime, monkeypatch):
    from redis import Redis

    client_for(runtime)
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    inbox_id = ingest(runtime.database_url, down,
                      Inbound("simulator", "ed", "hi", "p-1", payload={"survey": "test-water"}))
    assert inbox_id is not None
    assert count(runtime, InboxMessage, InboxMessage.processed_at.is_(None)) == 1
    monkeypatch.setenv("HEARD_SWEEP_AFTER_SECONDS", "0")
    assert jobs.sweep() == (1, 0, 0)  # long overdue: processed by the sweeper itself
    drain(runtime)
    assert count(runtime, InboxMessage, InboxMessage.processed_at.is_(None)) == 0
    assert count(runtime, OutboxMessage, OutboxMessage.status == "sent") == 2


def test_after_redis_lost_its_data_unsent_rows_are_queued_at_once(runtime):
    """Queued jobs go with a Redis restart: their rows need not wait until they are overdue."""
    client = client_for(runtime)
    say(client, "fr", "hi")
    drain(runtime)
    jobs.sweep()  # the marker is left: nothing lost since
    with session_scope(runtime.database_url) as db:
        db.query(OutboxMessage).update({"status": "pending"})  # queued, not yet sent ...
    assert jobs.sweep() == (0, 0, 0)  # ... and not overdue (HEARD_SWEEP_AFTER_SECONDS, 30)
    runtime.redis.flushdb()  # Redis restarted, its queue gone
    assert jobs.sweep() == (0, 0, 2)
    drain(runtime)
    assert count(runtime, OutboxMessage, OutboxMessage.status == "sent") == 2


def test_the_sweeper_queues_an_overdue_row_again_once_per_overdue_spell(runtime):
    """A long launch leaves rows pending for long: queued again at every tick, each would get
    a send job per tick. Now once, and again only when overdue once more."""
    from datetime import timedelta

    client = client_for(runtime)
    say(client, "lo", "hi")
    drain(runtime)
    jobs.sweep()  # the marker: Redis has lost nothing since
    with session_scope(runtime.database_url) as db:
        for row in db.scalars(select(OutboxMessage)):  # written a minute ago, never sent
            row.status, row.created_at = "pending", row.created_at - timedelta(minutes=1)
    assert jobs.sweep() == (0, 0, 2)
    assert jobs.sweep() == (0, 0, 0)  # queued already: not again at the next tick
    with session_scope(runtime.database_url) as db:
        for row in db.scalars(select(OutboxMessage)):
            row.next_attempt_at -= timedelta(seconds=31)  # overdue once more (30 s)
    assert jobs.sweep() == (0, 0, 2)


def test_sweeper_requeues_unsent_outbox_rows(runtime, monkeypatch):
    client = client_for(runtime)
    say(client, "fa", "hi")
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        db.query(OutboxMessage).update({"status": "pending"})
    monkeypatch.setenv("HEARD_SWEEP_AFTER_SECONDS", "0")
    assert jobs.sweep() == (0, 0, 2)
    assert Queue(OUTBOUND, connection=runtime.redis).count == 1  # one job: in order
    drain(runtime)
    assert count(runtime, OutboxMessage, OutboxMessage.status == "sent") == 2


def test_malformed_inbound_is_logged_and_worker_keeps_running(runtime, caplog):
    client_for(runtime)
    weird = ["", "x" * 10_240, "bad \ud800 surrogate", "nul \x00 byte"]
    for number, text in enumerate(weird):
        ingest(runtime.database_url, runtime.redis,
               Inbound("simulator", "gu", text, f"w-{number}", payload={"survey": "test-water"}))
    ingest(runtime.database_url, runtime.redis, Inbound("sms", "+4512345678", "hello", "w-x"))
    ingest(runtime.database_url, runtime.redis,
           Inbound("simulator", "ha", "hi", "w-y", payload={"survey": "no-such-survey"}))
    with caplog.at_level(logging.WARNING):
        drain(runtime)
    assert count(runtime, InboxMessage, InboxMessage.processed_at.is_(None)) == 0
    with session_scope(runtime.database_url) as db:  # in no survey: told what to do
        assert [row.text for row in db.scalars(select(OutboxMessage).where(
            OutboxMessage.address == "+4512345678"))] == [not_in_a_survey("en")]
    with session_scope(runtime.database_url) as db:
        texts = [row.text for row in db.query(InboxMessage).order_by(InboxMessage.id)]
    assert texts[2] == "bad ? surrogate" and texts[3] == "nul  byte"
    assert len(texts[1]) == 10_000
    assert count(runtime, StoredAnswer) == 0  # long text and empty text are not answers to a choice


def test_stop_marks_contact_opted_out(runtime):
    client = client_for(runtime)
    say(client, "ik", "hi")
    say(client, "ik", "STOP")
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        assert db.query(Contact).filter_by(address="ik").one().opted_out is True


def test_unknown_survey_is_404(runtime):
    client = client_for(runtime)
    response = client.post("/api/v1/simulate",
                           json={"survey": "nope", "address": "x", "text": "hi"})
    assert response.status_code == 404 and "unknown survey 'nope'" in response.json()["detail"]
    assert client.post("/api/v1/simulate", json={"survey": "x"}).status_code == 422


def test_healthz_reports_database_and_redis(runtime):
    client = client_for(runtime)
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_simulator_page_and_docs_are_served(runtime):
    client = client_for(runtime)
    assert "heard simulator" in client.get("/simulator").text
    assert client.get("/docs").status_code == 200
    assert [s["id"] for s in client.get("/api/v1/surveys").json()] == [
        "test-water", "washington-group", "water-access"]


def test_button_for_an_earlier_question_does_not_answer_the_current_one(runtime):
    client_for(runtime)

    def press(text: str, answer_to: str, provider_id: str) -> None:
        ingest(runtime.database_url, runtime.redis, Inbound(
            "simulator", "jo", text, provider_id,
            payload={"survey": "test-water", "answer_to": answer_to}))

    ingest(runtime.database_url, runtime.redis,
           Inbound("simulator", "jo", "hi", "b-0", payload={"survey": "test-water"}))
    press("1", "_consent", "b-00")
    press("1", "source", "b-1")
    press("2", "source", "b-2")  # the same old button again: now stale
    drain(runtime)
    assert answers(runtime) == {"source": "tap"}
    with session_scope(runtime.database_url) as db:
        last = db.query(OutboxMessage).order_by(OutboxMessage.id.desc()).first()
        assert last.text == "That button was for an earlier question."


def test_a_synchronous_channel_is_answered_within_its_request(runtime):
    """Voice and USSD answer in the provider's own request: the replies come back at once,
    recorded like any channel's (marked sent, nothing queued), and a provider's retry of the
    same request steps nothing and gets the same replies."""
    client = client_for(runtime)
    runtime.redis.flushdb()

    def ask(text: str, message_id: str) -> Any:
        return client.post("/api/v1/simulate", json={"survey": "test-water", "address": "sync",
                                                     "text": text, "id": message_id,
                                                     "reply": True}).json()

    first = ask("hi", "m1")
    assert first["replies"] == ["Five questions about water.\nReply LANG to change the language.",
                                "Do you agree?\n1 Yes\n2 No"]
    assert ask("yes", "m1b")["replies"] == ["Where do you get water?\n"
                                            "1 Tap at home\n2 Public well\n3 Other"]
    answered = ask("2", "m2")
    assert answered["replies"] == ["How many days a week is there water?"]
    again = ask("2", "m2")
    assert again == answered | {"duplicate": True}
    assert answers(runtime) == {"source": "well"}
    with session_scope(runtime.database_url) as db:
        assert set(db.scalars(select(OutboxMessage.status))) == {"sent"}
    assert all(Queue(name, connection=runtime.redis).count == 0 for name in QUEUE_NAMES)
