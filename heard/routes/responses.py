"""`GET /api/v1/rounds/{id}/responses`: a round's answers for analysts, a page at a time.

Pages are keyset pages on the session id (`after`), so a page costs the same at the start and
at the end of a large round, and rows arriving meanwhile are neither skipped nor repeated.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from heard.routes.auth import Analyst, bearer
from heard.routes.deps import MAX_ID, get_runtime
from surveys.audit import export_action, record_api_call
from surveys.exports import ExportError, NoSuchRound, open_export
from surveys.pseudonym import PseudonymKeyError, load_key
from surveys.settings import get_settings
from worker.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["analysts"])


class ResponsePage(BaseModel):
    round: int
    columns: list[str] = Field(description="Every column, in export order")
    responses: list[dict[str, Any]] = Field(description="One object per session, by session id")
    next: str | None = Field(description="URL of the next page; null on the last page")


@router.get("/rounds/{round_id}/responses", response_model=ResponsePage)
def responses(
    round_id: int,
    request: Request,
    role: Analyst,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    limit: int = Query(100, ge=1, le=1000, description="Sessions per page"),
    after: int = Query(0, ge=0, le=MAX_ID, description="Session id the previous page ended with"),
    labels: str | None = Query(None, max_length=16, description="Choice texts in this language"),
    with_addresses: bool = Query(False, description="Phone numbers and chat ids (admin only)"),
) -> ResponsePage:
    """One object per session: metadata, `_profile.<field>` keys for declared profile fields
    only, one key per question, `question/choice` 0/1 keys for multi-choice questions; contacts
    are pseudonymous unless an admin asks for addresses."""
    if with_addresses and role != "admin":
        raise HTTPException(403, "addresses need the admin role")
    settings = get_settings()
    try:
        plan = open_export(runtime.database_url, round_id,
                           load_key(settings.pseudonym_key, settings.data_dir,
                                    runtime.database_url),
                           labels=labels, with_addresses=with_addresses)
    except NoSuchRound as error:
        raise HTTPException(404, str(error)) from None
    except ExportError as error:
        raise HTTPException(422, str(error)) from None
    except PseudonymKeyError as error:  # the deployment's setup, not the request
        raise HTTPException(503, str(error)) from None
    rows = list(plan.records(after, limit + 1))
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        following = str(request.url.include_query_params(after=rows[-1]["_session"]))
    record_api_call(runtime.database_url, token and token.credentials, role,
                    export_action(with_addresses), round_id, format="json", rows=len(rows),
                    after=after, limit=limit, labels=labels)
    return ResponsePage(round=round_id, columns=plan.names, responses=rows, next=following)
