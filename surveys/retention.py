"""Forget old messages: after HEARD_RETENTION_DAYS their texts, payloads and addresses go.

Recordings (spoken answers: a voice is personal data) go too, after the same days: the
answer keeps its reference, which then leads nowhere (surveys.recordings).

Answers stay: they are the results. What goes is what messages carry about people: the text
they sent and were sent, the provider's payload, their phone number or chat id, send errors
(which may quote a number) and the provider's message id (Telegram's names the chat). Inbox rows
go once processed, outbox rows once nothing is left to send: no work still to do needs them.

Rows are blanked a batch at a time in id order, each batch its own transaction, so memory and
locks stay bounded on millions of rows. A blanked row has the address PURGED and is never
touched again, so running the purge twice, or two at once, blanks nothing twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Subquery, delete, func, or_, select, update
from sqlalchemy.orm import Session

from surveys import audit, recordings
from surveys.channels import trials
from surveys.database import session_scope
from surveys.tables import (
    STILL_TO_SEND,
    Contact,
    InboxMessage,
    OutboxMessage,
    Recording,
    StoredAnswer,
    SurveySession,
    utcnow,
)

PURGED = "purged"  # the address of a purged row ((channel, provider_id) stays unique)
BATCH = 2000
# Reply keys read after a message has gone: worker.share.MARK says which round's results a
# contact was sent, so sharing a round again skips them.
KEPT_REPLY_KEYS = ("summary_round",)
BLANK_OUTBOX: dict[str, Any] = {"address": PURGED, "text": "", "error": None,
                                "provider_id": None}  # and the reply, but for KEPT_REPLY_KEYS


@dataclass(frozen=True)
class Purged:
    """What one purge blanked (in a dry run: would blank), to tell whoever ran it."""

    days: int
    cutoff: datetime
    inbox: int
    outbox: int
    dry_run: bool = False
    recordings: int = 0

    @property
    def messages(self) -> int:
        return self.inbox + self.outbox

    def summary(self) -> str:
        scope = (f"messages older than {self.days} days "
                 f"(before {self.cutoff:%Y-%m-%d %H:%M} UTC)")
        counts = f"{self.inbox} inbox and {self.outbox} outbox messages"
        spoken = f"{self.recordings} recordings"
        if self.dry_run:
            return (f"dry run: would blank {counts} and delete {spoken}, of {scope}; "
                    "nothing changed")
        return (f"{scope}: {counts} blanked (texts, payloads, addresses), {spoken} deleted; "
                "answers kept")


def purge(database_url: str, days: int, actor: str, dry_run: bool = False,
          batch: int = BATCH, now: datetime | None = None) -> Purged:
    """Blank every message older than `days` days; an audit entry says so if any were."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    expired_inbox, expired_outbox = _expired_inbox(cutoff), _expired_outbox(cutoff)
    expired_recordings = Recording.created_at < cutoff
    if dry_run:
        with session_scope(database_url) as db:
            return Purged(days, cutoff, _count(db, InboxMessage, expired_inbox),
                          _count(db, OutboxMessage, expired_outbox), dry_run=True,
                          recordings=recordings.count_forgettable(db, expired_recordings))
    report = Purged(
        days, cutoff,
        inbox=_in_batches(database_url, InboxMessage, expired_inbox, _blank_inbox, batch),
        outbox=_in_batches(database_url, OutboxMessage, expired_outbox, _blank_outbox, batch))
    with session_scope(database_url) as db:  # (few: one statement)
        report = replace(report, recordings=recordings.forget(db, expired_recordings))
    if report.messages or report.recordings:
        with session_scope(database_url) as db:
            audit.record(db, actor, audit.PURGE, days=days, cutoff=cutoff.isoformat(),
                         inbox=report.inbox, outbox=report.outbox,
                         recordings=report.recordings)
    return report


def _expired_inbox(cutoff: datetime) -> ColumnElement[bool]:
    """Processed: the worker never reads a row again after that."""
    return ((InboxMessage.received_at < cutoff) & InboxMessage.processed_at.is_not(None)
            & (InboxMessage.address != PURGED))


def _expired_outbox(cutoff: datetime) -> ColumnElement[bool]:
    """Not still to send: status callbacks find a row by provider id and set only its status."""
    return ((OutboxMessage.created_at < cutoff) & OutboxMessage.status.not_in(STILL_TO_SEND)
            & (OutboxMessage.address != PURGED))


def _count(db: Session, model: Any, expired: ColumnElement[bool]) -> int:
    return db.scalar(select(func.count()).select_from(model).where(expired)) or 0


Blank = Callable[[Session, ColumnElement[bool]], int]


def _in_batches(database_url: str, model: Any, expired: ColumnElement[bool], blank: Blank,
                batch: int) -> int:
    """Blank the expired rows of `model` a batch at a time, one transaction per batch; how many
    were blanked. A batch is an id range (keyset: each costs the same however many came before)
    and is updated by its bounds, so no statement carries thousands of ids."""
    blanked, after = 0, 0
    while True:
        with session_scope(database_url) as db:
            last = db.scalar(select(func.max(_next_batch(model, expired, after, batch).c.id)))
            if last is None:
                return blanked
            blanked += blank(db, expired & (model.id > after) & (model.id <= last))
        after = last


def _next_batch(model: Any, expired: ColumnElement[bool], after: int, batch: int) -> Subquery:
    return (select(model.id).where(expired, model.id > after).order_by(model.id).limit(batch)
            .subquery())


def _blank_inbox(db: Session, rows: ColumnElement[bool]) -> int:
    return _update(db, InboxMessage, rows, address=PURGED, text="", payload={})


def _blank_outbox(db: Session, rows: ColumnElement[bool]) -> int:
    """First the few rows whose reply has a key to keep (a round's results), grouped by what
    they keep; then every other row of the batch in one statement."""
    by_kept: dict[str, list[int]] = defaultdict(list)
    for row_id, reply in db.execute(select(OutboxMessage.id, OutboxMessage.reply)
                                    .where(rows, _keeps_reply_keys())):
        by_kept[json.dumps(_kept(reply), sort_keys=True)].append(row_id)
    blanked = sum(_update(db, OutboxMessage, rows & OutboxMessage.id.in_(ids),
                          reply=json.loads(kept), **BLANK_OUTBOX)
                  for kept, ids in by_kept.items())
    return blanked + _update(db, OutboxMessage, rows, reply={}, **BLANK_OUTBOX)


def _keeps_reply_keys() -> ColumnElement[bool]:
    return or_(*(OutboxMessage.reply[key].as_string().is_not(None) for key in KEPT_REPLY_KEYS))


def _kept(reply: Any) -> dict[str, Any]:
    return {key: reply[key] for key in KEPT_REPLY_KEYS
            if isinstance(reply, dict) and key in reply}


def _update(db: Session, model: Any, rows: ColumnElement[bool], **values: Any) -> int:
    """The expiry is part of `rows`, so it is checked again as rows are updated: a purge
    running at the same time blanks each row once, and counts it once."""
    return cast(CursorResult[Any], db.execute(update(model).where(rows).values(**values)
                      .execution_options(synchronize_session=False))).rowcount


SIMULATOR_DAYS = 1  # a simulated conversation is a trial run: gone a day after its last message


def purge_simulator(database_url: str, now: datetime | None = None) -> int:
    """Delete every simulated contact whose last message is over SIMULATOR_DAYS old, with its
    sessions, answers and messages: the simulator is open to facilitators, and what they
    typed there is nobody's data to keep. How many contacts went."""
    cutoff = (now or utcnow()) - timedelta(days=SIMULATOR_DAYS)
    return sum(_purge_trials(database_url, channel, cutoff) for channel in trials())


def _purge_trials(database_url: str, channel: str, cutoff: datetime) -> int:
    with session_scope(database_url) as db:
        last = (select(InboxMessage.address, func.max(InboxMessage.received_at).label("at"))
                .where(InboxMessage.channel == channel).group_by(InboxMessage.address)
                .subquery())
        stale = list(db.scalars(
            select(Contact.id).outerjoin(last, last.c.address == Contact.address)
            .where(Contact.channel == channel, Contact.created_at < cutoff,
                   or_(last.c.at.is_(None), last.c.at < cutoff))))
        if not stale:
            return 0
        addresses = select(Contact.address).where(Contact.id.in_(stale))
        sessions = select(SurveySession.id).where(SurveySession.contact_id.in_(stale))
        db.execute(delete(StoredAnswer).where(StoredAnswer.session_id.in_(sessions)))
        db.execute(delete(SurveySession).where(SurveySession.contact_id.in_(stale)))
        db.execute(delete(OutboxMessage).where(OutboxMessage.contact_id.in_(stale)))
        db.execute(delete(InboxMessage).where(InboxMessage.channel == channel,
                                              InboxMessage.address.in_(addresses)))
        db.execute(delete(Contact).where(Contact.id.in_(stale)))
    return len(stale)
