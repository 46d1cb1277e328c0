"""POST /telegram/webhook: verify Telegram's secret header, store the update, answer at once."""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, HTTPException, Request

from bot.adapter import NotAnUpdate
from bot.dispatch import handle_update_async
from surveys.settings import get_settings
from worker.runtime import Runtime

router = APIRouter(tags=["telegram"])
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH = "/telegram/webhook"


@router.post(PATH, responses={400: {"description": "Not a JSON Telegram update"},
                              403: {"description": "Wrong or missing secret token"}})
async def telegram_webhook(request: Request) -> dict[str, str]:
    """One Bot API update. Everything but the check and one insert happens in the workers.

    The answer never carries a "method" field: Telegram would run it as a Bot API call.
    """
    expected = get_settings().telegram_webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(403, f"wrong or missing {SECRET_HEADER} header")
    try:
        update = json.loads(await request.body())
    except (ValueError, RecursionError) as error:  # not UTF-8, or nested past all reason
        raise HTTPException(400, f"request body is not valid JSON: {error}") from error
    runtime: Runtime = request.app.state.runtime
    try:
        outcome = await handle_update_async(runtime, update)
    except NotAnUpdate as error:
        raise HTTPException(400, str(error)) from error
    return {"outcome": outcome}
