"""Long polling (getUpdates) for machines Telegram cannot reach: same adapter, same inbox.

Each update goes through `bot.dispatch.handle_update`, like a webhook delivery. The offset only
moves past an update once it is stored, so a crash or a database outage re-reads it later;
storing is idempotent on update_id, so reading it twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from telegram import Bot
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter

from bot.adapter import NotAnUpdate
from bot.sender import retry_after_seconds

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "channel_post",
                   "my_chat_member")  # a block: stop writing to them
Handler = Callable[[object], str]


async def poll_once(bot: Bot, handle: Handler, offset: int | None, timeout: int = 30) -> int | None:
    """One getUpdates round; returns the offset to ask for next."""
    updates = await bot.get_updates(offset=offset, timeout=timeout,
                                    allowed_updates=list(ALLOWED_UPDATES))
    for update in updates:
        try:
            outcome = await asyncio.to_thread(handle, update.to_dict())
        except NotAnUpdate as error:  # never stored; skipping it is all there is to do
            outcome = f"skipped: {error}"
        log.info("update %s: %s", update.update_id, outcome)
        offset = update.update_id + 1
    return offset


async def poll(bot: Bot, handle: Handler, stop: asyncio.Event | None = None,
               timeout: int = 30) -> None:
    """Poll until `stop` is set. Network and database trouble waits and tries again."""
    stop = stop or asyncio.Event()
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        try:
            offset = await poll_once(bot, handle, offset, timeout)
            backoff = 1.0
            continue
        except (Conflict, InvalidToken):
            raise  # a webhook is set, or the token is wrong: waiting will not fix it
        except RetryAfter as error:
            log.warning("getUpdates: %s", error)
            backoff = max(backoff, retry_after_seconds(error))
        except NetworkError as error:
            log.warning("getUpdates failed (%s); retrying in %.0fs", error, backoff)
        except Exception:  # the database or Redis is down: keep the offset, try again
            log.exception("storing an update failed; retrying in %.0fs", backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, 60.0)
