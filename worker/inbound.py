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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.channels import channel as channel_named
from surveys.conversation import (
    command_of,
    edited_reply,
    is_media_only,
    join_code,
    media_reply,
    not_in_a_survey,
    unknown_code,
    walk_in_language,
)
from surveys.engine import FINISHED, Reply, StepResult, resume, start, step, with_language_hint
from surveys.i18n import translator
from surveys.sql import bulk_insert, insert_ignore, upsert
from surveys.tables import (
    Answer,
    Contact,
    InboxMessage,
    OutboxMessage,
    Round,
    SurveyVersion,
    utcnow,
)
from surveys.tables import Session as SurveySession
from worker.outbox import outbox_row

log = logging.getLogger(__name__)
ContactKey = tuple[str, str]  # (channel, address)


@dataclass
class Handled:
    """What a batch did: the contacts it handled and the outbox rows to queue on commit."""

    contacts: list[ContactKey] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    messages: int = 0  # inbox rows processed (the claimed ones and earlier ones of theirs)


def process(db: Session, inbox_id: int,
            skip_locked: bool = False) -> tuple[ContactKey | None, list[int]]:
    """Handle inbox row `inbox_id` (and any earlier unprocessed rows of the same contact).

    Returns the contact and the ids of the outbox rows written, to be queued once the
    transaction commits. With `skip_locked`, a contact another worker is busy with is left alone.
    """
    handled = process_batch(db, [inbox_id], skip_locked)
    return (handled.contacts[0] if handled.contacts else None), handled.outbox_ids


def process_batch(db: Session, inbox_ids: list[int], skip_locked: bool = False) -> Handled:
    """Handle these inbox rows, and every earlier unprocessed row of their contacts, in order."""
    heads = db.execute(select(InboxMessage.channel, InboxMessage.address)
                       .where(InboxMessage.id.in_(inbox_ids),
                              InboxMessage.processed_at.is_(None)).distinct()).all()
    if not heads:
        return Handled()
    contacts = lock_contacts(db, [(head.channel, head.address) for head in heads], skip_locked)
    pending = _pending_in_order(db, list(contacts), max(inbox_ids))
    batch = Batch(db)
    batch.load_sessions(contacts.values())
    now = utcnow()
    with db.no_autoflush:  # everything is written once, by batch.write()
        for key, messages in pending.items():
            for message in messages:
                batch.handle(contacts[key], message)
                message.processed_at = now
    return Handled(list(pending), batch.write(), sum(map(len, pending.values())))


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


def lock_contact(db: Session, channel: str, address: str,
                 skip_locked: bool = False) -> Contact | None:
    """One contact's row, locked (created on first contact)."""
    return lock_contacts(db, [(channel, address)], skip_locked).get((channel, address))


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


@dataclass
class Target:
    """Where a message goes: an existing session, or a survey (and round) to start."""

    session: SurveySession | None = None
    survey_row: SurveyVersion | None = None
    round_id: int | None = None
    by_code: bool = False


class Batch:
    """One transaction's reads and writes: sessions read once, everything written once."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.sessions: dict[int, list[SurveySession]] = defaultdict(list)  # oldest first
        self.answers: dict[tuple[SurveySession, str], dict[str, Any] | None] = {}
        self.outbox: list[dict[str, Any]] = []
        self._rounds: dict[str, Round] | None = None
        self._latest: dict[str, SurveyVersion | None] = {}

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

    # -- reading -------------------------------------------------------------------------------

    def open_round(self, text: str) -> Round | None:
        code = join_code(text)
        if code is None:
            return None
        if self._rounds is None:  # open rounds are few: read them once per batch
            self._rounds = {round_.code: round_ for round_ in self.db.scalars(
                select(Round).where(Round.status == "open", Round.code.is_not(None)))}
        return self._rounds.get(code)

    def latest(self, survey_id: str) -> SurveyVersion | None:
        if survey_id not in self._latest:
            self._latest[survey_id] = catalog.latest(self.db, survey_id)
        return self._latest[survey_id]

    def version(self, survey_pk: int) -> SurveyVersion:
        row = self.db.get(SurveyVersion, survey_pk)
        assert row is not None, f"survey version {survey_pk} is gone"  # a foreign key keeps it
        return row

    def find_session(self, contact: Contact, message: InboxMessage) -> Target:
        """A round's join code (typed, or a Telegram /start payload) opens that round;
        otherwise the session the contact was last asked something in."""
        payload = _payload(message)
        sessions = self.sessions[contact.id]
        round_ = self.open_round(str(payload.get("start") or message.text or ""))
        if round_ is not None:
            session = next((s for s in sessions if s.round_id == round_.id), None)
            return Target(session, self.version(session.survey_pk if session else round_.survey_pk),
                          round_.id, by_code=True)
        wanted = payload.get("survey")
        if wanted:  # the simulator names its survey
            row = self.latest(str(wanted))
            if row is None:
                return Target()
            mine = [s for s in sessions if s.round_id is None
                    and self.version(s.survey_pk).survey_id == row.survey_id]
            session = mine[-1] if mine else None
            return Target(session, self.version(session.survey_pk) if session else row)
        if not sessions:
            return Target()
        # the newest activity wins; among equals, the newest session (the list is oldest first)
        session = max(reversed(sessions), key=lambda s: s.updated_at)
        return Target(session, self.version(session.survey_pk), session.round_id)

    # -- one message ---------------------------------------------------------------------------

    def handle(self, contact: Contact, message: InboxMessage) -> None:
        t = translator(contact.language or "en")
        command = command_of(message.text, contact.language or "en")
        welcome: list[Reply] = []
        payload = _payload(message)
        if payload.get("command") == "start":  # Telegram /start, with a round's code or not
            command = "start"
        if contact.opted_out:
            if command != "start":
                message.outcome = "opted_out"  # kept, never answered: they asked us to stop
                return
            contact.opted_out = False
            welcome = [Reply(t.gettext("You will get our messages again. Reply STOP to stop."))]
        link = payload.get("start")
        if link and self.open_round(str(link)) is None:  # a stale or mistyped deep link
            message.outcome = "unknown_link"
            self.write_outbox(contact, message, welcome + [Reply(t.gettext(
                "This link is not for a survey that is open now."))])
            return
        target = self.find_session(contact, message)
        session, survey_row = target.session, target.survey_row
        if survey_row is None:
            self.write_outbox(contact, message,
                              welcome + _outside_survey(contact, message, command))
            return
        survey = catalog.survey_of(survey_row)
        if session is not None and session.status not in FINISHED:
            lang = survey.language_for(session.state.get("lang"))
            if payload.get("edited"):  # an edit is not a new answer
                message.outcome = "edited"
                self.write_outbox(contact, message, welcome + [Reply(edited_reply(lang))])
                return
            if is_media_only(message.text, payload):  # not an answer: no attempt lost
                message.outcome = "media"
                self.write_outbox(contact, message, welcome + [Reply(media_reply(lang))])
                return
        if session is None:
            session, result = self.open_session(contact, survey_row, target.round_id,
                                                payload.get("language"))
            # the first message only opens the survey, unless it is a keyword (not a join code)
            if message.text.strip() and not target.by_code:
                result = _first_step(survey, result, message.text)
        elif (welcome or target.by_code) and session.status not in FINISHED:
            result = resume(survey, session.state)  # back again: ask where they left off
        elif _answers_an_earlier_question(session, message):
            message.outcome = "stale"
            t = translator(session.state.get("lang") or survey.default_language)
            self.write_outbox(contact, message,
                              [Reply(t.gettext("That button was for an earlier question."))])
            return
        else:
            result = step(survey, session.state, message.text)
            if "restarted" in result.events:
                session = self.new_session(contact, survey_row, result, session.round_id)
        self.save_step(contact, session, result, message, survey)
        message.outcome = "answered" if result.answers else "replied"
        self.write_outbox(contact, message, welcome + result.replies,
                          after_opt_out="stop" in result.events)

    def open_session(self, contact: Contact, survey_row: SurveyVersion,
                     round_id: int | None = None, app_language: str | None = None
                     ) -> tuple[SurveySession, StepResult]:
        """Start `survey_row` for `contact`, in their language (a walk-in's: their app's or
        their country's), with the survey's consent question when it has one: agreeing to
        be contacted (an import's consent) is not agreeing to this survey."""
        survey = catalog.survey_of(survey_row)
        language = contact.language or walk_in_language(
            survey.languages, app_language,
            contact.address if channel_named(contact.channel).phone_addresses else None)
        result = start(survey, language, ask_consent=True)
        if contact.language is None:  # a walk-in: heard guessed, so say how to change it
            contact.language = result.state["lang"]
            if len(survey.languages) > 1:
                result = with_language_hint(result)
        return self.new_session(contact, survey_row, result, round_id), result

    def new_session(self, contact: Contact, survey_row: SurveyVersion, result: StepResult,
                    round_id: int | None) -> SurveySession:
        now = utcnow()
        session = SurveySession(contact_id=contact.id, survey_pk=survey_row.id,
                                round_id=round_id, state=result.state,
                                status=result.state["status"], started_at=now, updated_at=now)
        self.db.add(session)
        self.sessions[contact.id].append(session)
        return session

    def save_step(self, contact: Contact, session: SurveySession, result: StepResult,
                  message: InboxMessage, survey: Any) -> None:
        state = result.state
        profile = {answer.question_id: answer.value for answer in result.answers
                   if not answer.skipped and survey.question(answer.question_id).profile}
        if profile:  # `profile: true` answers describe the person: kept on the contact
            contact.profile = {**(contact.profile or {}), **profile}
        session.state = state
        session.status = state["status"]
        session.updated_at = utcnow()
        if state["status"] in FINISHED and session.completed_at is None:
            session.completed_at = utcnow()
        for answer in result.answers:  # the last word per question wins, as if one by one
            self.answers[(session, answer.question_id)] = {
                "question_id": answer.question_id, "value": answer.value, "raw": answer.raw,
                "skipped": answer.skipped, "answered_at": message.received_at}
        for question_id in result.retracted:
            self.answers[(session, question_id)] = None
        if "language" in result.events:
            contact.language = state["lang"]
        if "stop" in result.events:
            contact.opted_out = True
        if "consented" in result.events:
            contact.consent = True
        if "declined" in result.events:
            contact.consent = False

    def write_outbox(self, contact: Contact, message: InboxMessage | None,
                     replies: list[Reply], after_opt_out: bool = False) -> None:
        """Outbox rows for `replies`; `after_opt_out` marks the one confirmation an opted-out
        contact still gets."""
        for seq, reply in enumerate(replies):
            row = outbox_row(contact.id, contact.channel, contact.address, reply,
                             message.id if message else None, seq)
            row["reply"]["after_opt_out"] = after_opt_out or contact.opted_out
            self.outbox.append(row)

    # -- writing -------------------------------------------------------------------------------

    def write(self) -> list[int]:
        """Write the batch (sessions and contacts, answers, outbox); the new outbox ids."""
        self.db.flush()  # new sessions get their ids here
        kept = [row | {"session_id": session.id}
                for (session, _), row in self.answers.items() if row is not None]
        if kept:
            upsert(self.db, Answer.__table__, kept, conflict=["session_id", "question_id"],
                   update=["value", "raw", "skipped", "answered_at"])
        withdrawn: dict[int, list[str]] = defaultdict(list)
        for (session, question_id), row in self.answers.items():
            if row is None:
                withdrawn[session.id].append(question_id)
        for session_id, question_ids in withdrawn.items():
            self.db.execute(delete(Answer).where(Answer.session_id == session_id,
                                                 Answer.question_id.in_(question_ids)))
        # COPY: a batch's replies are most of its rows. An inbox row is handled once (it is
        # locked, then marked processed), and unique (inbox_id, seq) guards that anyway.
        return bulk_insert(self.db, OutboxMessage.__table__, self.outbox, ids=True)


def _outside_survey(contact: Contact, message: InboxMessage, command: str | None) -> list[Reply]:
    """STOP and HELP work for anyone, in a survey or not; anything else is told how to join
    (or, for what looks like a code, that it is not open now): never silence."""
    t = translator(contact.language or "en")
    if command == "stop":
        contact.opted_out = True
        message.outcome = "opted_out"
        return [Reply(t.gettext("You will get no more messages from us. Reply START to join "
                                "again."))]
    if command == "help":
        message.outcome = "help"
        return [Reply(t.gettext("heard: short surveys about your community, in your language. "
                                "Reply STOP to stop getting messages, START to join again."))]
    message.outcome = "no_survey"  # never silence: say what they can do
    code = join_code(message.text)
    if command is None and code is not None and any(ch.isdigit() for ch in code) \
            and " " not in message.text.strip():
        return [Reply(unknown_code(contact.language or "en"))]  # a mistyped code
    return [Reply(not_in_a_survey(contact.language or "en"))]


def _answers_an_earlier_question(session: SurveySession, message: InboxMessage) -> bool:
    """A button press (payload `answer_to`) counts only for the question it was sent with."""
    answer_to = _payload(message).get("answer_to")
    return answer_to is not None and answer_to != session.state.get("current")


def _payload(message: InboxMessage) -> dict[str, Any]:
    """The channel's extras (a button's question, a deep link's code); {} when malformed."""
    return message.payload if isinstance(message.payload, dict) else {}


def _first_step(survey: Any, opened: StepResult, text: str) -> StepResult:
    """Keywords (STOP, LANG, HELP) in the very first message still work."""
    following = step(survey, opened.state, text)
    if following.events and not following.answers:
        return StepResult(following.state, opened.replies + following.replies,
                          following.answers, following.retracted, following.events)
    return opened
