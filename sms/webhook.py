"""Twilio webhooks: inbound messages and delivery status callbacks, both signature-checked.

A handler verifies the request, `sms.adapter` reads it into an action and `worker.pipeline`
performs it: nothing here writes.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from heard.routes.deps import get_runtime, request_settings
from sms.adapter import BadPayload, read_message, read_status
from sms.signature import signed_by_twilio
from surveys.settings import Settings, get_settings
from worker.pipeline import perform_async
from worker.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/sms/twilio", tags=["sms"])
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


SettingsDep = Annotated[Settings, Depends(request_settings)]


async def verified_form(request: Request, settings: SettingsDep) -> dict[str, str]:
    """The POSTed form, once X-Twilio-Signature proves Twilio sent it (else 403).

    Twilio signs the public URL it called, so behind a proxy PUBLIC_BASE_URL must be that URL's
    scheme and host.
    """
    form = await posted_form(request)
    signature = request.headers.get("X-Twilio-Signature", "")
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if not settings.twilio_auth_token:
        log.error("TWILIO_AUTH_TOKEN is not set: refusing Twilio webhooks")
        raise HTTPException(403, "Twilio webhooks are not configured (TWILIO_AUTH_TOKEN)")
    if not signed_by_twilio(settings.twilio_auth_token, url, form, signature):
        log.warning("Twilio webhook with a missing or wrong signature for %s", url)
        raise HTTPException(403, "invalid X-Twilio-Signature")
    return form


async def posted_form(request: Request) -> dict[str, str]:
    """The POSTed form's fields, as providers send them (url-encoded: parse_qsl is several times
    faster than a general form parser), or multipart."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", errors="replace")
        return dict(parse_qsl(body, keep_blank_values=True))
    return {key: str(value) for key, value in (await request.form()).items()}


def check_url_secret(secret: str, expected: str | None, variable: str, whose: str) -> None:
    """403 unless the callback URL's `secret` is `expected` (compared in constant time): how
    a provider that signs nothing (Africa's Talking) proves a callback is its own."""
    if not expected:
        log.error("%s is not set: refusing %s callbacks", variable, whose)
        raise HTTPException(403, f"{whose} callbacks are not configured ({variable})")
    if not hmac.compare_digest(secret.encode(), expected.encode()):
        log.warning("%s callback with a wrong secret in its URL", whose)
        raise HTTPException(403, f"wrong secret in the {whose} callback URL")


Form = Annotated[dict[str, str], Depends(verified_form)]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@router.post("")
async def inbound(request: Request) -> Response:
    """An SMS or WhatsApp message. Its check is called here, not as a dependency: most requests
    come this way, and FastAPI's solving of dependencies costs more than the check itself."""
    settings = get_settings()
    form = await verified_form(request, settings)
    try:
        action = read_message(form, settings.default_region or None)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    await perform_async(request.app.state.runtime, action)
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/status")
async def status(form: Form, runtime: RuntimeDep) -> Response:
    try:
        action = read_status(form)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    await perform_async(runtime, action)
    return Response(status_code=204)
