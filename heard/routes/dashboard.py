"""A round's dashboard: for analysts (every figure, free text) and public (suppressed only).

`/rounds/{id}` needs an analyst (or admin) token: a bearer header, or a sign-in (the page's form
posts it; a `?token=` link works once and redirects) that keeps it in an HttpOnly cookie.
`/api/v1/rounds/{id}/summary` is the same as JSON for admins; every other role gets the round's
release. `/results/{token}` is the public page of a published round (`heard round publish`):
its unguessable address is withdrawn by unpublishing. It renders the round's stored release
(surveys/release.py) and nothing else: no free text, no sensitive question, no figure the audit
did not pass. Charts are SVG drawn on the server, so the page works offline and without
JavaScript; for a language written right to left the page is `dir="rtl"` and its charts are
mirrored. Everything people wrote is HTML-escaped (Jinja2 autoescape).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from babel import Locale, UnknownLocaleError
from fastapi import APIRouter, Cookie, Depends, Form, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select
from sqlalchemy.orm import Session

from heard.routes.auth import Reader, round_in_scope
from heard.routes.deps import RowId, get_runtime
from heard.routes.problems import AUTHORIZED, errors
from heard.routes.round_answers import SummaryFigures
from surveys import catalog
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.release import ROUND, NotYetReleased, public_path, published, release_of
from surveys.settings import get_settings
from surveys.summaries import (
    NOT_GIVEN,
    QuestionSummary,
    RoundSummary,
    Table,
    as_dict,
    responses_per_day,
    summarise,
    text_answers,
)
from surveys.suppression import TOTAL, suppress
from surveys.tables import Release, Round
from surveys.tokens import bearer_of
from worker.runtime import Runtime

router = APIRouter()
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "static"),
                        autoescape=True, trim_blocks=True, lstrip_blocks=True)
ROLES = ("analyst", "admin")
COOKIE = "heard_dashboard"  # the analyst's token, HttpOnly: scripts and other sites can't read it
SIGNED_IN_SECONDS = 8 * 3600


@router.get("/api/v1/rounds/{round_id}/summary", tags=["rounds"], response_model=SummaryFigures,
            response_model_exclude_unset=True, responses=errors(*AUTHORIZED, 404, 409))
def round_summary(round_id: RowId, role: Reader, runtime: RuntimeDep,
                  public: bool = Query(False, description="Only what may be published"),
                  community: str | None = Query(None, description="One community's release")
                  ) -> dict[str, Any]:
    """Counts, shares and number statistics per question, overall and by profile group.

    Admins may see the live, unsuppressed figures; everyone else (and `public=true`) gets the
    round's release, the same figures every outlet publishes.
    """
    with session_scope(runtime.database_url) as db:
        if role == "admin" and not public:
            return as_dict(_summary(db, round_id), public=False)
        return as_dict(_released(db, round_id, community)[0], public=True)


@router.get("/rounds/{round_id}", response_class=HTMLResponse, include_in_schema=False)
def dashboard(round_id: RowId, runtime: RuntimeDep, token: str | None = None,
              authorization: Annotated[str | None, Header()] = None,
              signed_in: Annotated[str | None, Cookie(alias=COOKIE)] = None,
              lang: str | None = None) -> Response:
    if token:  # a link with ?token=: sign in, then take the token out of the address bar
        return _sign_in(runtime, round_id, token, lang)
    if authorization and authorization.lower().startswith("bearer "):
        signed_in = authorization[7:].strip()
    with session_scope(runtime.database_url) as db:
        found = bearer_of(db, signed_in) if signed_in else None
        if found is None or found.role not in ROLES:
            return _refused(401 if found is None else 403, round_id, lang)
        if not round_in_scope(db, found, round_id):
            raise HTTPException(404, f"no round {round_id}")
        return HTMLResponse(results_html(db, round_id, public=False, lang=lang))


def same_origin(request: Request) -> None:
    """A form post from heard's own page only: another site's page posting its own token
    would sign the analyst in as someone else (login CSRF). Browsers say where a post comes
    from (Sec-Fetch-Site, else Origin); a post that says another site is refused."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None:
        allowed = site in ("same-origin", "none")
    elif origin:
        own = {get_settings().public_base_url.rstrip("/"),
               f"{request.url.scheme}://{request.headers.get('host', '')}"}
        allowed = origin.rstrip("/") in own
    else:
        allowed = True  # not a browser: no cookie of the analyst's to ride on
    if not allowed:
        raise HTTPException(403, "a sign-in must come from heard's own page")


@router.post("/rounds/{round_id}/sign-in", include_in_schema=False,
             dependencies=[Depends(same_origin)])
def sign_in(round_id: RowId, runtime: RuntimeDep, token: Annotated[str, Form()] = "",
            lang: Annotated[str | None, Form()] = None) -> Response:
    """The sign-in form posts the token: it never appears in a URL, a log or the history."""
    return _sign_in(runtime, round_id, token.strip(), lang)


def _sign_in(runtime: Runtime, round_id: int, token: str, lang: str | None) -> Response:
    with session_scope(runtime.database_url) as db:
        found = bearer_of(db, token) if token else None
    if found is None or found.role not in ROLES:
        return _refused(401 if found is None else 403, round_id, lang)
    target = f"/rounds/{round_id}" + (f"?{urlencode({'lang': lang})}" if lang else "")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=SIGNED_IN_SECONDS, path="/rounds", httponly=True,
                        samesite="strict",
                        secure=get_settings().public_base_url.startswith("https://"))
    return response


@router.get("/results/{token}", response_class=HTMLResponse, include_in_schema=False)
def public_dashboard(token: str, runtime: RuntimeDep, lang: str | None = None,
                     community: str | None = None) -> HTMLResponse:
    """A published round's results; an unknown or withdrawn address is simply not found."""
    with session_scope(runtime.database_url) as db:
        round_id = db.scalar(select(Round.id).where(Round.public_token == token)) \
            if token else None
        if round_id is None:
            raise HTTPException(404, "no published results at this address")
        return HTMLResponse(results_html(db, round_id, public=True, lang=lang, community=community))


def _summary(db: Session, round_id: int) -> RoundSummary:
    try:
        return summarise(db, round_id)
    except LookupError as error:
        raise HTTPException(404, f"no round {round_id}") from error


def _released(db: Session, round_id: int, community: str | None = None
              ) -> tuple[RoundSummary, Release]:
    """One scope of the round's release (cut now if it has none yet), and the release."""
    try:
        release = release_of(db, round_id)
    except LookupError as error:
        raise HTTPException(404, f"no round {round_id}") from error
    except NotYetReleased as error:
        raise HTTPException(409, str(error)) from None
    if community is not None and community not in release.figures["scopes"]:
        raise HTTPException(404, f"round {round_id} has no release for community {community!r}")
    survey = catalog.survey_of_round(db, db.get_one(Round, round_id))
    return published(release, survey, community or ROUND), release


def results_html(db: Session, round_id: int, public: bool, lang: str | None,
                 community: str | None = None,
                 may_see: Callable[[str | None], bool] = lambda community: True) -> str:
    """A round's results page: every figure (analysts), or its release only (`public`), of
    the whole round or one community of it (among those the reader `may_see`)."""
    choices: list[str] = []
    if public:
        summary, release = _released(db, round_id, community)
        starts = [(day["day"], day["count"]) for day in release.figures["days"]]
        choices = sorted(scope for scope, figures in release.figures["scopes"].items()
                         if scope != ROUND and figures["participants"] is not None
                         and may_see(scope))
    else:
        summary = _summary(db, round_id)
        starts = responses_per_day(db, round_id)
    survey = summary.survey
    asked, lang = lang, survey.language_for(lang)
    answers = {} if public else text_answers(db, round_id)
    shown = [item for item in summary.questions.values()
             if not (public and item.question.sensitive)]
    return _render(
        lang, public=public, round_id=round_id, k=summary.k,
        title=survey.title.get(lang, survey.id), survey=survey, community=summary.community,
        choices=choices, chosen=community, keep_lang=asked,
        participants=release.figures["scopes"][community or ROUND]["participants"] if public
        else summary.participants,  # (the release's: None when it hides how few took part)
        days=_released_days(starts) if public else _days(starts, summary.k, public),
        public_url=public_path(db.get_one(Round, round_id)),
        questions=[_question(item, summary, lang, public, answers.get(item.question.id, []))
                   for item in shown])


def _refused(status: int, round_id: int, lang: str | None) -> HTMLResponse:
    return HTMLResponse(_render(lang or "en", refused=status, round_id=round_id, keep_lang=lang),
                        status_code=status)


def _render(lang: str, **context: Any) -> str:
    """The page in `lang`: heard's words through its catalogs, numbers in the locale's digits."""
    t = translator(lang)
    return TEMPLATES.get_template("dashboard.html").render(
        _=t.gettext, ngettext=t.ngettext, number=t.number, lang=lang,
        direction=direction_of(lang), **context)


@cache
def direction_of(lang: str) -> str:
    """"rtl" for a language written right to left (as Babel's CLDR data has it), else "ltr"."""
    try:
        order = Locale.parse(lang.strip().replace("-", "_")).character_order
    except (UnknownLocaleError, ValueError, TypeError):
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"


def _days(days: list[tuple[str, int]], k: int, public: bool) -> list[dict[str, Any]]:
    """People starting per day; publicly, days with fewer than k are hidden (and one more)."""
    counts = {(day, TOTAL): count for day, count in days}
    counts[(TOTAL, TOTAL)] = sum(count for _, count in days)
    hidden = suppress(counts, k)
    top = max((count for _, count in days), default=0) or 1
    return [{"day": day, "count": None if public and (day, TOTAL) in hidden else count,
             "ratio": 0 if public and (day, TOTAL) in hidden else count / top,
             "suppressed": (day, TOTAL) in hidden} for day, count in days]


def _released_days(starts: list[tuple[str, int | None]]) -> list[dict[str, Any]]:
    """People starting per day as the release has them (hidden days as None)."""
    top = max((count or 0 for _, count in starts), default=0) or 1
    return [{"day": day, "count": count, "ratio": (count or 0) / top,
             "suppressed": count is None} for day, count in starts]


def _question(item: QuestionSummary, summary: RoundSummary, lang: str, public: bool,
              answers: list[str]) -> dict[str, Any]:
    question = item.question
    t = translator(lang)
    labels = _labels(item, lang)
    table = item.overall
    view: dict[str, Any] = {
        "id": question.id, "type": question.type, "text": question.text.get(lang, question.id),
        "respondents": _figure(table, TOTAL, TOTAL, public),
        "bars": [_bar(table, TOTAL, value, labels.get(value, value), public, t)
                 for value in table.values],
        "stats": _stats(table, TOTAL, public, t),
        "answers": [] if public else answers,
        "tables": []}
    if view["stats"] is not None:
        low = question.low if question.low is not None else min(0.0, view["stats"]["low"])
        high = question.high if question.high is not None else view["stats"]["high"]
        high = high if high > low else low + 1
        view["scale"] = (low, high, t.number(low), t.number(high))
    for dimension, by in item.by.items():
        if len(by.groups) < 2:  # one group is the total again
            continue
        if public and summary.survey.question_index.get(dimension) is not None and \
                summary.survey.question(dimension).sensitive:
            continue
        group_labels = _group_labels(summary, dimension, lang)
        view["tables"].append({
            "dimension": _dimension_label(summary, dimension, lang),
            "columns": [labels.get(value, value) for value in by.values],
            "groups": [{"label": group_labels.get(group, group) if group != NOT_GIVEN
                        else "not given",
                        "respondents": _figure(by, group, TOTAL, public),
                        "cells": [_bar(by, group, value, "", public, t) for value in by.values],
                        "stats": _stats(by, group, public, t)}
                       for group in by.groups]})
    return view


def _figure(table: Table, group: str, value: str, public: bool) -> dict[str, Any]:
    hidden = (group, value) in table.hidden
    return {"count": None if public and hidden else table.raw(group, value),
            "suppressed": hidden, "why": table.why.get((group, value)),
            "key": f"{table.dimension or ''}/{group}/{value}"}  # data-figure: what it counts


def _bar(table: Table, group: str, value: str, label: str, public: bool,
         t: Any) -> dict[str, Any]:
    figure = _figure(table, group, value, public)
    respondents = table.raw(group, TOTAL) if not (public and (group, TOTAL) in table.hidden) \
        else None
    ratio = figure["count"] / respondents if figure["count"] is not None and respondents else None
    return figure | {"label": label, "ratio": ratio,
                     "percent": t.percent(ratio) if ratio is not None else None}


def _stats(table: Table, group: str, public: bool, t: Any) -> dict[str, str] | None:
    found = table.stat(group) if public else table.stats.get(group)
    if found is None:
        return None
    low = found.min if found.min is not None else found.median
    high = found.max if found.max is not None else found.median
    return {"count": t.number(found.count), "mean": t.number(round(found.mean, 1)),
            "median": t.number(round(found.median, 1)),
            "min": None if found.min is None else t.number(found.min),
            "max": None if found.max is None else t.number(found.max), "low": low,
            "high": high, "middle": found.median}


def _labels(item: QuestionSummary, lang: str) -> dict[str, str]:
    if item.question.type == "yesno":
        t = translator(lang)
        return {"yes": t.gettext("Yes"), "no": t.gettext("No")}
    return {choice.value: choice.text.get(lang, choice.value)
            for choice in item.question.choices or []}


def _group_labels(summary: RoundSummary, dimension: str, lang: str) -> dict[str, str]:
    if dimension in summary.questions:
        return _labels(summary.questions[dimension], lang)
    return {}


def _dimension_label(summary: RoundSummary, dimension: str, lang: str) -> str:
    if dimension in summary.questions:
        return summary.questions[dimension].question.text.get(lang, dimension)
    return dimension
