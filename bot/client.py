"""The Bot API client: python-telegram-bot's async `Bot`, callable from synchronous rq jobs.

A worker process keeps one event loop and one `Bot` (with its HTTP connection pool) per thread,
so a send costs one HTTP request rather than a new loop, httpx client (SSL context) and
connection: against the local fake API that is about 230 sends/s, where `asyncio.run` with a
new `Bot` per send managed about 10.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypedDict, TypeVar, Unpack

from telegram import Bot
from telegram.request import HTTPXRequest

from surveys.settings import Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.telegram.org/bot"


class NotConfigured(RuntimeError):
    """TELEGRAM_BOT_TOKEN is not set."""


class Timeouts(TypedDict, total=False):
    """What a caller may set on the bot's HTTPXRequest, in seconds."""

    read_timeout: float
    write_timeout: float
    connect_timeout: float
    pool_timeout: float


def make_bot(settings: Settings | None = None, **request: Unpack[Timeouts]) -> Bot:
    """A `Bot` for TELEGRAM_BOT_TOKEN at TELEGRAM_API_BASE_URL (a local Bot API server or a
    test double; PTB appends the token, or fills in ``{token}``)."""
    settings = settings or get_settings()
    if not settings.telegram_bot_token:
        raise NotConfigured("TELEGRAM_BOT_TOKEN is not set")
    return Bot(settings.telegram_bot_token,
               base_url=settings.telegram_api_base_url or DEFAULT_BASE_URL,
               request=HTTPXRequest(connection_pool_size=8, **request))


@dataclass
class _Client:
    key: tuple[int, str, str]
    loop: asyncio.AbstractEventLoop
    bot: Bot

    def close(self) -> None:
        if self.key[0] != os.getpid():  # a forked child must not touch its parent's loop
            return
        try:
            self.loop.run_until_complete(self.bot.shutdown())
        finally:
            self.loop.close()


_local = threading.local()


def call(method: Callable[[Bot], Awaitable[T]]) -> T:
    """Run `method(bot)` on this thread's loop and Bot, made again when the settings change."""
    settings = get_settings()
    key = (os.getpid(), settings.telegram_bot_token or "",
           settings.telegram_api_base_url or DEFAULT_BASE_URL)
    client: _Client | None = getattr(_local, "client", None)
    if client is None or client.key != key:
        close()
        loop = asyncio.new_event_loop()
        bot = make_bot(settings)
        try:
            loop.run_until_complete(bot.initialize())  # getMe: a wrong token fails here, once
        except BaseException:
            loop.run_until_complete(bot.shutdown())
            loop.close()
            raise
        client = _local.client = _Client(key, loop, bot)
    return client.loop.run_until_complete(method(client.bot))


def close() -> None:
    """Close this thread's client (tests call it; processes just exit)."""
    client: _Client | None = getattr(_local, "client", None)
    _local.client = None
    if client is not None:
        try:
            client.close()
        except Exception as error:  # closing must never fail a send
            log.debug("closing the Bot API client: %s", error)
