"""Do what an update asks: the one path the webhook and the polling runner share.

Messages (photos and voice notes too), edits and answer buttons go to the pipeline like every
channel's actions (`worker.pipeline`), and the conversation decides what they mean; a group's
or channel's message is recorded as handled and never answered. Telegram's own chores (a
button's spinner, check marks) are rq jobs at the front of the outbound queue: a job costs the
webhook ~1 ms, a call to Telegram from here a round trip.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from bot import actions
from bot.adapter import CHANNEL, Acknowledge, Chore, Toggle, read_update
from bot.language import chat_language
from surveys.actions import Action, Store
from surveys.database import session_scope
from worker.pipeline import perform as perform_action
from worker.pipeline import perform_async
from worker.runtime import Runtime


def handle_update(runtime: Runtime, update: object) -> str:
    """Handle one Bot API update; returns what was done (the last action's outcome), for the
    response and the logs. Raises `bot.adapter.NotAnUpdate` for JSON that is not an update."""
    outcome = "ignored: nothing to do"
    for action in read_update(update):
        outcome = perform(runtime, action)
    return outcome


async def handle_update_async(runtime: Runtime, update: object) -> str:
    """`handle_update` for the webhook: a message joins the next group commit from the event
    loop, without holding a thread while it waits; anything else runs in a thread."""
    outcome = "ignored: nothing to do"
    for action in read_update(update):
        if isinstance(action, Store):
            outcome = await perform_async(runtime, action)
        else:
            outcome = await run_in_threadpool(perform, runtime, action)
    return outcome


def perform(runtime: Runtime, action: Action | Chore) -> str:
    """A chore here; everything else as every channel's actions are performed."""
    if isinstance(action, Toggle):
        actions.enqueue_redraw(runtime.redis, action)
        return "toggled"
    if isinstance(action, Acknowledge):
        language = "en"
        if action.notice is not None and action.address is not None:
            with session_scope(runtime.database_url) as db:
                language = chat_language(db, CHANNEL, action.address, action.language_code)
        actions.enqueue_acknowledge(runtime.redis, action, language)
        return "acknowledged"
    return perform_action(runtime, action)
