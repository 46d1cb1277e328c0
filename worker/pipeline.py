"""Perform what a channel's request asked (`surveys.actions`): the one place webhooks write.

Web handlers verify a request, let their channel's adapter read it into an action, and hand
it here: messages go to the inbox (group-committed, then queued), delivery reports to the
outbox, opt-outs to the contact. A synchronous channel's message is stepped at once, and its
replies are returned for the provider's answer, recorded like any other channel's; a spoken
answer's recording is kept with its message, and its audio fetched by a job once committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from surveys import recordings
from surveys.actions import (
    STATUS_RANK,
    Action,
    Converse,
    Decline,
    Ignore,
    OptOut,
    Recording,
    Status,
    Store,
)
from surveys.database import session_scope
from surveys.messages import Inbound
from surveys.sql import insert_ignore
from surveys.tables import (
    Contact,
    EarlyStatus,
    InboxMessage,
    OutboxMessage,
    StoredAnswer,
    SurveySession,
    utcnow,
)
from surveys.tables import Recording as RecordingRow
from worker.inbound import process_batch
from worker.ingest import inbox_row, ingest, ingest_async
from worker.queues import enqueue_airtime, enqueue_recording_fetch
from worker.runtime import Runtime
from worker.senders import refused

log = logging.getLogger(__name__)


def perform(runtime: Runtime, action: Action) -> str:
    """Do what `action` asks; what was done, for the response and the logs."""
    match action:
        case Store(inbound):
            return _stored(inbound, ingest(runtime.database_url, runtime.redis, inbound))
        case Converse():
            return f"answered with {len(converse(runtime, action).replies)} replies"
        case Decline():
            return decline(runtime, action)
        case Status():
            return "recorded" if record_status(runtime.database_url, action) else "kept"
        case OptOut(channel, address):
            return opt_out(runtime, channel, address)
        case Ignore(reason):
            return f"ignored: {reason}"
    raise TypeError(f"unknown action {action!r}")


async def perform_async(runtime: Runtime, action: Action) -> str:
    """`perform` for async endpoints: a message joins the next group commit without a thread."""
    if isinstance(action, Store):
        return _stored(action.inbound, await ingest_async(runtime.database_url, runtime.redis,
                                                          action.inbound))
    return await run_in_threadpool(perform, runtime, action)


def _stored(inbound: Inbound, inbox_id: int | None) -> str:
    """What storing a webhook's message did, logged by its ids: the first line of its trail."""
    outcome = "stored" if inbox_id is not None else "duplicate"
    log.info(f"inbox {outcome}", extra={"inbox_id": inbox_id, "channel": inbound.channel,
                                        "provider_id": inbound.provider_id})
    return outcome


@dataclass(frozen=True)
class Answered:
    """A synchronous channel's message: its inbox row, whether it came before, its replies;
    for a channel that renders them its own way (a call speaks them), the replies as stored
    (`worker.outbox.reply_body`), what the message was (its outcome) and where the person is
    now: their newest session's survey version and language (else their own language)."""

    inbox_id: int
    duplicate: bool
    replies: list[str]
    said: list[dict[str, Any]] = field(default_factory=list)
    outcome: str | None = None
    survey_pk: int | None = None
    language: str | None = None


def converse(runtime: Runtime, action: Converse) -> Answered:
    """Store the message, step it now (with any earlier ones of the contact), and return the
    replies it got, in order; they are marked sent, as the provider's answer carries them. A
    re-delivered request (same provider id) steps nothing and gets the same replies."""
    inbound = action.inbound
    fetch: str | None = None
    reward_ids: list[int] = []
    with session_scope(runtime.database_url) as db:
        inbox_id = insert_ignore(db, InboxMessage.__table__, inbox_row(inbound),
                                 conflict=["channel", "provider_id"],
                                 returning=InboxMessage.id).scalar()
        duplicate = inbox_id is None
        _stored(inbound, inbox_id)
        if inbox_id is None:  # a re-delivery: the replies it got the first time
            inbox_id = db.scalars(select(InboxMessage.id).where(
                InboxMessage.channel == inbound.channel,
                InboxMessage.provider_id == inbound.provider_id)).one()
            rows = list(db.execute(select(OutboxMessage.seq, OutboxMessage.text,
                                          OutboxMessage.reply)
                                   .where(OutboxMessage.inbox_id == inbox_id)
                                   .order_by(OutboxMessage.seq)))
            outcome = db.scalar(select(InboxMessage.outcome).where(InboxMessage.id == inbox_id))
        else:
            if action.recording is not None:
                fetch = _same_recording_once(db, inbox_id, action.recording)
            handled = process_batch(db, [inbox_id], sender=(inbound.channel, inbound.address))
            reward_ids = handled.reward_ids
            if fetch is not None and action.recording is not None:
                _keep_recording(db, inbound.channel, inbound.address, action.recording)
            said = db.execute(update(OutboxMessage).where(  # the answer carries them: sent
                OutboxMessage.id.in_(handled.outbox_ids), OutboxMessage.inbox_id == inbox_id)
                .values(status="sent", sent_at=utcnow())
                .returning(OutboxMessage.seq, OutboxMessage.text, OutboxMessage.reply)).all()
            rows = sorted(said, key=lambda row: row.seq)
            outcome = handled.outcomes.get(inbox_id)
        survey_pk, language = where_they_are(db, inbound.channel, inbound.address)
        answered = Answered(inbox_id, duplicate, [row.text for row in rows],
                            [row.reply for row in rows], outcome, survey_pk, language)
    if fetch is not None:  # once committed: the job finds the row
        enqueue_recording_fetch(runtime.redis, fetch)
    enqueue_airtime(runtime.redis, reward_ids)  # a completion's thank-you, if the round gives one
    return answered


def where_they_are(db: Session, channel: str, address: str) -> tuple[int | None, str | None]:
    """A contact's newest session's survey version and language (else their own language)."""
    found = db.execute(select(Contact.language, SurveySession.survey_pk, SurveySession.state)
                       .outerjoin(SurveySession, SurveySession.contact_id == Contact.id)
                       .where(Contact.channel == channel, Contact.address == address)
                       .order_by(SurveySession.updated_at.desc().nulls_last(),
                                 SurveySession.id.desc()).limit(1)).first()
    if found is None:
        return None, None
    return found.survey_pk, (found.state or {}).get("lang") or found.language


def _same_recording_once(db: Session, inbox_id: int, recording: Recording) -> str | None:
    """The id of the recording to keep; None when the provider's recording is kept already
    (its request came again as another step): the message then refers to the one kept."""
    kept = db.scalar(select(RecordingRow.id).where(
        RecordingRow.provider_sid == recording.provider_sid))
    if kept is None:
        return recording.id
    db.execute(update(InboxMessage).where(InboxMessage.id == inbox_id)
               .values(text=recordings.reference(kept)))
    return None


def _keep_recording(db: Session, channel: str, address: str, recording: Recording) -> None:
    """The recording's row, in the transaction of the answer that refers to it, with the
    session, question and round whose answer it became (if it became one)."""
    contact_id = db.scalars(select(Contact.id).where(Contact.channel == channel,
                                                     Contact.address == address)).one()
    answer = db.execute(
        select(SurveySession.id, SurveySession.round_id, StoredAnswer.question_id)
        .join(StoredAnswer, StoredAnswer.session_id == SurveySession.id)
        .where(SurveySession.contact_id == contact_id,
               StoredAnswer.raw == recordings.reference(recording.id))).first()
    insert_ignore(db, RecordingRow.__table__, {
        "id": recording.id, "contact_id": contact_id, "provider_sid": recording.provider_sid,
        "provider_url": recording.provider_url, "seconds": recording.seconds,
        "created_at": utcnow(), "session_id": answer.id if answer else None,
        "round_id": answer.round_id if answer else None,
        "question_id": answer.question_id if answer else None}, conflict=["provider_sid"])


def decline(runtime: Runtime, action: Decline) -> str:
    """Record a message heard must not answer as handled: nothing is posted back."""
    with session_scope(runtime.database_url) as db:
        inbox_id = record_handled(db, action.inbound, action.reason)
    return "declined" if inbox_id is not None else "duplicate"


def record_handled(db: Session, inbound: Inbound, outcome: str) -> int | None:
    """Store a message no step answers as handled (its text not kept), with why; its new id,
    or None for a re-delivery."""
    return insert_ignore(db, InboxMessage.__table__,
                         inbox_row(inbound) | {"text": "", "processed_at": utcnow(),
                                               "outcome": outcome},
                         conflict=["channel", "provider_id"], returning=InboxMessage.id).scalar()


def opt_out(runtime: Runtime, channel: str, address: str) -> str:
    """Opt the contact out, as a refusal on sending would: their queued messages are
    suppressed."""
    with session_scope(runtime.database_url) as db:
        changed = cast(CursorResult[Any], db.execute(update(Contact).where(
            Contact.channel == channel, Contact.address == address,
            Contact.opted_out.is_(False)).values(opted_out=True))).rowcount
    log.info("%s contact opted out through the provider: %s changed", channel, changed)
    return "opted out" if changed else "ignored: no such contact"


def record_status(database_url: str, report: Status) -> bool:
    """The outbox row's delivery status (never moving backwards) and what the error means for
    the contact. A report for a message not known yet (it came before the send's provider id
    was committed) waits in `early_statuses` for the sweeper: False then."""
    with session_scope(database_url) as db:
        message = db.scalars(select(OutboxMessage)
                             .where(OutboxMessage.provider_id == report.provider_id)
                             .with_for_update()).first()
        if message is None:
            log.info("status %s for a message not known yet: kept for the sweeper",
                     report.status, extra={"provider_id": report.provider_id,
                                           "status": report.status})
            db.add(EarlyStatus(provider_id=report.provider_id, status=report.status,
                               error_code=report.error_code, opt_out=report.opt_out,
                               unreachable=report.unreachable))
            return False
        apply_status(db, message, report)
        log.info("outbox status", extra={
            "outbox_id": message.id, "inbox_id": message.inbox_id, "channel": message.channel,
            "provider_id": report.provider_id, "status": message.status,
            "error_code": report.error_code})
    return True


FAILED = ("failed", "undelivered")


def apply_status(db: Session, message: OutboxMessage, report: Status | EarlyStatus) -> None:
    """One delivery report on its message and, for errors about the person, their contact; a
    failure it tells first goes to the channel's own handling (WhatsApp's 63016: SMS instead)."""
    told = report.error_code is not None and report.error_code != message.error_code
    if STATUS_RANK[report.status] >= STATUS_RANK.get(message.status, 0):
        message.status = report.status
    if report.error_code is not None:
        message.error_code = report.error_code
    if isinstance(report, Status) and report.minutes is not None:  # a call's, as it was paid
        message.reply = message.reply | {"minutes": report.minutes}
    if message.contact_id is not None and (report.opt_out or report.unreachable):
        values: dict[str, object] = {"opted_out": True} if report.opt_out else {}
        if report.unreachable:
            values["unreachable"] = report.unreachable
        db.execute(update(Contact).where(Contact.id == message.contact_id).values(**values))
    if told and message.status in FAILED:  # (a repeated report changes nothing)
        refused(db, message)


def apply_early_statuses(database_url: str, older_than: timedelta) -> int:
    """Apply the reports that came before their message was known; those whose message never
    turns up (another system's, or a forgery heard could not tell) go after `older_than`."""
    with session_scope(database_url) as db:
        waiting = db.execute(select(EarlyStatus, OutboxMessage)
                             .join(OutboxMessage,
                                   OutboxMessage.provider_id == EarlyStatus.provider_id)
                             .order_by(EarlyStatus.id)).all()
        for report, message in waiting:
            apply_status(db, message, report)
            db.delete(report)
        db.execute(delete(EarlyStatus).where(EarlyStatus.received_at < utcnow() - older_than))
    return len(waiting)
