"""Recorded prompts for Twilio's `<Play>`: GET /voice/audio/<sha256>, public (a prompt is the
survey's own words, not anyone's data) and cached for good (the address is the content's hash).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from starlette.concurrency import run_in_threadpool

from heard.routes.deps import get_runtime
from surveys import media
from surveys.database import session_scope
from voice.prompts import AUDIO_PATH
from worker.runtime import Runtime

router = APIRouter(prefix=AUDIO_PATH.rstrip("/"), tags=["voice"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
FOR_GOOD = "public, max-age=31536000, immutable"  # a year: the bytes at a hash never change


@router.get("/{sha256}")
async def recording(sha256: str, runtime: RuntimeDep) -> Response:
    """A recording's bytes in their content type; 404 for a hash heard does not hold."""
    if re.fullmatch(media.SHA256, sha256) is None:
        raise HTTPException(404, "no such recording")
    found = await run_in_threadpool(_stored, runtime, sha256)
    if found is None:
        raise HTTPException(404, "no such recording")
    content_type, data = found
    return Response(data, media_type=content_type,
                    headers={"Cache-Control": FOR_GOOD, "ETag": f'"{sha256}"'})


def _stored(runtime: Runtime, sha256: str) -> tuple[str, bytes] | None:
    with session_scope(runtime.database_url) as db:
        row = media.stored(db, sha256)
        return (row.content_type, row.data) if row is not None else None
