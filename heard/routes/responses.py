"""`GET /api/v1/rounds/{id}/responses`: a round's answers for analysts, a page at a time;
`GET /api/v1/surveys/{id}/responses`: every round of a survey as one table, the same way;
`GET /api/v1/surveys/{id}/versions/{v}`: the codebook of a survey version.

Pages are keyset pages on the session id (`after`), so a page costs the same at the start and
at the end of a large round, and rows arriving meanwhile are neither skipped nor repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from sqlalchemy import select

from heard.routes.auth import Analyst, bearer, bearer_in
from heard.routes.deps import MAX_ID, MAX_NUMBER, RowId, get_runtime
from heard.routes.problems import AUTHORIZED, errors
from heard.routes.round_answers import examples
from surveys import catalog
from surveys.audit import export_action, record_api_call
from surveys.codebook import Codebook, codebook
from surveys.database import session_scope
from surveys.exports import (
    Export,
    ExportError,
    NoSuchRound,
    NoSuchSurvey,
    open_export,
    open_survey_export,
)
from surveys.pseudonym import PseudonymKeyError, load_key
from surveys.settings import get_settings
from surveys.tables import SurveyVersion
from worker.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["analysts"], responses=errors(*AUTHORIZED))


class Page(BaseModel):
    columns: list[str] = Field(description="Every column, in export order")
    responses: list[dict[str, Any]] = Field(description="One object per session, by session id")
    next: str | None = Field(description="URL of the next page; null on the last page")


class ResponsePage(Page):
    model_config = examples({
        "round": 7, "columns": ["_session", "_contact", "_language", "source"],
        "responses": [{"_session": 41, "_contact": "c_5e1d0c", "_language": "sw",
                       "source": "tap"}],
        "next": "https://heard.example.org/api/v1/rounds/7/responses?after=41"})

    round: int


class SurveyResponsePage(Page):
    model_config = examples({
        "survey": "water-access", "columns": ["_session", "_round", "_survey_version", "source"],
        "responses": [{"_session": 41, "_round": 7, "_survey_version": 2, "source": "tap"}],
        "next": None})

    survey: str


Limit = Annotated[int, Query(ge=1, le=1000, description="Sessions per page")]
After = Annotated[int, Query(ge=0, le=MAX_ID,
                             description="Session id the previous page ended with")]
Labels = Annotated[str | None, Query(max_length=16,
                                     description="Choice texts in this language (keys stay ids)")]
WithAddresses = Annotated[bool, Query(description="Phone numbers and chat ids (admin only)")]
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@router.get("/rounds/{round_id}/responses", response_model=ResponsePage,
            responses=errors(404, 503))
def responses(
    round_id: RowId,
    request: Request,
    role: Analyst,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Token,
    limit: Limit = 100,
    after: After = 0,
    labels: Labels = None,
    with_addresses: WithAddresses = False,
) -> ResponsePage:
    """One object per session: metadata, `_profile.<field>` keys for declared profile fields
    only, one key per question, `question/choice` 0/1 keys for multi-choice questions; contacts
    are pseudonymous unless an admin asks for addresses."""
    _addresses_allowed(role, with_addresses)
    plan = _planned(lambda key: open_export(runtime.database_url, round_id, key, labels=labels,
                                            with_addresses=with_addresses), runtime)
    rows, following = _page(plan, request, after, limit)
    record_api_call(runtime.database_url, token.credentials if token else None, role,
                    export_action(with_addresses), round_id, format="json", rows=len(rows),
                    after=after, limit=limit, labels=labels)
    return ResponsePage(round=round_id, columns=plan.names, responses=rows, next=following)


@router.get("/surveys/{survey_id}/responses", response_model=SurveyResponsePage,
            responses=errors(404, 503))
def survey_responses(
    survey_id: Annotated[str, Path(max_length=128)],
    request: Request,
    role: Analyst,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    token: Token,
    limit: Limit = 100,
    after: After = 0,
    labels: Labels = None,
    with_addresses: WithAddresses = False,
) -> SurveyResponsePage:
    """Every round of the survey as one table, whichever version each person answered:
    columns the union of the versions', `_round` and `_survey_version` on every row. Rounds
    span communities, so it needs a token for all of them."""
    _addresses_allowed(role, with_addresses)
    if bearer_in(request).communities is not None:
        raise HTTPException(403, "a survey's rounds span communities: this needs a token for "
                                 "all communities")
    plan = _planned(lambda key: open_survey_export(
        runtime.database_url, survey_id, key, labels=labels, with_addresses=with_addresses),
        runtime)
    rows, following = _page(plan, request, after, limit)
    record_api_call(runtime.database_url, token.credentials if token else None, role,
                    export_action(with_addresses), None, survey=survey_id, format="json",
                    rows=len(rows), after=after, limit=limit, labels=labels)
    return SurveyResponsePage(survey=survey_id, columns=plan.names, responses=rows,
                              next=following)


@router.get("/surveys/{survey_id}/versions/{version}", response_model=Codebook,
            responses=errors(404))
def survey_version(
    survey_id: Annotated[str, Path(max_length=128)],
    version: Annotated[int, Path(ge=1, le=MAX_NUMBER)],
    role: Analyst,
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Codebook:
    """The codebook of one version of a survey: per question its type, texts, hint, choices
    with their labels per language, when, constraint, choice_filter; its export columns."""
    with session_scope(runtime.database_url) as db:
        row = db.scalars(select(SurveyVersion).where(SurveyVersion.survey_id == survey_id,
                                                     SurveyVersion.version == version)).first()
        if row is None:
            raise HTTPException(404, f"no version {version} of survey {survey_id!r}")
        return codebook([catalog.survey_of(row)])


def _addresses_allowed(role: str, with_addresses: bool) -> None:
    if with_addresses and role != "admin":
        raise HTTPException(403, "addresses need the admin role")


def _planned(plan: Callable[[bytes], Export], runtime: Runtime) -> Export:
    """An export planned with the deployment's pseudonym key; its errors as HTTP answers."""
    settings = get_settings()
    try:
        return plan(load_key(settings.pseudonym_key, settings.data_dir, runtime.database_url))
    except (NoSuchRound, NoSuchSurvey) as error:
        raise HTTPException(404, str(error)) from None
    except ExportError as error:
        raise HTTPException(422, str(error)) from None
    except PseudonymKeyError as error:  # the deployment's setup, not the request
        raise HTTPException(503, str(error)) from None


def _page(plan: Export, request: Request, after: int, limit: int
          ) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` rows after session `after`, and the next page's URL if there is one."""
    rows = list(plan.records(after, limit + 1))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, str(request.url.include_query_params(after=rows[-1]["_session"]))
