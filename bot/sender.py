"""Send one outbox row to Telegram: reply text, buttons for choices, within Telegram's limits.

Telegram allows a bot about 30 messages a second overall and about one a second per chat (short
bursts are tolerated). Every worker process takes its slots from one Redis limiter, so the
limits hold however many workers run. Errors become the worker's retry decisions:
429 and network trouble are transient; 403 (the person blocked the bot) opts the contact out.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot import client
from bot.charts import render_bar_chart
from bot.keyboards import Keyboard, keyboard_for
from bot.language import chat_language
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.tables import OutboxMessage
from worker.queues import contact_key
from worker.ratelimit import RateLimited, acquire, pause
from worker.runtime import runtime
from worker.senders import PermanentSendError, Sender, TransientSendError

log = logging.getLogger(__name__)
T = TypeVar("T")
CHANNEL = "telegram"
BOT_KEY = "heard:rate:telegram"
PER_BOT_PER_SECOND = 30.0
PER_CHAT_PER_SECOND = 1.0
PER_CHAT_BURST = 3
MAX_WAIT_SECONDS = 5.0  # longer waits go back to the queue instead of holding a worker
MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024  # Telegram's limit for a photo's caption


def telegram_sender() -> Sender:
    """Telegram's sender factory (surveys/channels.py): cheap, the Bot client is kept per
    process in `bot.client`."""
    return send


def send(message: OutboxMessage) -> str:
    """Send `message`; returns "<chat id>:<message id>", Telegram's id for it.

    A reply with a "chart" (a summary sentence) goes as a photo of the chart, the text as its
    caption.
    """
    reply = message.reply or {}
    text = str(reply.get("text") or message.text)
    keyboard = keyboard_for(reply, _done_label(message)) if reply.get("choices") else None
    chat_id = chat_id_of(message.address)
    chart = reply.get("chart")
    if chart:
        photo = render_bar_chart(chart)
        caption = _cut(text, MAX_CAPTION)
        wait_for_slot(message.address)
        sent: Message = call(lambda bot: bot.send_photo(chat_id, photo=photo, caption=caption,
                                                        reply_markup=markup(keyboard)),
                             message.address)
    else:
        text = _cut(text, MAX_TEXT)
        wait_for_slot(message.address)
        sent = call(lambda bot: bot.send_message(chat_id, text, reply_markup=markup(keyboard)),
                    message.address)
    return f"{sent.chat_id}:{sent.message_id}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def wait_for_slot(address: str, per_chat: bool = True) -> None:
    """Block until this bot (and this chat) may send again; TransientSendError if too long."""
    redis = runtime().redis
    try:
        if per_chat:
            acquire(redis, chat_key(address), PER_CHAT_PER_SECOND, burst=PER_CHAT_BURST,
                    max_wait=MAX_WAIT_SECONDS)
        acquire(redis, BOT_KEY, PER_BOT_PER_SECOND, max_wait=MAX_WAIT_SECONDS,
                meter="telegram_bot")
    except RateLimited as error:
        raise TransientSendError(str(error)) from error


def call(method: Callable[[Bot], Awaitable[T]], address: str | None = None) -> T:
    """`client.call`, with Telegram's errors turned into the worker's send errors.

    A 429 holds off every send to the chat at `address` for the time Telegram asked.
    """
    try:
        return client.call(method)
    except client.NotConfigured as error:  # fixable by configuration: worth retrying
        raise TransientSendError(str(error)) from error
    except RetryAfter as error:
        seconds = retry_after_seconds(error)
        if address is not None:
            pause(runtime().redis, chat_key(address), seconds, PER_CHAT_PER_SECOND,
                  burst=PER_CHAT_BURST)
        raise TransientSendError(f"Telegram flood control: retry after {seconds:g}s",
                                 code="429") from error
    except Forbidden as error:
        if "deactivated" in str(error).lower():  # the account is deleted: nobody to ask again
            raise PermanentSendError(str(error), code="deactivated",
                                     unreachable="deactivated") from error
        # Blocked: an opt-out. Unblocking sends /start, which is START: they opt back in.
        raise PermanentSendError(str(error), code="blocked", opt_out=True) from error
    except ChatMigrated as error:
        raise PermanentSendError(str(error), code="chat_migrated") from error
    except BadRequest as error:  # bad markup, too long: sending again will not help
        if "chat not found" in str(error).lower():
            raise PermanentSendError(str(error), code="chat_not_found",
                                     unreachable="chat_not_found") from error
        raise PermanentSendError(str(error), code="bad_request") from error
    except InvalidToken as error:  # a rotated or mistyped token: fixable, so retried
        raise TransientSendError(f"Telegram refused the bot token: {error}") from error
    except (NetworkError, TelegramError) as error:  # timeouts, 5xx, connection errors
        raise TransientSendError(f"Telegram: {error}", code="network_or_server") from error


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form is going away
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    if keyboard is None:
        return None
    return InlineKeyboardMarkup.de_json({"inline_keyboard": keyboard}, None)


def chat_key(address: str) -> str:
    return f"{contact_key(CHANNEL, address)}:rate"


def chat_id_of(address: str) -> int | str:
    """Chat ids are integers; an "@channel" username is passed on as it is."""
    try:
        return int(address)
    except ValueError:
        return address


def _done_label(message: OutboxMessage) -> str:
    """"Done" in the contact's language (read apart: a send holds no transaction open)."""
    language = "en"
    if (message.reply or {}).get("multi"):
        with session_scope(runtime().database_url) as db:
            language = chat_language(db, message.channel, message.address)
    # TRANSLATORS: Telegram button under a question with several answers: sends the ticked ones
    return translator(language).gettext("Done")
