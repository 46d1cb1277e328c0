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
from voice.adapter import read_call
from voice.call import answer
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
    twiml = await run_in_threadpool(answer, runtime, settings, action)
    return Response(twiml, media_type="text/xml")
