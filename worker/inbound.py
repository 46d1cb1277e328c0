"""Process inbox rows: engine steps, then answers + state + outbox in ONE transaction.

Rows are processed a batch at a time: one read of the contacts (locked), their sessions and
their pending messages; the engine steps in memory; one write of everything. The cost per
message is then the engine and a share of a few statements, not a dozen round trips each.

Every processor of a contact's messages first locks that contact's row, then handles the
contact's unprocessed inbox rows oldest first, stopping before any row another worker holds.
So messages are handled in arrival order whichever worker picks which job, and a row
processed twice (a re-queued job, a killed worker) changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.channels import channel as channel_named
from surveys.conversation import Opening, decide
from surveys.engine import FINISHED, Reply, StepResult
from surveys.model import Survey
from surveys.sql import bulk_insert, insert_ignore, upsert
from surveys.tables import (
    Contact,
    InboxMessage,
    OutboxMessage,
    Round,
    StoredAnswer,
    SurveySession,
    new_uuid,
    utcnow,
)
from surveys.words import keypad_digits
from worker.airtime import reward_completions
from worker.outbox import outbox_row

log = logging.getLogger(__name__)
ContactKey = tuple[str, str]  # (channel, address)


@dataclass
class Handled:
    """What a batch did: the contacts it handled and the outbox rows to queue on commit."""

    contacts: list[ContactKey] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    messages: int = 0  # inbox rows processed (the claimed ones and earlier ones of theirs)
    reward_ids: list[int] = field(default_factory=list)  # airtime top-ups to queue on commit
    outcomes: dict[int, str | None] = field(default_factory=dict)  # of each row processed


def process(db: Session, inbox_id: int,
            skip_locked: bool = False) -> tuple[ContactKey | None, list[int]]:
    """Handle inbox row `inbox_id` (and any earlier unprocessed rows of the same contact).

    Returns the contact and the ids of the outbox rows written, to be queued once the
    transaction commits. With `skip_locked`, a contact another worker is busy with is left alone.
    """
    handled = process_batch(db, [inbox_id], skip_locked)
    return (handled.contacts[0] if handled.contacts else None), handled.outbox_ids


def process_batch(db: Session, inbox_ids: Sequence[int], skip_locked: bool = False,
                  sender: ContactKey | None = None) -> Handled:
    """Handle these inbox rows, and every earlier unprocessed row of their contacts, in order
    (`sender`: whose they all are, where the caller knows: one read fewer)."""
    if sender is not None:
        heads = [sender]
    else:
        heads = [(head.channel, head.address) for head in db.execute(
            select(InboxMessage.channel, InboxMessage.address)
            .where(InboxMessage.id.in_(inbox_ids), InboxMessage.processed_at.is_(None))
            .distinct())]
    if not heads:
        return Handled()
    contacts = lock_contacts(db, heads, skip_locked)
    pending = _pending_in_order(db, list(contacts), max(inbox_ids))
    batch = Batch(db)
    batch.load_sessions(contacts.values())
    now = utcnow()
    with db.no_autoflush:  # everything is written once, by batch.write()
        for key, messages in pending.items():
            for message in messages:
                batch.handle(contacts[key], message)
                message.processed_at = now
    outbox_ids = batch.write()
    _remember_when_they_wrote(db, contacts, pending)
    _log_handled(pending, batch, outbox_ids)
    return Handled(list(pending), outbox_ids, sum(map(len, pending.values())),
                   batch.reward_ids, {message.id: message.outcome
                                      for messages in pending.values() for message in messages})


def _log_handled(pending: dict[ContactKey, list[InboxMessage]], batch: Batch,
                 outbox_ids: list[int]) -> None:
    """One line per message handled, with the outbox ids of its replies (no address, no
    text): how a message is followed from its webhook to the provider's delivery report."""
    if not log.isEnabledFor(logging.INFO):
        return
    replies: dict[int | None, list[int]] = defaultdict(list)
    for row, outbox_id in zip(batch.outbox, outbox_ids, strict=True):
        replies[row["inbox_id"]].append(outbox_id)
    for messages in pending.values():
        for message in messages:
            log.info("inbox processed", extra={
                "inbox_id": message.id, "channel": message.channel, "outcome": message.outcome,
                "round_id": batch.round_of.get(message.id), "outbox_ids": replies[message.id]})


def _remember_when_they_wrote(db: Session, contacts: dict[ContactKey, Contact],
                              pending: dict[ContactKey, list[InboxMessage]]) -> None:
    """Each contact's newest message, where it opens a window for free-form messages
    (WhatsApp's 24 hours, read by sms.whatsapp): one UPDATE for the whole batch."""
    last = {contacts[key].id: messages[-1].received_at for key, messages in pending.items()
            if channel_named(key[0]).reply_window is not None}
    if last:
        db.execute(update(Contact).where(Contact.id.in_(last))
                   .values(last_inbound_at=case(last, value=Contact.id))
                   .execution_options(synchronize_session=False))


def lock_contacts(db: Session, keys: list[ContactKey],
                  skip_locked: bool = False) -> dict[ContactKey, Contact]:
    """The contacts' rows, locked (created on first contact); with `skip_locked`, those another
    transaction holds are left out. New contacts are inserted in sorted order, so two workers
    inserting overlapping sets wait for each other instead of deadlocking."""
    found = _select_locked(db, keys, skip_locked)
    missing = sorted(set(keys) - set(found) - _existing(db, set(keys) - set(found)))
    if missing:
        now = utcnow()
        insert_ignore(db, Contact.__table__,
                      [{"channel": channel, "address": address, "profile": {},
                        "opted_out": False, "created_at": now} for channel, address in missing],
                      conflict=["channel", "address"])
        found |= _select_locked(db, missing, skip_locked)
    return found


def _by_channel(keys: Any) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for channel, address in keys:
        grouped[channel].append(address)
    return grouped


def _select_locked(db: Session, keys: list[ContactKey],
                   skip_locked: bool) -> dict[ContactKey, Contact]:
    found: dict[ContactKey, Contact] = {}
    for channel, addresses in _by_channel(keys).items():
        for contact in db.scalars(select(Contact)
                                  .where(Contact.channel == channel,
                                         Contact.address.in_(addresses))
                                  .with_for_update(skip_locked=skip_locked)):
            found[(contact.channel, contact.address)] = contact
    return found


def _existing(db: Session, keys: set[ContactKey]) -> set[ContactKey]:
    """Of contacts not locked, those that exist (locked by another worker, when skipping)."""
    existing: set[ContactKey] = set()
    for channel, addresses in _by_channel(keys).items():
        existing |= {(channel, address) for address in db.scalars(
            select(Contact.address).where(Contact.channel == channel,
                                          Contact.address.in_(addresses)))}
    return existing


def _pending_in_order(db: Session, keys: list[ContactKey],
                      up_to: int) -> dict[ContactKey, list[InboxMessage]]:
    """Each contact's unprocessed rows up to id `up_to`, oldest first, up to the first row that
    another worker holds (claimed in its batch): the rest wait, so order is never broken."""
    pending: dict[ContactKey, list[InboxMessage]] = {}
    for channel, addresses in _by_channel(keys).items():
        where = (InboxMessage.channel == channel, InboxMessage.address.in_(addresses),
                 InboxMessage.processed_at.is_(None), InboxMessage.id <= up_to)
        locked = db.scalars(select(InboxMessage).where(*where).order_by(InboxMessage.id)
                            .with_for_update(skip_locked=True)).all()
        held = {row.id for row in locked}
        first_gap: dict[str, int] = {}
        for row_id, address in db.execute(select(InboxMessage.id, InboxMessage.address)
                                          .where(*where).order_by(InboxMessage.id)):
            if row_id not in held:
                first_gap.setdefault(address, row_id)
        for row in locked:
            if row.id < first_gap.get(row.address, up_to + 1):
                pending.setdefault((channel, row.address), []).append(row)
    return pending


class Batch:
    """One transaction's reads and writes: sessions read once, everything written once.

    It is also what the conversation looks up (`surveys.conversation.Surveys`): open rounds by
    code, read once per batch, and survey versions.
    """

    def __init__(self, db: Session) -> None:
        self.db = db
        self.sessions: dict[int, list[SurveySession]] = defaultdict(list)  # oldest first
        self.answers: dict[tuple[SurveySession, str], dict[str, Any] | None] = {}
        self.outbox: list[dict[str, Any]] = []
        self.round_of: dict[int, int | None] = {}  # inbox id -> the round it went to (logs)
        self._rounds: dict[str, Round] | None = None
        self._latest: dict[str, int | None] = {}
        self._surveys: dict[int, Survey] = {}
        self.completed: list[SurveySession] = []  # in a round: perhaps thanked with airtime
        self.reward_ids: list[int] = []

    def load_sessions(self, contacts: Any) -> None:
        """The sessions a message of these contacts may go to: in open rounds or the simulator."""
        ids = [contact.id for contact in contacts]
        if not ids:
            return
        for session in self.db.scalars(
                select(SurveySession).outerjoin(Round, Round.id == SurveySession.round_id)
                .where(SurveySession.contact_id.in_(ids),
                       or_(SurveySession.round_id.is_(None), Round.status == "open"))
                .order_by(SurveySession.id)):
            self.sessions[session.contact_id].append(session)

    # -- what the conversation looks up --------------------------------------------------------

    def round_by_code(self, code: str) -> Round | None:
        if self._rounds is None:  # open and scheduled rounds are few: read once per batch
            self._rounds = {round_.code: round_ for round_ in self.db.scalars(
                select(Round).where(Round.status.in_(("open", "scheduled")),
                                    Round.code.is_not(None))) if round_.code is not None}
        return self._rounds.get(code)

    def round_by_keys(self, digits: str) -> Round | None:
        self.round_by_code("")  # the open and scheduled rounds, read once per batch
        assert self._rounds is not None
        typed = [round_ for code, round_ in self._rounds.items() if keypad_digits(code) == digits]
        return typed[0] if len(typed) == 1 else None  # two codes on the same keys: neither

    def latest(self, survey_id: str) -> int | None:
        if survey_id not in self._latest:
            row = catalog.latest(self.db, survey_id)
            self._latest[survey_id] = row.id if row is not None else None
        return self._latest[survey_id]

    def survey(self, survey_pk: int) -> Survey:
        if survey_pk not in self._surveys:  # read once per batch (its definition once a process)
            survey = catalog.survey_at(self.db, survey_pk)
            assert survey is not None, f"survey version {survey_pk} is gone"  # a foreign key
            # keeps it
            self._surveys[survey_pk] = survey
        return self._surveys[survey_pk]

    # -- one message ---------------------------------------------------------------------------

    def handle(self, contact: Contact, message: InboxMessage) -> None:
        """Decide what `message` means for `contact`, and apply it."""
        decision = decide(contact, self.sessions[contact.id], message, self)
        for name, value in decision.contact.items():
            setattr(contact, name, value)
        message.outcome = decision.outcome
        session = decision.session
        if decision.opens is not None and decision.result is not None:
            session = self.new_session(contact, decision.opens, decision.result)
        if session is not None and decision.result is not None:
            self.save_step(session, decision.result, message)
            if "profile" in decision.contact or session.status in FINISHED:
                session.profile = dict(contact.profile or {})  # as answered, for exports
        self.round_of[message.id] = session.round_id if session is not None else None
        self.write_outbox(contact, message, decision.replies)

    def new_session(self, contact: Contact, opening: Opening,
                    result: StepResult) -> SurveySession:
        now = utcnow()
        session = SurveySession(contact_id=contact.id, survey_pk=opening.survey_pk,
                                round_id=opening.round_id, state=result.state,
                                status=result.state["status"], started_at=now, updated_at=now,
                                uuid=new_uuid())
        self.db.add(session)
        self.sessions[contact.id].append(session)
        return session

    def save_step(self, session: SurveySession, result: StepResult,
                  message: InboxMessage) -> None:
        state = result.state
        session.state = state
        session.status = state["status"]
        session.updated_at = utcnow()
        if state["status"] in FINISHED and session.completed_at is None:
            session.completed_at = utcnow()
            if state["status"] == "completed" and session.round_id is not None:
                self.completed.append(session)
        for answer in result.answers:  # the last word per question wins, as if one by one
            self.answers[(session, answer.question_id)] = {
                "question_id": answer.question_id, "value": answer.value, "raw": answer.raw,
                "skipped": answer.skipped, "answered_at": message.received_at}
        for question_id in result.retracted:
            self.answers[(session, question_id)] = None

    def write_outbox(self, contact: Contact, message: InboxMessage, replies: list[Reply]) -> None:
        """Outbox rows for `replies`; to a contact who just opted out, they are the one
        confirmation an opted-out contact still gets."""
        for seq, reply in enumerate(replies):
            row = outbox_row(contact.id, contact.channel, contact.address, reply, message.id, seq)
            row["reply"]["after_opt_out"] = contact.opted_out
            self.outbox.append(row)

    # -- writing -------------------------------------------------------------------------------

    def write(self) -> list[int]:
        """Write the batch (sessions and contacts, answers, outbox); the new outbox ids."""
        self.db.flush()  # new sessions get their ids here
        kept = [row | {"session_id": session.id}
                for (session, _), row in self.answers.items() if row is not None]
        if kept:
            upsert(self.db, StoredAnswer.__table__, kept, conflict=["session_id", "question_id"],
                   update=["value", "raw", "skipped", "answered_at"])
        withdrawn: dict[int, list[str]] = defaultdict(list)
        for (session, question_id), row in self.answers.items():
            if row is None:
                withdrawn[session.id].append(question_id)
        for session_id, question_ids in withdrawn.items():
            self.db.execute(delete(StoredAnswer).where(StoredAnswer.session_id == session_id,
                                                 StoredAnswer.question_id.in_(question_ids)))
        self.reward_ids = reward_completions(self.db, self.completed)
        # COPY: a batch's replies are most of its rows. An inbox row is handled once (it is
        # locked, then marked processed), and unique (inbox_id, seq) guards that anyway.
        return bulk_insert(self.db, OutboxMessage.__table__, self.outbox, ids=True)
