"""`GET /api/v1/recordings/{id}`: a spoken answer's audio, for analysts (and admins) only.

An export shows a call's answer in words as `recording:<id>`; this is where its audio is heard.
A token sees the recordings of its communities' rounds (all, for a token of all); any other,
an unknown or a forgotten (erased, expired) one is 404 alike. Each fetch is an audit entry: a
voice is personal data taken out of heard.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select

from heard.routes.auth import Analyst, bearer, bearer_in
from heard.routes.deps import get_runtime
from heard.routes.problems import AUTHORIZED, errors, media
from surveys import recordings
from surveys.audit import RECORDING, record_api_call
from surveys.database import session_scope
from surveys.tables import Recording, Round
from worker.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["analysts"], responses=errors(*AUTHORIZED))
NOT_FETCHED_RETRY_SECONDS = 60


@router.get("/recordings/{recording_id}", response_class=Response,
            responses=media("audio/x-wav", "The recording's audio, as Twilio made it")
            | errors(404, 503))
def recording(
    request: Request,
    role: Analyst,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    recording_id: str = Path(pattern="^[0-9a-f]{32}$",
                             description="The id in an answer's `recording:<id>`"),
) -> Response:
    """The audio of one recording; 503 (with Retry-After) while it is still to be fetched."""
    with session_scope(runtime.database_url) as db:
        found = db.execute(select(Recording, Round.community)
                           .outerjoin(Round, Round.id == Recording.round_id)
                           .where(Recording.id == recording_id, recordings.remembered())).first()
        if found is None or not bearer_in(request).sees(found[1]):
            raise HTTPException(404, f"no recording {recording_id}")
        row: Recording = found[0]
        audio, kind, round_id = row.audio, row.content_type, row.round_id
        lost = row.provider_deleted_at is not None
    if audio is None:
        if lost:  # Twilio never had it to give
            raise HTTPException(404, f"recording {recording_id} could not be fetched from "
                                     "Twilio")
        raise HTTPException(503, f"recording {recording_id} is still being fetched from "
                                 "Twilio; try again shortly",
                            headers={"Retry-After": str(NOT_FETCHED_RETRY_SECONDS)})
    record_api_call(runtime.database_url, token.credentials if token else None, role, RECORDING,
                    round_id, recording=recording_id, bytes=len(audio))
    return Response(audio, media_type=kind or "audio/x-wav",
                    headers={"Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{recording_id}.wav"'})
