"""The console's surveys: every survey's versions, and a YAML upload validated as `heard
survey validate` does (every problem at its line and column; the SMS segments per language)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from heard.routes.console.base import (
    ACTING,
    RuntimeDep,
    SessionCookie,
    acting,
    counted,
    page,
    priced,
    signed_in_user,
)
from sms.fit import MAX_SEGMENTS, max_segments
from surveys import catalog
from surveys.database import session_scope
from surveys.i18n import Translator, translator
from surveys.media import uploaded_files
from surveys.model import Survey
from surveys.settings import get_settings
from surveys.tables import SurveyVersion
from surveys.users import SignedIn
from surveys.validation import SurveyError, parse_survey
from worker.rounds import sms_per_person

router = APIRouter(include_in_schema=False)


@router.get("/console/surveys", response_class=HTMLResponse)
def surveys_page(runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    """Every survey and its versions, and a form to upload one."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        return _surveys(db, user)


@router.post("/console/surveys", response_class=HTMLResponse)
async def upload_survey(request: Request, runtime: RuntimeDep, cookie: SessionCookie = None
                        ) -> Response:
    """A survey YAML file (and the recordings it names, `audio`), validated as `heard survey
    validate` does: stored as a version, or every problem at its line and column; then what its
    messages cost by SMS per language."""
    form = await request.form()
    upload, csrf = form.get("file"), str(form.get("csrf") or "")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    name = (upload.filename if isinstance(upload, UploadFile) else None) or "upload.yaml"
    recordings = {recording.filename: await recording.read() for recording in form.getlist("audio")
                  if isinstance(recording, UploadFile) and recording.filename}
    with session_scope(runtime.database_url) as db:
        user = acting(db, cookie, csrf)
        t = translator(user.language)
        try:
            survey = parse_survey(data.decode("utf-8-sig"), name, uploaded_files(recordings))
        except UnicodeDecodeError:
            return _surveys(db, user, problems=[t.gettext(
                "{file} is not UTF-8 text: save it as UTF-8 and upload it again.", file=name)],
                status=422)
        except SurveyError as error:
            return _surveys(db, user, problems=[str(problem) for problem in error.problems],
                            status=422)
        row = catalog.register(db, survey)
        stored = {"survey": row.survey_id, "version": row.version,
                  "segments": max_segments(survey), "most": MAX_SEGMENTS,
                  "per_person": _per_person(survey, t)}
        return _surveys(db, user, stored=stored)


def _per_person(survey: Survey, t: Translator) -> dict[str, dict[str, str]]:
    """Per language, one person's whole conversation by SMS (typical to longest path) and its
    cost at HEARD_PRICE_PER_SEGMENT, in the user's words."""
    price = get_settings().price_per_segment
    said = {}
    for lang in survey.languages:
        cost = sms_per_person(survey, lang)
        low, high = cost["typical_segments"], cost["longest_segments"]
        said[lang] = {"segments": counted(t, "segments", low, high),
                      "cost": priced(t, low * price, high * price)}
    return said


def _surveys(db: Session, user: SignedIn, problems: list[str] | None = None,
             stored: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The surveys page: each survey's versions, newest first; what the last upload did."""
    versions: dict[str, list[int]] = {}
    for survey_id, version in db.execute(select(SurveyVersion.survey_id, SurveyVersion.version)
                                         .order_by(SurveyVersion.survey_id,
                                                   SurveyVersion.version.desc())):
        versions.setdefault(survey_id, []).append(version)
    return HTMLResponse(page("console_surveys.html", user.language, user=user,
                             versions=versions, problems=problems, stored=stored,
                             acts=user.role in ACTING), status_code=status)
