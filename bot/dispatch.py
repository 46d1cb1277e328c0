"""Do what an update asks: the one path the webhook and the polling runner share.

Messages (photos and voice notes too), edits and answer buttons go to the inbox like every
channel's (`worker.ingest`), and the conversation decides what they mean. A group's or
channel's message is recorded in the inbox as already handled and never answered: a
re-delivered update finds the row and does nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import update as update_rows

from bot import actions
from bot.adapter import (
    CHANNEL,
    Acknowledge,
    Action,
    Blocked,
    Decline,
    Ignore,
    Store,
    Toggle,
    read_update,
)
from bot.language import chat_language
from surveys.database import session_scope
from surveys.sql import insert_ignore
from surveys.tables import Contact, InboxMessage, utcnow
from worker.ingest import ingest
from worker.runtime import Runtime

log = logging.getLogger(__name__)


def handle_update(runtime: Runtime, update: object) -> str:
    """Handle one Bot API update; returns what was done, for the response and the logs.

    Raises `bot.adapter.NotAnUpdate` for JSON that is not an update.
    """
    return perform(runtime, read_update(update))


def perform(runtime: Runtime, action: Action) -> str:
    """Every button press gets an answerCallbackQuery job (at the front of the outbound queue):
    an rq job costs the webhook ~1 ms, a call to Telegram from here would cost a round trip."""
    match action:
        case Store(inbound, callback_query_id):
            if callback_query_id is not None:
                actions.enqueue_acknowledge(runtime.redis, Acknowledge(callback_query_id))
            stored = ingest(runtime.database_url, runtime.redis, inbound)
            return "stored" if stored is not None else "duplicate"
        case Decline():
            return decline(runtime, action)
        case Toggle():
            actions.enqueue_redraw(runtime.redis, action)
            return "toggled"
        case Acknowledge(_, notice, address, language_code):
            language = "en"
            if notice is not None and address is not None:
                with session_scope(runtime.database_url) as db:
                    language = chat_language(db, CHANNEL, address, language_code)
            actions.enqueue_acknowledge(runtime.redis, action, language)
            return "acknowledged"
        case Blocked(address):
            return blocked(runtime, address)
        case Ignore(reason):
            return f"ignored: {reason}"
    raise TypeError(f"unknown action {action!r}")


def decline(runtime: Runtime, action: Decline) -> str:
    """Record a group's or channel's update as handled: nothing is posted there."""
    inbound = action.inbound
    with session_scope(runtime.database_url) as db:
        inbox_id = insert_ignore(
            db, InboxMessage.__table__,
            {"channel": inbound.channel, "provider_id": inbound.provider_id,
             "address": inbound.address, "text": "", "payload": inbound.payload,
             "received_at": inbound.received_at, "processed_at": utcnow(),
             "outcome": action.reason},
            conflict=["channel", "provider_id"], returning=InboxMessage.id).scalar()
    return "declined" if inbox_id is not None else "duplicate"


def blocked(runtime: Runtime, address: str) -> str:
    """Opt the contact out, as a 403 on sending would: their queued messages are suppressed."""
    with session_scope(runtime.database_url) as db:
        changed = db.execute(update_rows(Contact).where(Contact.channel == CHANNEL,
                                                   Contact.address == address,
                                                   Contact.opted_out.is_(False))
                             .values(opted_out=True)).rowcount
    log.info("telegram chat blocked the bot: %s contact opted out", changed)
    return "opted out" if changed else "ignored: blocked by no known contact"


