"""WhatsApp's 24-hour window: templates outside it, and SMS where WhatsApp refuses a message.

Meta lets a business write free-form only within 24 hours of the person's last message (kept
as `contacts.last_inbound_at` by worker.inbound); later it refuses (Twilio error 63016). So a
message nobody asked for (an invitation, a reminder, results: its row's purpose) to someone
whose window has closed goes as the Content API template configured for its purpose and
language (HEARD_WHATSAPP_TEMPLATES), whose one variable {{1}} carries heard's own words: the
person reads what they would have read free-form, and answers it as they would. A contact's
messages queued together go as one template, and fail with it if it fails. A message WhatsApp
refuses for the window (63016 at the send or in a delivery report; no template configured; too
long for one) fails visibly and, with HEARD_WHATSAPP_SMS_FALLBACK, goes by SMS to the same
number, with the messages its template carried.

How a row goes is decided once, as its send begins (`prepare`, in the transaction that marks it
dispatching), and kept on the row (`reply["outside_window"]`): the sender reads it, a retry
repeats it, and the rows it carries are marked in that same commit, so none is sent twice.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from surveys.channels import channel as channel_named
from surveys.settings import get_settings
from surveys.sql import bulk_insert
from surveys.tables import Contact, OutboxMessage, utcnow
from worker.outbox import LANG, PURPOSE, outbox_row, stored_reply
from worker.queues import enqueue_outbound
from worker.runtime import runtime
from worker.senders import PermanentSendError

log = logging.getLogger(__name__)
PLAN = "outside_window"  # the reply key of a row whose send began with the window closed
FALLBACK_OF = "fallback_of"  # the reply key of an SMS row standing in for a WhatsApp one
SMS = "sms"
MARGIN = timedelta(minutes=10)  # the window is taken to close this early: a send takes time
# {{1}}'s characters at most: Meta's 1024 for a template's body, less the template's own words
# (README: keep them under 120 characters)
TEMPLATE_TEXT_LIMIT = 900
# Meta refuses a variable holding a line break, a tab or more than four spaces in a row: a
# message's lines, and the messages a template carries, are set apart by this instead
SEPARATOR = " · "
_BREAKS = re.compile(r"\s*\n\s*")
_SPACES = re.compile(r"[^\S\n]+")
REFUSALS = frozenset({"63016", "no_template", "too_long"})  # refused for the window: SMS may go
CARRIED = "suppressed"  # the status of a row sent inside another's template
QUEUED = ("pending", "retrying")  # rows a template may carry (not one whose send began)


def prepare(db: Session, message: OutboxMessage) -> None:
    """Free-form while the person's window is open, or for a reply to them; else the plan
    outside it (a template, carrying the contact's next messages, or why none can go)."""
    if PLAN in message.reply or message.inbox_id is not None:
        return  # decided at an earlier attempt, or an answer to a message they just sent
    contact = db.get(Contact, message.contact_id) if message.contact_id is not None else None
    if contact is not None and _window_open(contact, message.channel):
        return
    message.reply = message.reply | {PLAN: _plan(db, message)}


def _window_open(contact: Contact, channel: str) -> bool:
    """Whether the person wrote recently enough for a free-form message (less MARGIN)."""
    window = channel_named(channel).reply_window
    if window is None:
        return True
    return (contact.last_inbound_at is not None
            and contact.last_inbound_at > utcnow() - window + MARGIN)


def _plan(db: Session, message: OutboxMessage) -> dict[str, Any]:
    """The template of the row's purpose and language, its {{1}} the row's text and those of
    the messages queued after it that fit; or a refusal the sender raises."""
    purpose, lang = message.reply.get(PURPOSE), message.reply.get(LANG)
    content_sid = get_settings().whatsapp_template(purpose, lang) if purpose and lang else None
    if content_sid is None:
        wanted = (f"{purpose}:{lang}" if purpose and lang
                  else "this message (its row says not what it is for, nor its language)")
        return _refusal("no_template", f"the person has not written for 24 hours and no "
                        f"WhatsApp template is configured for {wanted} (HEARD_WHATSAPP_TEMPLATES)")
    text = template_text(message.text)
    if len(text) > TEMPLATE_TEXT_LIMIT:
        return _refusal("too_long", f"the person has not written for 24 hours and the message "
                        f"({len(text)} characters) is longer than a WhatsApp template carries "
                        f"({TEMPLATE_TEXT_LIMIT})")
    carried: list[int] = []
    for row in _queued_after(db, message):
        joined = text + SEPARATOR + template_text(row.text)
        if not _goes_with(row, message) or len(joined) > TEMPLATE_TEXT_LIMIT:
            break  # it goes after this template, as the next one or free-form: order is kept
        text = joined
        carried.append(row.id)
        row.status = CARRIED
        row.error = f"sent inside WhatsApp template {content_sid} with outbox {message.id}"
    return {"content_sid": content_sid, "text": text, "carries": carried}


def _refusal(code: str, error: str) -> dict[str, Any]:
    """A plan saying the row cannot go (the sender fails it with `code`), kept for its retries."""
    return {"refused": code, "error": error}


def template_text(text: str) -> str:
    """A message as a template's {{1}} may hold it: its lines set apart by SEPARATOR, runs of
    spaces and tabs made one space."""
    return _SPACES.sub(" ", _BREAKS.sub(SEPARATOR, text.strip()))


def _queued_after(db: Session, message: OutboxMessage) -> list[OutboxMessage]:
    """The contact's next unsent rows, oldest first (locked: they are marked as carried)."""
    return list(db.scalars(select(OutboxMessage)
                           .where(OutboxMessage.contact_id == message.contact_id,
                                  OutboxMessage.id > message.id,
                                  OutboxMessage.status.in_(QUEUED))
                           .order_by(OutboxMessage.id).limit(20).with_for_update()))


def _goes_with(row: OutboxMessage, head: OutboxMessage) -> bool:
    """Whether `row` may ride in `head`'s template: unasked for too, same purpose and language."""
    return (row.channel == head.channel and row.inbox_id is None and PLAN not in row.reply
            and all(row.reply.get(key) == head.reply.get(key) for key in (PURPOSE, LANG)))


def content(message: OutboxMessage) -> dict[str, str]:
    """What Twilio is asked to send for the row: its text, or its template and {{1}}; a
    PermanentSendError when the plan says it cannot go."""
    plan = message.reply.get(PLAN)
    if plan is None:
        return {"body": message.text}
    if "refused" in plan:
        raise PermanentSendError(plan["error"], code=plan["refused"])
    return {"content_sid": plan["content_sid"],
            "content_variables": json.dumps({"1": plan["text"]}, ensure_ascii=False)}


def shows(body: str | None, message: OutboxMessage) -> bool:
    """Whether a message in Twilio's list (its body) is this row's: its text, or a template
    whose body shows the words {{1}} carried among the template's own."""
    plan = message.reply.get(PLAN)
    if plan is None or "refused" in plan:
        return body == message.text
    return plan["text"] in (body or "")


def refused(db: Session, message: OutboxMessage) -> None:
    """WhatsApp refused the row for good: the rows its template carried failed with it, and
    with HEARD_WHATSAPP_SMS_FALLBACK a refusal for the window sends them all by SMS."""
    carried = (message.reply.get(PLAN) or {}).get("carries") or []
    rows = [message, *db.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(carried))
                                 .order_by(OutboxMessage.id))]
    for row in rows[1:]:  # (their error still says whose template they were in)
        row.status, row.error_code = message.status, message.error_code
    if get_settings().whatsapp_sms_fallback and message.error_code in REFUSALS:
        _by_sms(db, rows)


def _by_sms(db: Session, rows: list[OutboxMessage]) -> None:
    """The rows again on SMS to the same number: new outbox rows, rendered for SMS and queued
    once this transaction commits. The WhatsApp rows keep their failure."""
    outbox_ids = bulk_insert(db, OutboxMessage.__table__, [
        outbox_row(row.contact_id, SMS, row.address, stored_reply(row.reply), None, seq,
                   {key: value for key, value in row.reply.items() if key != PLAN}
                   | {FALLBACK_OF: row.id})
        for seq, row in enumerate(rows)], ids=True)
    contact = (rows[0].channel, rows[0].address)  # queued behind the contact's running job

    def queue(_: Session) -> None:
        """Only once committed: a job that ran sooner would find no rows to send."""
        enqueue_outbound(runtime().redis, outbox_ids, contact)

    event.listen(db, "after_commit", queue, once=True)
    log.info("outbox %s: WhatsApp refused it (%s): %s SMS queued instead", rows[0].id,
             rows[0].error_code, len(outbox_ids))
