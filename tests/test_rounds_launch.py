"""Launching a round in bulk: chunks, shared rows, send batches, the writer thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from surveys import catalog
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.sql import bulk_insert_shared
from surveys.tables import Contact, OutboxMessage, SurveySession
from tests.pipeline import client_for
from worker import rounds


def _contact(number: int, **fields: object) -> Contact:
    values = {"channel": "sms", "address": f"+2547120000{number:02d}", "language": "sw",
              "community": "kibera", "consent": True, "opted_out": False} | fields
    return Contact(**values)


def _round(runtime) -> int:
    client_for(runtime)  # registers the test surveys
    with session_scope(runtime.database_url) as db:
        return rounds.create_round(db, catalog.latest(db, "test-water"), "kibera").id


def _add(runtime, contacts: list[Contact]) -> None:
    with session_scope(runtime.database_url) as db:
        db.add_all(contacts)


class Recorder:
    """Stands in for enqueue_outbound: keeps the batches and what the progress bar was told."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.progress: list[int] = []

    def enqueue(self, redis: object, outbox_ids: list[int]) -> bool:
        self.batches.append(list(outbox_ids))
        return True

    def launch(self, runtime, round_id: int) -> int:
        return rounds.launch(runtime.database_url, runtime.redis, round_id, self.enqueue,
                             self.progress.append)


def test_launch_in_chunks_invites_every_eligible_contact_once(runtime, monkeypatch):
    monkeypatch.setattr(rounds, "CHUNK", 3)
    monkeypatch.setattr(rounds, "CONTACTS_PER_SEND_JOB", 2)
    round_id = _round(runtime)
    _add(runtime, [_contact(1), _contact(2, consent=None), _contact(3, language="en"),
                   _contact(4, opted_out=True), _contact(5, unreachable="invalid_number"),
                   _contact(6, community="mathare"),
                   _contact(7, channel="telegram", address="4242", language="bn"),
                   _contact(8), _contact(9, consent=False), _contact(10, language=None)])
    first = Recorder()
    assert first.launch(runtime, round_id) == 5  # 1, 3, 7, 8, 10
    _add(runtime, [_contact(11), _contact(12, language="en")])
    second = Recorder()
    assert second.launch(runtime, round_id) == 2  # chunks of invited contacts are skipped
    assert sum(first.progress) == 5 and sum(second.progress) == 2

    with session_scope(runtime.database_url) as db:
        by_id = {c.id: c for c in db.scalars(select(Contact))}
        sessions = db.scalars(select(SurveySession).order_by(SurveySession.id)).all()
        outbox = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    invited = [by_id[s.contact_id].address[-2:] for s in sessions]
    assert invited == ["01", "03", "42", "08", "10", "11", "12"]
    assert {s.round_id for s in sessions} == {round_id}
    assert [s.state["lang"] for s in sessions] == ["sw", "en", "bn", "sw", "en", "sw", "en"]
    # chunks are written side by side, so ids are in order within a contact, not across them
    assert sorted((m.contact_id, m.seq) for m in outbox) == sorted(
        (s.contact_id, seq) for s in sessions for seq in (0, 1))
    assert all([m.seq for m in outbox if m.contact_id == s.contact_id] == [0, 1]
               for s in sessions)
    assert all(m.address == by_id[m.contact_id].address and m.channel == by_id[
        m.contact_id].channel and m.status == "pending" and m.inbox_id is None for m in outbox)
    consent = {m.contact_id: m for m in outbox if m.seq == 1}  # the survey's own, always
    telegram = consent[sessions[2].contact_id]
    assert telegram.reply["text"] == "আপনি কি রাজি?" and telegram.segments is None
    english = consent[sessions[1].contact_id]
    assert english.text == "Do you agree?\n1 Yes\n2 No"
    assert (english.segments, english.encoding) == (1, "GSM-7")
    assert english.reply["after_opt_out"] is False

    # every row queued once, a contact's messages in order and never split between jobs
    # (chunks are written by two threads, so whole chunks may be queued in either order)
    queued = first.batches + second.batches
    flat = [row_id for batch in queued for row_id in batch]
    assert sorted(flat) == [m.id for m in outbox]
    contact_of = {m.id: m.contact_id for m in outbox}
    for contact_id in set(contact_of.values()):
        theirs = [row_id for row_id in flat if contact_of[row_id] == contact_id]
        assert theirs == sorted(theirs)
    assert all(len({contact_of[row_id] for row_id in batch}) <= 2 for batch in queued)
    assert len({(contact_of[row_id], index) for index, batch in enumerate(queued)
                for row_id in batch}) == len(sessions)


def test_a_failed_write_fails_the_launch(runtime):
    round_id = _round(runtime)
    _add(runtime, [_contact(1)])

    def broken(redis: object, outbox_ids: list[int]) -> bool:
        raise RuntimeError("redis is down")

    with pytest.raises(RuntimeError, match="redis is down"):
        rounds.launch(runtime.database_url, runtime.redis, round_id, broken)


def test_bulk_insert_shared_keeps_every_value(runtime):
    awkward = ["tab\there", "line\nbreak\r", "back\\slash", "\\N", "ümlaut ও 🙂", ""]
    created = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    shared = {"language": "bn", "community": None, "profile": {"note": "a\tb\\c\n"},
              "consent": True, "opted_out": False, "created_at": created}
    other = shared | {"language": "en", "consent": False}
    rows = [(("sms", address), shared if index % 2 else other)
            for index, address in enumerate(awkward)]
    with session_scope(runtime.database_url) as db:
        ids = bulk_insert_shared(db, Contact.__table__, ["channel", "address"], rows, ids=True)
    with session_scope(runtime.database_url) as db:
        stored = db.scalars(select(Contact).order_by(Contact.id)).all()
        assert [c.id for c in stored] == ids
        assert [(c.address, c.language, c.consent) for c in stored] == [
            (address, "bn" if index % 2 else "en", bool(index % 2))
            for index, address in enumerate(awkward)]
        assert all(c.profile == {"note": "a\tb\\c\n"} and c.community is None
                   and c.created_at == created and c.opted_out is False for c in stored)


def test_a_contact_whose_language_the_survey_lacks_is_told_in_theirs(runtime):
    round_id = _round(runtime)
    _add(runtime, [_contact(1, language="fr"), _contact(2, language="sw")])
    with session_scope(runtime.database_url) as db:
        plan = rounds.plan_launch(db, round_id)
    assert plan.rows[("en", "sms")]["messages"] == 3  # the notice counts in the estimate
    assert Recorder().launch(runtime, round_id) == 2
    with session_scope(runtime.database_url) as db:
        texts = {(m.contact_id, m.seq): m.text for m in db.scalars(select(OutboxMessage))}
        french, swahili = (db.scalar(select(Contact.id).where(Contact.language == lang))
                           for lang in ("fr", "sw"))
    notice = translator("fr").gettext(
        "This survey is not available in {language}. It continues in {survey_language}.",
        language="français", survey_language="anglais")  # the reader's own words for both
    assert texts[(french, 0)] == notice and "anglais" in notice
    assert texts[(french, 1)] == "Five questions about water."
    assert texts[(swahili, 0)] == "Maswali matano kuhusu maji."


class PacedRecorder(Recorder):
    """A Recorder that keeps when each batch was to be queued, too."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[datetime | None] = []

    def enqueue(self, redis: object, outbox_ids: list[int], *,
                at: datetime | None = None) -> bool:
        self.times.append(at)
        return super().enqueue(redis, outbox_ids)

    def launch(self, runtime, round_id: int, over: timedelta | None = None) -> int:
        return rounds.launch(runtime.database_url, runtime.redis, round_id, self.enqueue,
                             self.progress.append, over=over)


def test_a_paced_launch_queues_its_contacts_evenly_over_the_window(runtime, monkeypatch):
    monkeypatch.setattr(rounds, "CHUNK", 3)  # the pace runs on across chunks
    round_id = _round(runtime)
    _add(runtime, [_contact(number) for number in range(1, 11)])
    recorder = PacedRecorder()
    before = datetime.now(UTC)
    assert recorder.launch(runtime, round_id, over=timedelta(seconds=100)) == 10
    with session_scope(runtime.database_url) as db:
        outbox = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    # ten contacts over 100 s: a send job each, ten seconds apart, from the launch on
    times = sorted(time for time in recorder.times if time is not None)
    assert len(times) == len(recorder.batches) == 10
    assert before <= times[0] + rounds.PACE_LEAD <= datetime.now(UTC)  # queued a little early
    assert [round((later - times[0]).total_seconds(), 3) for later in times] == [
        10.0 * step for step in range(10)]
    due = {m.contact_id: m.next_attempt_at.replace(tzinfo=UTC) for m in outbox}
    assert all(m.status == "pending" and m.next_attempt_at.replace(tzinfo=UTC)
               == due[m.contact_id] for m in outbox)  # the sweeper leaves them till then
    contact_of = {m.id: m.contact_id for m in outbox}
    for batch, at in zip(recorder.batches, recorder.times, strict=True):
        assert {due[contact_of[row_id]] for row_id in batch} == {at + rounds.PACE_LEAD}


def test_a_fast_paced_launch_puts_about_a_seconds_worth_in_each_job():
    pace = rounds.Pace(datetime(2026, 12, 1, tzinfo=UTC), timedelta(hours=2), 100_000)
    assert pace.per_job() == 14  # 13.9 contacts a second
    assert pace.due(50_000) == datetime(2026, 12, 1, 1, tzinfo=UTC)
    assert rounds.Pace(pace.start, timedelta(seconds=10), 100_000).per_job() == \
        rounds.CONTACTS_PER_SEND_JOB  # never more in a job than an unpaced launch puts


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("90m", 5400), ("1h30m", 5400),
                                               ("45s", 45), ("1.5h", 5400), ("10 min", 600)])
def test_spans_read_as_facilitators_write_them(text, seconds):
    assert rounds.parse_span(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "2", "0h", "h", "-1h"])
def test_a_span_that_is_no_length_of_time_is_refused_saying_so(text):
    with pytest.raises(rounds.RoundError, match="length of time|above 0"):
        rounds.parse_span(text)


def test_the_sweeper_leaves_a_paced_launchs_later_invitations_till_their_time(runtime):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from worker import jobs
    from worker.queues import OUTBOUND, enqueue_outbound

    round_id = _round(runtime)
    _add(runtime, [_contact(number) for number in range(1, 6)])
    assert rounds.launch(runtime.database_url, runtime.redis, round_id, enqueue_outbound,
                         over=timedelta(hours=1)) == 5
    queue = Queue(OUTBOUND, connection=runtime.redis)
    scheduled = ScheduledJobRegistry(queue=queue)
    assert len(queue) == 1 and len(scheduled) == 4  # the first now, the others in 12 min steps
    times = sorted(scheduled.get_scheduled_time(job_id) for job_id in scheduled.get_job_ids())
    assert [round((later - times[0]).total_seconds()) for later in times] == [0, 720, 1440,
                                                                              2160]
    runtime.redis.flushdb()  # Redis lost every job: the sweeper queues again only what is due
    assert jobs.sweep().queued_outbox == 2  # the first contact's two messages
