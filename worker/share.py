"""Give a round's results back to the people who took part, each on their own channel.

What everyone is told comes from the round's one release (surveys/release.py), cut now if
the round has none: a person hears about their own community when its release is big enough,
else about the whole round, and the heading says which. Participants are the contacts with a
session in the round that answered a question or completed it; the opted-out and the
unreachable get nothing. Every message is an outbox row written in one transaction and marked
with the round, so sharing the same round again sends nothing twice (unless asked to); the
senders. On Telegram a result with a chart goes as an image: the row's reply carries the chart
spec, the text is its caption.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.channels import channel as channel_named
from surveys.database import session_scope
from surveys.engine import Reply
from surveys.release import published, release_of, scope_for
from surveys.sql import insert_ignore
from surveys.summaries import RoundSummary, participating
from surveys.summary_text import Message, messages
from surveys.tables import Contact, OutboxMessage, Round
from worker.outbox import outbox_row, reply_body
from worker.queues import enqueue_outbound

log = logging.getLogger(__name__)
MARK = "summary_round"  # the reply key that says which round's results a row carries


@dataclass(frozen=True)
class ShareReport:
    round_id: int
    participants: int
    sent_to: int
    messages: int
    opted_out: int
    unreachable: int
    already_shared: int


Queued = list[tuple[tuple[str, str], list[int]]]


def share(database_url: str, redis: Redis, round_id: int, k: int | None = None,
          again: bool = False) -> ShareReport:
    """Write every participant's results and queue the sends; LookupError for no such round."""
    with session_scope(database_url) as db:
        report, queued = write_shares(db, round_id, k, again)
    for contact, outbox_ids in queued:
        enqueue_outbound(redis, outbox_ids, contact)
    log.info("round %s results: %s messages to %s contacts", round_id, report.messages,
             report.sent_to)
    return report


def write_shares(db: Session, round_id: int, k: int | None = None,
                 again: bool = False) -> tuple[ShareReport, Queued]:
    """The outbox rows for everyone who took part; (report, outbox ids to queue per contact)."""
    release = release_of(db, round_id, k)
    survey = catalog.survey_of_round(db, db.get_one(Round, round_id))
    scopes: dict[str, RoundSummary] = {}
    sessions = participating(round_id).subquery()
    rows = db.execute(select(Contact, sessions.c.state).join(sessions,
                                                             sessions.c.contact_id == Contact.id)
                      .order_by(Contact.id, sessions.c.id.desc())).all()
    people: dict[int, tuple[Contact, str | None]] = {}
    for contact, state in rows:  # a contact who restarted has several sessions: newest wins
        people.setdefault(contact.id, (contact, (state or {}).get("lang")))
    shared = set() if again else _already_shared(db, round_id)
    cache: dict[tuple[str, str, str], list[Message]] = {}
    queued: Queued = []
    counts = {"opted_out": 0, "unreachable": 0, "already_shared": 0, "messages": 0}
    for contact, session_lang in people.values():
        if contact.opted_out or contact.unreachable:
            counts["opted_out" if contact.opted_out else "unreachable"] += 1
            continue
        if contact.id in shared:
            counts["already_shared"] += 1
            continue
        lang = survey.language_for(contact.language or session_lang)
        scope = scope_for(release, contact.community)
        if scope not in scopes:
            scopes[scope] = published(release, survey, scope)
        key = (scope, lang, contact.channel)
        if key not in cache:
            cache[key] = _for(scopes[scope], lang, contact.channel)
        outbox_ids = _write(db, contact, cache[key], round_id, lang)
        if outbox_ids:
            queued.append(((contact.channel, contact.address), outbox_ids))
            counts["messages"] += len(outbox_ids)
    report = ShareReport(round_id, len(people), len(queued), counts["messages"],
                         counts["opted_out"], counts["unreachable"], counts["already_shared"])
    return report, queued


def _for(summary: RoundSummary, lang: str, channel: str) -> list[Message]:
    if channel_named(channel).charts:
        return messages(summary, lang, charts=True, max_segments=None)
    if channel_named(channel).sms_text:
        return messages(summary, lang)
    return messages(summary, lang, max_segments=None)


def _write(db: Session, contact: Contact, found: list[Message], round_id: int,
           lang: str) -> list[int]:
    """The contact's result messages (in `lang`), marked with the round; their new ids."""
    if not found:
        return []
    rows: list[dict[str, Any]] = []
    for seq, message in enumerate(found):
        reply = Reply(message.text)
        row = outbox_row(contact.id, contact.channel, contact.address, reply, None, seq,
                         reply_body(reply, "results", lang))
        row["reply"][MARK] = round_id
        if message.chart is not None:
            row["reply"]["chart"] = message.chart
        rows.append(row)
    result = insert_ignore(db, OutboxMessage.__table__, rows, conflict=["inbox_id", "seq"],
                           returning=OutboxMessage.id)
    return sorted(row_id for (row_id,) in result)  # ids follow the order the rows were given


def _already_shared(db: Session, round_id: int) -> set[int]:
    return set(db.scalars(select(OutboxMessage.contact_id).distinct().where(
        OutboxMessage.reply[MARK].as_integer() == round_id)))


def close_and_share(database_url: str, redis: Redis, round_id: int) -> tuple[int, ShareReport]:
    """Close the round (its open sessions expire) and send its results to its participants;
    (sessions expired, the share). RoundError for no such round."""
    from worker.rounds import close_round

    with session_scope(database_url) as db:
        expired = close_round(db, round_id)
    return expired, share(database_url, redis, round_id)
