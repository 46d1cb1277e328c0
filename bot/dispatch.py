"""Do what an update asks: the one path the webhook and the polling runner share.

Messages and answer buttons go to the inbox like every channel's (`worker.ingest`). What the
engine must not see (a photo, a group chat) is recorded in the inbox as already handled, with
its polite reply in the outbox, in one transaction: a re-delivered update finds the row and
does nothing, and the reply goes out through the same rate-limited, retried sender.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy import update as update_rows
from sqlalchemy.orm import Session

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
from surveys.engine import Reply
from surveys.i18n import translator
from surveys.sql import insert_ignore
from surveys.tables import Contact, InboxMessage, OutboxMessage, utcnow
from worker.ingest import ingest
from worker.outbox import outbox_row
from worker.queues import contact_key, enqueue_outbound
from worker.runtime import Runtime

log = logging.getLogger(__name__)
GROUP_REPLY_EVERY_SECONDS = 24 * 3600  # a group hears "private chats only" once a day


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
    """Record the update as handled and queue one polite reply (a group: once a day)."""
    inbound = action.inbound
    with session_scope(runtime.database_url) as db:
        inbox_id = insert_ignore(
            db, InboxMessage.__table__,
            {"channel": inbound.channel, "provider_id": inbound.provider_id,
             "address": inbound.address, "text": "", "payload": inbound.payload,
             "received_at": inbound.received_at, "processed_at": utcnow(),
             "outcome": action.reason},
            conflict=["channel", "provider_id"], returning=InboxMessage.id).scalar()
        if inbox_id is None:
            return "duplicate"
        if action.reason == "group" and not _first_in_a_while(runtime.redis, inbound.address):
            return "declined quietly"
        language = chat_language(db, CHANNEL, inbound.address, action.language_code)
        outbox_id = insert_ignore(
            db, OutboxMessage.__table__,
            _reply_row(db, inbox_id, inbound.address, polite_reply(action.reason, language)),
            conflict=["inbox_id", "seq"], returning=OutboxMessage.id).scalar()
    enqueue_outbound(runtime.redis, [outbox_id], (CHANNEL, inbound.address))
    return "declined"


def blocked(runtime: Runtime, address: str) -> str:
    """Opt the contact out, as a 403 on sending would: their queued messages are suppressed."""
    with session_scope(runtime.database_url) as db:
        changed = db.execute(update_rows(Contact).where(Contact.channel == CHANNEL,
                                                   Contact.address == address,
                                                   Contact.opted_out.is_(False))
                             .values(opted_out=True)).rowcount
    log.info("telegram chat blocked the bot: %s contact opted out", changed)
    return "opted out" if changed else "ignored: blocked by no known contact"


def polite_reply(reason: str, language: str) -> str:
    t = translator(language)
    if reason == "group":
        # TRANSLATORS: sent once a day to a Telegram group the bot was added to
        return t.gettext("Sorry, I only answer in private chats. Please write to me directly.")
    # TRANSLATORS: the reply to a photo, voice message, sticker, location or file on Telegram
    return t.gettext("Sorry, I can only read text. Please answer with a message or a button.")


def _reply_row(db: Session, inbox_id: int, address: str, text: str) -> dict[str, Any]:
    """An outbox row like the worker's, for a chat that may have no contact (a group)."""
    contact_id = db.scalar(select(Contact.id).where(Contact.channel == CHANNEL,
                                                    Contact.address == address))
    return outbox_row(contact_id, CHANNEL, address, Reply(text), inbox_id, 0)


def _first_in_a_while(redis: Redis, address: str) -> bool:
    try:
        return bool(redis.set(f"{contact_key(CHANNEL, address)}:declined", 1, nx=True,
                              ex=GROUP_REPLY_EVERY_SECONDS))
    except RedisError:
        return True
