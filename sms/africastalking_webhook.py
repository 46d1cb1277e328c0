"""Africa's Talking's callbacks: inbound SMS and delivery reports.

AT signs nothing, so each callback URL carries a secret (AFRICASTALKING_CALLBACK_SECRET),
compared in constant time: /sms/africastalking/SECRET and /sms/africastalking/SECRET/delivery,
set on AT's dashboard. A handler checks the secret, `sms.africastalking` reads the form into an
action and `worker.pipeline` performs it: nothing here writes.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from heard.routes.deps import get_runtime, request_settings
from sms.adapter import BadPayload
from sms.africastalking import read_message, read_status
from sms.webhook import check_url_secret, posted_form
from surveys.settings import Settings
from worker.pipeline import perform_async
from worker.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/sms/africastalking", tags=["sms"])

SettingsDep = Annotated[Settings, Depends(request_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def verified_form(secret: str, request: Request, settings: SettingsDep) -> dict[str, str]:
    """The POSTed form, once the URL's secret proves AT was given it (else 403)."""
    check_url_secret(secret, settings.africastalking_callback_secret,
                     "AFRICASTALKING_CALLBACK_SECRET", "Africa's Talking")
    return await posted_form(request)


Form = Annotated[dict[str, str], Depends(verified_form)]


@router.post("/{secret}")
async def inbound(form: Form, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    try:
        action = read_message(form, settings.default_region or None)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    await perform_async(runtime, action)
    return Response(status_code=200)


@router.post("/{secret}/delivery")
async def delivery(form: Form, runtime: RuntimeDep) -> Response:
    try:
        action = read_status(form)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    await perform_async(runtime, action)
    return Response(status_code=200)
