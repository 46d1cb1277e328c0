"""Twilio Voice webhook: each request of a call, signature-checked like SMS's.

The handler verifies the request, `voice.adapter` reads it into a `Converse` action and
`voice.call` runs it through `worker.pipeline.converse` and says the replies: nothing here
writes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from heard.routes.deps import get_runtime
from sms.adapter import BadPayload
from sms.webhook import EMPTY_TWIML, Form, SettingsDep
from surveys.actions import Ignore
from surveys.messages import Inbound
from voice.adapter import CHANNEL, CallBack, MenuAsked, read_call, read_call_status
from voice.call import answer, call_back, menu
from worker.pipeline import perform_async
from worker.runtime import Runtime

router = APIRouter(prefix="/voice/twilio", tags=["voice"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@router.post("")
async def call(request: Request, form: Form, settings: SettingsDep,
               runtime: RuntimeDep) -> Response:
    try:
        action = read_call(form, request.query_params, settings.default_region or None)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    if isinstance(action, Ignore):  # the call is over: nothing to say
        return Response(EMPTY_TWIML, media_type="text/xml")
    if isinstance(action, MenuAsked):
        return Response(await run_in_threadpool(menu, runtime, settings, action),
                        media_type="text/xml")
    twiml = await run_in_threadpool(answer, runtime, settings, action)
    return Response(twiml, media_type="text/xml")


@router.post("/status")
async def status(form: Form, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    """How a call ended: a call heard made, as its row's delivery report (one nobody answered
    is called again); a call to heard hung up before it was answered, called back (when on)."""
    try:
        action = read_call_status(form, settings.default_region or None, settings.call_back)
    except BadPayload as error:
        raise HTTPException(400, str(error)) from None
    if isinstance(action, CallBack):
        await run_in_threadpool(call_back, runtime, Inbound(
            CHANNEL, action.address, "", f"{action.call_sid}:0", payload={"step": 0}))
    else:
        await perform_async(runtime, action)
    return Response(status_code=204)
