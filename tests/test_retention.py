"""Retention and erasure: old messages lose their texts and addresses, erased people leave no
trace, answers stay; through the real pipeline on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Text, cast, func, select, update
from typer.testing import CliRunner

from heard.cli import app
from surveys.audit import SWEEPER
from surveys.database import session_scope
from surveys.messages import Inbound
from surveys.retention import KEPT_REPLY_KEYS, PURGED, purge, purge_simulator
from surveys.tables import Base, Contact, InboxMessage, OutboxMessage, StoredAnswer, utcnow
from surveys.tables import SurveySession as SessionRow
from tests.pipeline import client_for, count, drain, say
from worker import jobs, share, sweeper
from worker.ingest import ingest
from worker.runtime import Runtime

OLD, RECENT = "amina", "bo"
REPLIES = {OLD: ["3", "Neema of Kisumu", "5", "1 3", "no", "-3"], RECENT: ["1", "7", "skip"]}


def heard(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def contact_id(runtime: Runtime, address: str) -> int:
    with session_scope(runtime.database_url) as db:
        return db.scalars(select(Contact.id).where(Contact.address == address)).one()


@pytest.fixture
def people(runtime: Runtime) -> dict[str, int]:
    """Two people through the pipeline: one 40 days ago (plus a message not yet processed, one
    not yet sent and a round's results sent to them), one today. Contact ids by address."""
    client = client_for(runtime)
    for address, replies in REPLIES.items():
        for text in ("hi", "yes", *replies):
            say(client, address, text)
    drain(runtime)
    ids = {address: contact_id(runtime, address) for address in REPLIES}
    then = utcnow() - timedelta(days=40)
    with session_scope(runtime.database_url) as db:
        db.execute(update(InboxMessage).where(InboxMessage.address == OLD)
                   .values(received_at=then))
        db.execute(update(OutboxMessage).where(OutboxMessage.contact_id == ids[OLD])
                   .values(created_at=then))
        db.add(InboxMessage(channel="simulator", provider_id="waiting", address=OLD,
                            text="still waiting", payload={"survey": "test-water"},
                            received_at=then))
        old_row = {"contact_id": ids[OLD], "channel": "simulator", "address": OLD,
                   "created_at": then}
        db.add(OutboxMessage(**old_row, seq=1, text="not sent yet", status="retrying",
                             error="timeout"))
        db.add(OutboxMessage(**old_row, seq=2, text="Results: 3 of 5 have a tap",
                             status="delivered", provider_id=f"{OLD}:99", error="late",
                             reply={"text": "Results", share.MARK: 7, "after_opt_out": False}))
    return ids


def answers_of(runtime: Runtime) -> list[tuple[Any, ...]]:
    with session_scope(runtime.database_url) as db:
        return [tuple(row) for row in db.execute(
            select(StoredAnswer.session_id, StoredAnswer.question_id, StoredAnswer.value,
                   StoredAnswer.raw)
            .order_by(StoredAnswer.id))]


def purged(runtime: Runtime, model: Any) -> int:
    return count(runtime, model, model.address == PURGED)


def test_purge_blanks_old_messages_keeps_recent_ones_unfinished_ones_and_every_answer(
        runtime, people):
    answers = answers_of(runtime)
    old_inbox = count(runtime, InboxMessage, InboxMessage.address == OLD,
                      InboxMessage.processed_at.is_not(None))
    old_outbox = count(runtime, OutboxMessage, OutboxMessage.contact_id == people[OLD],
                       OutboxMessage.status != "retrying")
    recent_inbox = count(runtime, InboxMessage, InboxMessage.address == RECENT)
    recent_outbox = count(runtime, OutboxMessage, OutboxMessage.address == RECENT)

    report = purge(runtime.database_url, 30, "test", batch=3)  # several batches per table

    assert (report.inbox, report.outbox) == (old_inbox, old_outbox) and old_inbox > 3
    assert "blanked" in report.summary() and "answers kept" in report.summary()
    with session_scope(runtime.database_url) as db:
        for row in db.scalars(select(InboxMessage).where(InboxMessage.address == PURGED)):
            assert (row.text, row.payload, row.channel) == ("", {}, "simulator")
            assert row.provider_id  # (channel, provider_id) stays unique: re-deliveries no-ops
        for row in db.scalars(select(OutboxMessage).where(OutboxMessage.address == PURGED)):
            assert (row.text, row.error, row.provider_id) == ("", None, None)
            assert row.reply == ({share.MARK: 7} if row.seq == 2 else {})
        waiting = db.scalars(select(InboxMessage).where(InboxMessage.provider_id == "waiting")
                             ).one()
        assert (waiting.address, waiting.text) == (OLD, "still waiting")  # not processed yet
        unsent = db.scalars(select(OutboxMessage).where(OutboxMessage.status == "retrying")).one()
        assert (unsent.address, unsent.text, unsent.error) == (OLD, "not sent yet", "timeout")
    assert count(runtime, InboxMessage, InboxMessage.address == RECENT) == recent_inbox
    assert count(runtime, OutboxMessage, OutboxMessage.address == RECENT) == recent_outbox
    assert count(runtime, InboxMessage, InboxMessage.text == "", InboxMessage.address == RECENT
                 ) == 0
    assert answers_of(runtime) == answers  # the results do not change


def test_purge_again_blanks_nothing_and_shared_results_are_not_sent_twice(runtime, people):
    first = purge(runtime.database_url, 30, "test")
    assert first.messages > 0
    again = purge(runtime.database_url, 30, "test")
    assert (again.inbox, again.outbox) == (0, 0)
    assert purged(runtime, InboxMessage) == first.inbox
    assert purged(runtime, OutboxMessage) == first.outbox
    with session_scope(runtime.database_url) as db:
        assert people[OLD] in share._already_shared(db, 7)


def test_kept_reply_keys_include_the_mark_of_shared_results():
    assert share.MARK in KEPT_REPLY_KEYS


def test_cli_dry_run_counts_and_changes_nothing_then_purge_prints_what_it_blanked(
        runtime, people, monkeypatch):
    expected = purge(runtime.database_url, 30, "test", dry_run=True)
    result = heard("data", "purge", "--days", "30", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"dry run: would blank {expected.inbox} inbox and {expected.outbox} outbox messages")
    assert purged(runtime, InboxMessage) == purged(runtime, OutboxMessage) == 0

    monkeypatch.setenv("HEARD_RETENTION_DAYS", "30")  # the setting, when --days is not given
    result = heard("data", "purge")
    assert result.exit_code == 0, result.output
    assert f"{expected.inbox} inbox and {expected.outbox} outbox messages blanked" in result.output
    assert purged(runtime, InboxMessage) == expected.inbox
    assert heard("data", "purge", "--days", "60").output.startswith(
        "messages older than 60 days")  # nothing that old left: nothing done, no error


@pytest.mark.parametrize("value", ["abc", "-1", "7.5", "30d", "99999999"])
def test_a_bad_retention_setting_is_one_clear_line(runtime, monkeypatch, value):
    monkeypatch.setenv("HEARD_RETENTION_DAYS", value)
    result = heard("data", "purge")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"HEARD_RETENTION_DAYS must be a whole number of days from 0 to 36500 "
        f"(0 or unset: keep for ever), not {value!r}")
    assert sweeper.purge_expired() is None  # the schedule logs it and goes on


def test_no_retention_period_is_an_error_on_the_command_line(runtime, monkeypatch):
    monkeypatch.delenv("HEARD_RETENTION_DAYS", raising=False)
    result = heard("data", "purge")
    assert result.exit_code == 1
    assert "set HEARD_RETENTION_DAYS or give --days N" in result.output


def test_the_schedule_purges_hourly_only_when_a_retention_is_set(runtime, people, monkeypatch):
    scheduler = sweeper.cron_scheduler(runtime.redis, 15)
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert jobs["purge"].interval == sweeper.PURGE_EVERY_SECONDS == 3600
    monkeypatch.delenv("HEARD_RETENTION_DAYS", raising=False)
    assert sweeper.purge_expired() is None and purged(runtime, InboxMessage) == 0
    monkeypatch.setenv("HEARD_RETENTION_DAYS", "30")
    scheduler.enqueue_jobs()  # the sweep and the purge, as `heard cron` queues them
    drain(runtime)
    assert purged(runtime, InboxMessage) > 0 and purged(runtime, OutboxMessage) > 0
    report = sweeper.purge_expired()
    assert report is not None and report.messages == 0


def columns_holding(runtime: Runtime, needle: str) -> list[str]:
    """Every table.column (any type, as text) in which `needle` appears, ignoring case."""
    found = []
    with session_scope(runtime.database_url) as db:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                as_text = func.lower(cast(column, Text))
                if db.scalar(select(func.count()).select_from(table).where(
                        as_text.contains(needle.lower(), autoescape=True))):
                    found.append(f"{table.name}.{column.name}")
    return found


def test_erasure_leaves_no_trace_of_the_address_or_the_words_in_any_table(runtime, people):
    address, word = "amina-7731", "Zawadi"
    client = client_for(runtime)
    for text in ("hi", "yes", "3", f"{word} of Kibera", "5", "1 3", "no", "-3"):
        say(client, address, text)
    ingest(runtime.database_url, runtime.redis, Inbound(
        "simulator", address, f"I am {word}", "with-payload",
        payload={"survey": "test-water", "from": {"first_name": word, "id": address}}))
    drain(runtime)
    erased = contact_id(runtime, address)
    with session_scope(runtime.database_url) as db:  # what Telegram and Twilio leave behind
        db.add(OutboxMessage(contact_id=erased, channel="simulator", address=address,
                             text=f"Asante {word}", status="failed", provider_id=f"{address}:5",
                             error=f"chat {address} not found", reply={"text": word}))
    assert columns_holding(runtime, address) and columns_holding(runtime, word)
    answers = count(runtime, StoredAnswer)

    result = heard("contacts", "erase", address, "--channel", "simulator")

    assert result.exit_code == 0, result.output
    assert columns_holding(runtime, address) == [] and columns_holding(runtime, word) == []
    assert count(runtime, StoredAnswer) == answers  # the anonymous answers stay
    with session_scope(runtime.database_url) as db:
        closed = dict(db.execute(select(StoredAnswer.question_id, StoredAnswer.value).join(
            SessionRow, SessionRow.id == StoredAnswer.session_id).where(
            SessionRow.contact_id == erased,
            StoredAnswer.question_id.in_(("source", "days")))).all())
    assert closed == {"source": "other", "days": 5}
    assert columns_holding(runtime, OLD)  # nobody else was touched
    assert heard("data", "purge", "--days", "1").exit_code == 0  # purge then erase: both fine
    assert columns_holding(runtime, word) == []


def test_erasure_after_a_purge_finds_the_contact_and_blanks_what_is_left(runtime, people):
    purge(runtime.database_url, 30, SWEEPER)
    result = heard("contacts", "erase", OLD, "--channel", "simulator")
    assert result.exit_code == 0, result.output
    assert columns_holding(runtime, "still waiting") == []  # the unprocessed row too
    assert columns_holding(runtime, "not sent yet") == []
    assert count(runtime, OutboxMessage, OutboxMessage.status == "suppressed") == 1


def test_simulated_conversations_are_deleted_a_day_after_their_last_message(runtime):
    client = client_for(runtime)
    for person in ("old", "recent"):
        for text in ("hi", "yes", "1"):
            say(client, person, text)
    jobs.drain_inbox()
    with session_scope(runtime.database_url) as db:  # "old" last wrote two days ago
        two_days = utcnow() - timedelta(days=2)
        db.execute(update(InboxMessage).where(InboxMessage.address == "old")
                   .values(received_at=two_days))
        db.execute(update(Contact).where(Contact.address == "old").values(created_at=two_days))
        db.add(Contact(channel="sms", address="+254700000009", profile={}, created_at=two_days))
    assert purge_simulator(runtime.database_url) == 1
    with session_scope(runtime.database_url) as db:
        assert set(db.scalars(select(Contact.address))) == {"recent", "+254700000009"}
        assert set(db.scalars(select(InboxMessage.address))) == {"recent"}
        owners = set(db.scalars(select(SessionRow.contact_id)))
        assert owners == set(db.scalars(select(Contact.id).where(Contact.address == "recent")))
        assert db.scalar(select(func.count()).select_from(StoredAnswer)) == 1  # recent's
    assert purge_simulator(runtime.database_url) == 0
