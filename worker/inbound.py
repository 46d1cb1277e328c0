"""Process inbox rows: engine step, then answers + state + outbox in ONE transaction.

Every processor of a contact's messages first locks that contact's row, then handles all of the
contact's unprocessed inbox rows up to the one it was asked for, oldest first. So messages are
handled in arrival order whichever worker picks which job, and a row processed twice (a
re-queued job, a killed worker) changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.answers import ascii_digits
from surveys.engine import FINISHED, Reply, StepResult, resume, start, step
from surveys.i18n import keywords, normalize, translator
from surveys.sql import insert_ignore, upsert
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
from worker.rounds import open_round_by_code

log = logging.getLogger(__name__)


def process(db: Session, inbox_id: int,
            skip_locked: bool = False) -> tuple[tuple[str, str] | None, list[int]]:
    """Handle inbox row `inbox_id` (and any earlier unprocessed rows of the same contact).

    Returns the contact (channel, address) and the ids of the outbox rows written, to be queued
    once the transaction commits. With `skip_locked`, a contact another worker is busy with is
    left alone.
    """
    head = db.execute(select(InboxMessage.channel, InboxMessage.address, InboxMessage.processed_at)
                      .where(InboxMessage.id == inbox_id)).first()
    if head is None:
        log.warning("inbox %s: no such row; nothing to do", inbox_id)
        return None, []
    if head.processed_at is not None:
        return None, []
    contact = lock_contact(db, head.channel, head.address, skip_locked)
    if contact is None:
        return None, []
    pending = db.scalars(
        select(InboxMessage)
        .where(InboxMessage.channel == head.channel, InboxMessage.address == head.address,
               InboxMessage.processed_at.is_(None), InboxMessage.id <= inbox_id)
        .order_by(InboxMessage.id)).all()
    outbox_ids: list[int] = []
    for message in pending:
        outbox_ids += handle(db, contact, message)
        message.processed_at = utcnow()
    return (contact.channel, contact.address), outbox_ids


def lock_contact(db: Session, channel: str, address: str,
                 skip_locked: bool = False) -> Contact | None:
    """The contact's row, locked (created on first contact)."""
    query = (select(Contact).where(Contact.channel == channel, Contact.address == address)
             .with_for_update(skip_locked=skip_locked))
    contact = db.scalars(query).first()
    if contact is None:
        insert_ignore(db, Contact.__table__, {"channel": channel, "address": address,
                                              "profile": {}, "opted_out": False,
                                              "created_at": utcnow()},
                      conflict=["channel", "address"])
        contact = db.scalars(query).first()
    return contact


def handle(db: Session, contact: Contact, message: InboxMessage) -> list[int]:
    t = translator(contact.language or "en")
    command = keywords(contact.language or "en").get(normalize(ascii_digits(message.text)))
    welcome: list[Reply] = []
    if contact.opted_out:
        if command != "start":
            message.outcome = "opted_out"  # kept, never answered: they asked us to stop
            return []
        contact.opted_out = False
        welcome = [Reply(t.gettext("You will get our messages again. Reply STOP to stop."))]
    target = find_session(db, contact, message)
    session, survey_row = target.session, target.survey_row
    if survey_row is None:
        return write_outbox(db, contact, message, welcome + _outside_survey(contact, message,
                                                                            command))
    survey = catalog.survey_of(survey_row)
    if session is None:
        session, result = open_session(db, contact, survey_row, target.round_id)
        # the first message only opens the survey, unless it is a keyword (not a join code)
        if message.text.strip() and not target.by_code:
            result = _first_step(survey, result, message.text)
    elif (welcome or target.by_code) and session.status not in FINISHED:
        result = resume(survey, session.state)  # back again: ask where they left off
    elif _answers_an_earlier_question(session, message):
        message.outcome = "stale"
        t = translator(session.state.get("lang") or survey.default_language)
        stale = Reply(t.gettext("That button was for an earlier question."))
        return write_outbox(db, contact, message, [stale])
    else:
        result = step(survey, session.state, message.text)
        if "restarted" in result.events:
            session = new_session(db, contact, survey_row, result, session.round_id)
    save_step(db, contact, session, result, message, survey)
    message.outcome = "answered" if result.answers else "replied"
    return write_outbox(db, contact, message, welcome + result.replies,
                        after_opt_out="stop" in result.events)


def open_session(db: Session, contact: Contact, survey_row: SurveyVersion,
                 round_id: int | None = None) -> tuple[SurveySession, StepResult]:
    """Start `survey_row` for `contact`: consent first unless they already consented."""
    survey = catalog.survey_of(survey_row)
    result = start(survey, contact.language, ask_consent=contact.consent is not True)
    return new_session(db, contact, survey_row, result, round_id), result


def new_session(db: Session, contact: Contact, survey_row: SurveyVersion, result: StepResult,
                round_id: int | None) -> SurveySession:
    session = SurveySession(contact_id=contact.id, survey_pk=survey_row.id, round_id=round_id,
                            state=result.state, status=result.state["status"])
    db.add(session)
    db.flush()
    return session


def _outside_survey(contact: Contact, message: InboxMessage, command: str | None) -> list[Reply]:
    """STOP and HELP work for anyone, in a survey or not; anything else is kept, unanswered."""
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
    if command != "start":
        log.warning("inbox %s (%s): contact %s is in no survey; message kept, no reply",
                    message.id, message.channel, contact.id)
    message.outcome = "no_survey"
    return []


def _answers_an_earlier_question(session: SurveySession, message: InboxMessage) -> bool:
    """A button press (payload `answer_to`) counts only for the question it was sent with."""
    answer_to = message.payload.get("answer_to") if isinstance(message.payload, dict) else None
    return answer_to is not None and answer_to != session.state.get("current")


def _first_step(survey: Any, opened: StepResult, text: str) -> StepResult:
    """Keywords (STOP, LANG, HELP) in the very first message still work."""
    following = step(survey, opened.state, text)
    if following.events and not following.answers:
        return StepResult(following.state, opened.replies + following.replies,
                          following.answers, following.retracted, following.events)
    return opened


@dataclass
class Target:
    """Where a message goes: an existing session, or a survey (and round) to start."""

    session: SurveySession | None = None
    survey_row: SurveyVersion | None = None
    round_id: int | None = None
    by_code: bool = False


def find_session(db: Session, contact: Contact, message: InboxMessage) -> Target:
    """A round's join code (typed, or a Telegram /start payload) opens that round; otherwise the
    session the contact was last asked something in, among open rounds and the simulator."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    code = str(payload.get("start") or message.text or "")
    round_ = open_round_by_code(db, code)
    if round_ is not None:
        session = db.scalars(select(SurveySession).where(
            SurveySession.contact_id == contact.id, SurveySession.round_id == round_.id)).first()
        return Target(session, db.get(SurveyVersion, round_.survey_pk)
                      if session is None else db.get(SurveyVersion, session.survey_pk), round_.id,
                      by_code=True)
    query = (select(SurveySession)
             .outerjoin(Round, Round.id == SurveySession.round_id)
             .where(SurveySession.contact_id == contact.id,
                    or_(SurveySession.round_id.is_(None), Round.status == "open")))
    wanted = payload.get("survey")
    if wanted:  # the simulator names its survey
        row = catalog.latest(db, str(wanted))
        if row is None:
            return Target()
        query = query.where(SurveySession.round_id.is_(None), SurveySession.survey_pk.in_(
            select(SurveyVersion.id).where(SurveyVersion.survey_id == row.survey_id)))
        session = db.scalars(query.order_by(SurveySession.id.desc()).limit(1)).first()
        return Target(session, db.get(SurveyVersion, session.survey_pk) if session else row)
    session = db.scalars(query.order_by(SurveySession.updated_at.desc(),
                                        SurveySession.id.desc()).limit(1)).first()
    if session is None:
        return Target()
    return Target(session, db.get(SurveyVersion, session.survey_pk), session.round_id)


def save_step(db: Session, contact: Contact, session: SurveySession, result: StepResult,
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
    if result.answers:
        upsert(db, Answer.__table__, [
            {"session_id": session.id, "question_id": answer.question_id, "value": answer.value,
             "raw": answer.raw, "skipped": answer.skipped, "answered_at": message.received_at}
            for answer in result.answers],
            conflict=["session_id", "question_id"], update=["value", "raw", "skipped",
                                                            "answered_at"])
    if result.retracted:
        db.execute(delete(Answer).where(Answer.session_id == session.id,
                                        Answer.question_id.in_(result.retracted)))
    if "language" in result.events:
        contact.language = state["lang"]
    if "stop" in result.events:
        contact.opted_out = True
    if "consented" in result.events:
        contact.consent = True
    if "declined" in result.events:
        contact.consent = False


def write_outbox(db: Session, contact: Contact, message: InboxMessage | None,
                 replies: list[Reply], after_opt_out: bool = False) -> list[int]:
    """Outbox rows for `replies`; `after_opt_out` marks the one confirmation an opted-out
    contact still gets."""
    if not replies:
        return []
    rows = [outbox_row(contact.id, contact.channel, contact.address, reply,
                       message.id if message else None, seq)
            for seq, reply in enumerate(replies)]
    for row in rows:
        row["reply"]["after_opt_out"] = after_opt_out or contact.opted_out
    result = insert_ignore(db, OutboxMessage.__table__, rows, conflict=["inbox_id", "seq"],
                           returning=OutboxMessage.id)
    return [row_id for (row_id,) in result]
