"""Erase a person on request: their personal data goes, their anonymous answers stay.

What goes: the address (replaced by a random token nobody can turn back into it), the profile
(and its copies on the sessions),
every free-text answer (people write names and places in them) and the raw text of every answer,
their recordings (spoken answers: their voice; surveys.recordings), and the text, address and
payload of their inbox and outbox messages (and the provider's id of each sent one: Telegram's
names the chat, Twilio's finds the number). What stays: the contact
row (so its export pseudonym and the round's counts do not change), its language and community
(shared by many people), consent, and the answers to closed questions (choices, numbers, yes/no).
Unsent messages to them are suppressed; a message they send later starts as a new contact.
Each request is written to the audit log by contact id (the address it named is gone).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from surveys import audit, catalog, recordings
from surveys.phone import InvalidPhoneNumber, to_e164
from surveys.tables import (
    STILL_TO_SEND,
    Contact,
    InboxMessage,
    OutboxMessage,
    Recording,
    StoredAnswer,
    SurveyVersion,
    utcnow,
)
from surveys.tables import SurveySession as SessionRow

TOKEN_PREFIX = "erased:"


@dataclass(frozen=True)
class Erased:
    """What one erasure did, to tell the person who asked."""

    contact_id: int
    channel: str
    token: str
    answers_kept: int
    texts_blanked: int
    inbox_blanked: int
    outbox_blanked: int
    sends_suppressed: int
    recordings_deleted: int = 0


def spellings(address: str, region: str | None) -> set[str]:
    """The address as typed and, when it is a phone number, its E.164 form as stored."""
    spelled = {address.strip()}
    with contextlib.suppress(InvalidPhoneNumber):
        spelled.add(to_e164(address, region or None))
    return spelled


def find_contacts(db: Session, addresses: Iterable[str], channel: str | None = None
                  ) -> list[Contact]:
    """Contacts whose address is one of `addresses` (on `channel`, or on any channel)."""
    query = select(Contact).where(Contact.address.in_(list(addresses)))
    if channel:
        query = query.where(Contact.channel == channel)
    return list(db.scalars(query.order_by(Contact.id).with_for_update()))


def erase(db: Session, contact: Contact) -> Erased:
    """Erase `contact`'s personal data in the caller's transaction; irreversible once committed."""
    old_address, token = contact.address, TOKEN_PREFIX + secrets.token_hex(12)
    contact.address, contact.profile = token, {}
    contact.opted_out, contact.unreachable = True, "erased"
    blanked = _blank_free_text(db, contact.id)
    db.execute(update(SessionRow).where(SessionRow.contact_id == contact.id)
               .values(profile={}))  # the copies kept for exports
    spoken = recordings.forget(db, Recording.contact_id == contact.id)
    kept = db.scalar(select(func.count()).select_from(StoredAnswer).join(
        SessionRow, SessionRow.id == StoredAnswer.session_id).where(
        SessionRow.contact_id == contact.id)) or 0
    theirs = (InboxMessage.channel == contact.channel) & (InboxMessage.address == old_address)
    db.execute(update(InboxMessage).where(theirs, InboxMessage.processed_at.is_(None))
               .values(processed_at=utcnow(), outcome="erased"))  # never answered now
    inbox = cast(CursorResult[Any], db.execute(update(InboxMessage).where(theirs).values(
        address=token, text="", payload={}))).rowcount
    mine = or_(OutboxMessage.contact_id == contact.id,
               (OutboxMessage.channel == contact.channel) & (OutboxMessage.address == old_address))
    suppressed = cast(CursorResult[Any], db.execute(update(OutboxMessage).where(
        mine, OutboxMessage.status.in_(STILL_TO_SEND)).values(status="suppressed")
    )).rowcount
    outbox = cast(CursorResult[Any], db.execute(update(OutboxMessage).where(mine).values(
        address=token, text="", reply={}, error=None, provider_id=None))).rowcount
    db.flush()
    return Erased(contact.id, contact.channel, token, kept, blanked, inbox, outbox, suppressed,
                  spoken)


def record_erasures(db: Session, actor: str, done: list[Erased]) -> None:
    """One audit entry per request, in its transaction; the new random tokens are left out."""
    audit.record(db, actor, audit.ERASE,
                 contacts=[{key: value for key, value in asdict(erased).items() if key != "token"}
                           for erased in done])


def _blank_free_text(db: Session, contact_id: int) -> int:
    """Blank text answers (value and the session's copy) and the raw text of every answer."""
    sessions = db.scalars(select(SessionRow).where(SessionRow.contact_id == contact_id)).all()
    blanked = 0
    for session in sessions:
        version = db.get(SurveyVersion, session.survey_pk)
        survey = catalog.survey_of(version) if version is not None else None
        texts = [q.id for q in survey.questions if q.type == "text"] if survey else []
        if texts:
            blanked += cast(CursorResult[Any], db.execute(update(StoredAnswer).where(
                StoredAnswer.session_id == session.id, StoredAnswer.question_id.in_(texts),
                StoredAnswer.skipped.is_(False)).values(value=None))).rowcount
            state = dict(session.state)
            state["answers"] = {key: None if key in texts else value
                                for key, value in (state.get("answers") or {}).items()}
            session.state = state
        db.execute(update(StoredAnswer).where(StoredAnswer.session_id == session.id)
                   .values(raw=None))
    return blanked
