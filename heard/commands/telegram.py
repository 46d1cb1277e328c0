"""`heard telegram set-webhook` and `heard telegram poll`: the two ways updates reach heard."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any

import typer
from telegram.error import Conflict, TelegramError

from bot.client import NotConfigured, make_bot
from bot.dispatch import handle_update
from bot.polling import ALLOWED_UPDATES, poll
from bot.webhook import PATH
from surveys.settings import get_settings
from worker.runtime import migrated_runtime

app = typer.Typer(help="The Telegram bot: webhook registration and long polling.",
                  no_args_is_help=True)


@app.command("set-webhook")
def set_webhook(
    url: str | None = typer.Option(
        None, help="Where Telegram posts updates (default: PUBLIC_BASE_URL + /telegram/webhook)."),
    drop_pending: bool = typer.Option(False, help="Discard updates Telegram is still holding."),
) -> None:
    """Tell Telegram to post updates to heard, signed with TELEGRAM_WEBHOOK_SECRET."""
    settings = get_settings()
    if not settings.telegram_webhook_secret:
        _fail("TELEGRAM_WEBHOOK_SECRET is not set: the webhook would refuse every update")
    target = url or settings.public_base_url.rstrip("/") + PATH

    async def register() -> None:
        async with make_bot(settings) as bot:
            await bot.set_webhook(target, secret_token=settings.telegram_webhook_secret,
                                  allowed_updates=list(ALLOWED_UPDATES),
                                  drop_pending_updates=drop_pending)

    _run(register())
    typer.echo(f"webhook set: {target}")


@app.command("poll")
def poll_updates(
    timeout: int = typer.Option(30, help="Seconds each getUpdates call waits for updates."),
    delete_webhook: bool = typer.Option(
        False, help="Remove a registered webhook first (Telegram serves one or the other)."),
) -> None:
    """Fetch updates with getUpdates until stopped, into the same inbox as the webhook."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long poll otherwise
    runtime = migrated_runtime()

    def handle(update: object) -> str:
        return handle_update(runtime, update)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with make_bot(read_timeout=10.0) as bot:
            if delete_webhook:
                await bot.delete_webhook()
            typer.echo(f"polling as @{bot.username}; Ctrl-C stops")
            await poll(bot, handle, stop, timeout)

    try:
        _run(run())
    except Conflict as error:
        _fail(f"{error}\nA webhook is registered: run with --delete-webhook to poll instead.")


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(coroutine)
    except NotConfigured as error:
        _fail(str(error))
    except Conflict:
        raise
    except TelegramError as error:
        _fail(f"Telegram: {error}")


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)
