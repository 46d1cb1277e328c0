"""Button chores done off the webhook, as rq jobs: stop the spinner, redraw check marks.

They run at the front of the outbound queue (a spinner should stop within a second), are not
recorded in the inbox or outbox (nothing is said or answered), and are safe to run twice.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from telegram.error import BadRequest

from bot.adapter import Acknowledge, Toggle
from bot.keyboards import Keyboard
from bot.sender import call, markup, wait_for_slot
from surveys.i18n import translator
from worker.queues import OUTBOUND
from worker.senders import PermanentSendError

log = logging.getLogger(__name__)
CHORE_RETRY = Retry(max=2, interval=[1, 3])  # a callback query expires after a few seconds


def answer_callback(callback_query_id: str, notice: str | None = None,
                    language: str = "en") -> str:
    """answerCallbackQuery, so the person's app stops showing a spinner on the button."""
    text = None
    if notice == "choose_first":
        # TRANSLATORS: a short pop-up in Telegram when Done is pressed with nothing ticked
        text = translator(language).gettext("Choose at least one answer, then press Done.")
    try:
        call(lambda bot: bot.answer_callback_query(callback_query_id, text=text))
    except PermanentSendError as error:  # too old, or already answered: nothing to stop
        log.info("callback %s not answered: %s", callback_query_id, error)
        return "expired"
    return "answered"


def redraw_keyboard(chat_id: int, message_id: int, keyboard: Keyboard,
                    callback_query_id: str) -> str:
    """Answer the press, then show the new check marks on the message's keyboard."""
    answer_callback(callback_query_id)
    wait_for_slot(str(chat_id), per_chat=False)
    try:
        call(lambda bot: bot.edit_message_reply_markup(chat_id, message_id,
                                                       reply_markup=markup(keyboard)))
    except PermanentSendError as error:
        if isinstance(error.__cause__, BadRequest) and "not modified" in str(error):
            return "unchanged"  # the same press delivered twice
        log.info("keyboard of message %s not redrawn: %s", message_id, error)  # (a chat id
        # is the person's address: never logged)
        return "failed"
    return "redrawn"


def enqueue_acknowledge(redis: Redis, action: Acknowledge, language: str = "en") -> bool:
    return _enqueue(redis, "bot.actions.answer_callback", action.callback_query_id,
                    action.notice, language)


def enqueue_redraw(redis: Redis, action: Toggle) -> bool:
    return _enqueue(redis, "bot.actions.redraw_keyboard", action.chat_id, action.message_id,
                    action.keyboard, action.callback_query_id)


def _enqueue(redis: Redis, function: str, *args: Any) -> bool:
    try:
        Queue(OUTBOUND, connection=redis).enqueue(function, *args, at_front=True,
                                                  retry=CHORE_RETRY, job_timeout=30,
                                                  result_ttl=0)
    except RedisError as error:  # best effort: Telegram stops the spinner itself, later
        log.warning("%s not queued: %s", function, error)
        return False
    return True
