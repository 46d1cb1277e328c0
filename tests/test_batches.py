"""Inbox rows are processed a batch at a time: the same results as one by one, in a few
statements, and one bad message or a row another worker holds never breaks the order."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import event, select, text

from surveys import conversation
from surveys.database import get_engine, session_scope
from surveys.tables import InboxMessage, StoredAnswer, SurveySession
from tests.pipeline import answers, client_for, count, say
from worker import inbound, jobs
from worker.queues import INBOUND

CONVERSATION = ["hi", "yes", "1", "4", "1 3", "yes"]


def test_back_within_one_batch_and_across_batches_keeps_the_last_word(runtime):
    client = client_for(runtime)
    for word in ("hi", "yes", "1", "4", "back"):  # days answered, then withdrawn: one batch
        say(client, "ann", word)
    jobs.drain_inbox()
    assert answers(runtime) == {"source": "tap"}
    say(client, "ann", "4")
    jobs.drain_inbox()
    assert answers(runtime) == {"source": "tap", "days": 4}
    for word in ("back", "back", "2"):  # a stored answer withdrawn, another changed
        say(client, "ann", word)
    jobs.drain_inbox()
    assert answers(runtime) == {"source": "well"}


def test_a_batch_costs_a_few_statements_however_many_messages_it_holds(runtime):
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs INSERT ... RETURNING a row at a time (in process: no round trip)")
    client = client_for(runtime)
    people = [f"p{number}" for number in range(30)]
    for word in CONVERSATION:
        for person in people:
            say(client, person, word)
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(args[2])

    engine = get_engine(runtime.database_url)
    event.listen(engine, "before_cursor_execute", counted)
    try:
        assert jobs.drain_inbox() == len(people) * len(CONVERSATION)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert count(runtime, StoredAnswer) == len(people) * 4
    assert count(runtime, SurveySession, SurveySession.status == "completed") == len(people)
    assert len(statements) < 40, statements  # 180 messages: well under one statement each


def test_a_row_another_worker_holds_stops_its_contact_there(runtime, monkeypatch):
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("row locks held by another transaction are PostgreSQL's")
    client = client_for(runtime)
    ids = [say(client, "bea", word)["inbox_id"] for word in ("hi", "yes", "1")]
    Queue(INBOUND, connection=runtime.redis).empty()
    with get_engine(runtime.database_url).connect() as other_worker:
        other_worker.execute(text("SELECT id FROM inbox WHERE id = :id FOR UPDATE"),
                             {"id": ids[1]})
        with session_scope(runtime.database_url) as db:
            inbound.process_batch(db, [ids[2]], skip_locked=True)
        monkeypatch.setattr(jobs, "DRAIN_BUDGET_SECONDS", 0.2)
        assert jobs.drain_inbox() == 0  # "1" is claimable but waits: no progress, no error
        other_worker.rollback()
    with session_scope(runtime.database_url) as db:
        done = db.scalars(select(InboxMessage.id)
                          .where(InboxMessage.processed_at.is_not(None))).all()
    assert done == [ids[0]]  # "1" waits behind "yes", which the other worker held
    assert answers(runtime) == {}
    jobs.drain_inbox()
    assert answers(runtime) == {"source": "tap"}


def test_one_bad_message_in_a_batch_is_set_aside_and_the_rest_go_on(runtime, monkeypatch,
                                                                     caplog):
    client = client_for(runtime)
    real_step = conversation.step

    def step(survey: Any, state: Any, text: str) -> Any:
        if text == "boom":
            raise RuntimeError("a bug met by one message")
        return real_step(survey, state, text)

    monkeypatch.setattr(conversation, "step", step)
    for word in ("hi", "yes", "boom", "2"):
        say(client, "cal", word)
    for word in ("hi", "yes", "1"):
        say(client, "dee", word)
    with caplog.at_level(logging.WARNING):
        jobs.drain_inbox()
    assert "retrying them one by one" in caplog.text
    assert answers(runtime) == {"source": "tap"}  # dee's; cal's "2" waits behind "boom"
    assert count(runtime, InboxMessage, InboxMessage.processed_at.is_(None)) == 2
    monkeypatch.setenv("HEARD_SWEEP_AFTER_SECONDS", "0")
    with caplog.at_level(logging.WARNING):
        jobs.sweep()
    assert "set aside as failed" in caplog.text
    assert count(runtime, InboxMessage, InboxMessage.outcome == "failed") == 1
    assert count(runtime, InboxMessage, InboxMessage.processed_at.is_(None)) == 0
    with session_scope(runtime.database_url) as db:
        values = sorted(str(value) for value in db.scalars(select(StoredAnswer.value)))
    assert values == ["tap", "well"]  # cal's message after the bad one was answered
