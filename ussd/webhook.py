"""Africa's Talking USSD callbacks: a session's each step, and the notice that it ended.

AT does not sign its callbacks, so their URL carries a secret (HEARD_USSD_SECRET), compared in
constant time: /ussd/africastalking/<secret> for the session, .../<secret>/end for AT's
end-of-session notification. A wrong or missing one is refused (403) before the form is read.
The handler verifies, `ussd.adapter` reads, `ussd.session` runs the conversation inline and
answers with its screen; nothing here writes.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from heard.routes.deps import get_runtime, request_settings
from sms.adapter import BadPayload
from sms.webhook import check_url_secret, posted_form
from surveys.settings import Settings
from ussd.adapter import read_callback, read_session_end
from ussd.continuation import continue_elsewhere
from ussd.session import respond
from worker.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/ussd/africastalking", tags=["ussd"])
SettingsDep = Annotated[Settings, Depends(request_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def verified_form(request: Request, secret: str, settings: SettingsDep) -> dict[str, str]:
    """The POSTed form, once the URL's secret is HEARD_USSD_SECRET (else 403)."""
    check_url_secret(secret, settings.ussd_secret, "HEARD_USSD_SECRET", "USSD")
    return await posted_form(request)


Form = Annotated[dict[str, str], Depends(verified_form)]


@router.post("/{secret}")
async def session(form: Form, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    """One step of a session: CON and the next screen, or END and the last."""
    try:
        callback = read_callback(form, settings.default_region or None)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    answer = await run_in_threadpool(respond, runtime, settings, callback)
    return Response(answer, media_type="text/plain; charset=utf-8")


@router.post("/{secret}/end")
async def ended(form: Form, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    """A session is over; one that dropped goes on as its round says (dialled again, or SMS)."""
    try:
        end = read_session_end(form, settings.default_region or None)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    if end.dropped:
        await run_in_threadpool(continue_elsewhere, runtime, end)
    return Response(status_code=204)
