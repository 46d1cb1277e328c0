"""The facilitators' web console: sign-in, sign-out, and the rounds each user may see.

Server-rendered pages (Jinja2, autoescaped) that work without JavaScript. A sign-in is a
server-side session (surveys/users.py) in an HttpOnly, SameSite=Strict cookie, Secure when
heard is served over HTTPS; every form carries a CSRF token (the session's, or before sign-in
one in a cookie of its own that the form must repeat), and a post without it is refused.
Failed sign-ins are counted in Redis per name and per address: after SIGN_IN_ATTEMPTS within
SIGN_IN_WINDOW both wait, whatever the password. Each user sees only the rounds of their
communities (admins: all). Pages are in the user's language (before sign-in: the browser's).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from redis import Redis
from sqlalchemy import select

from heard.routes.dashboard import TEMPLATES, direction_of
from heard.routes.deps import get_runtime
from surveys.database import session_scope
from surveys.i18n import Translator, shipped_languages, translator
from surveys.settings import get_settings
from surveys.tables import Round, SurveyVersion
from surveys.users import (
    SESSION_HOURS,
    SignedIn,
    authenticate,
    end_session,
    folded,
    signed_in,
    start_session,
)
from worker.runtime import Runtime

router = APIRouter(include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SESSION_COOKIE = "heard_console"
FORM_COOKIE = "heard_form"  # before sign-in: the CSRF token the sign-in form must repeat
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW = 15 * 60  # seconds


@router.get("/")
def home() -> Response:
    """The console is heard's front page."""
    return RedirectResponse("/console", status_code=303)


@router.get("/console", response_class=HTMLResponse)
def console(runtime: RuntimeDep, cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)]
            = None) -> Response:
    with session_scope(runtime.database_url) as db:
        user = signed_in(db, cookie)
        if user is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        rows = db.execute(select(Round, SurveyVersion)
                          .join(SurveyVersion, SurveyVersion.id == Round.survey_pk)
                          .order_by(Round.id.desc())).all()
        t = translator(user.language)
        rounds = [_round_row(round_, survey, t) for round_, survey in rows
                  if user.sees(round_.community)]
    return HTMLResponse(_page("console_home.html", user.language, user=user, rounds=rounds))


@router.get("/console/sign-in", response_class=HTMLResponse)
def sign_in_page(accept_language: Annotated[str | None, Header()] = None,
                 form_token: Annotated[str | None, Cookie(alias=FORM_COOKIE)] = None
                 ) -> Response:
    return _sign_in(_browser_language(accept_language), form_token)


@router.post("/console/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, runtime: RuntimeDep, name: Annotated[str, Form()] = "",
            password: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",
            accept_language: Annotated[str | None, Header()] = None,
            form_token: Annotated[str | None, Cookie(alias=FORM_COOKIE)] = None) -> Response:
    lang = _browser_language(accept_language)
    t = translator(lang)
    if not form_token or not hmac.compare_digest(form_token, csrf):
        return _sign_in(lang, form_token, 403,
                        t.gettext("This form has expired. Please sign in again."))
    keys = _attempt_keys(name, request.client.host if request.client else "")
    if _too_many(runtime.redis, keys):
        return _sign_in(lang, form_token, 429, t.gettext(
            "Too many failed sign-ins. Please wait {minutes} minutes and try again.",
            minutes=t.number(SIGN_IN_WINDOW // 60)))
    with session_scope(runtime.database_url) as db:
        user = authenticate(db, name, password)
        cookie = start_session(db, user) if user is not None else None
    if cookie is None:
        _count_failure(runtime.redis, keys)
        return _sign_in(lang, form_token, 401, t.gettext("Wrong name or password."))
    runtime.redis.delete(keys[0])  # the name's count; the address's runs out by itself
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="strict", secure=_secure(), path="/")
    response.delete_cookie(FORM_COOKIE, path="/console")
    return response


@router.post("/console/sign-out")
def sign_out(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
             cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    with session_scope(runtime.database_url) as db:
        user = signed_in(db, cookie)
        if user is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        if not hmac.compare_digest(user.csrf, csrf):
            return _forbidden(user)
        end_session(db, cookie)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _round_row(round_: Round, survey: SurveyVersion, t: Translator) -> dict[str, Any]:
    statuses = {"scheduled": t.gettext("scheduled"), "open": t.gettext("open"),
                "closed": t.gettext("closed")}
    return {"id": round_.id, "survey": f"{survey.survey_id} v{survey.version}",
            "community": round_.community, "status": statuses.get(round_.status, round_.status),
            "code": round_.code}


def _sign_in(lang: str, form_token: str | None, status: int = 200,
             problem: str | None = None) -> Response:
    """The sign-in page (with a CSRF token its form repeats), and why the last try failed
    (`problem`, in `lang`)."""
    token = form_token or secrets.token_urlsafe(32)
    response = HTMLResponse(_page("console_sign_in.html", lang, csrf=token, problem=problem),
                            status_code=status)
    response.set_cookie(FORM_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=_secure(), path="/console")
    return response


def _forbidden(user: SignedIn) -> Response:
    problem = translator(user.language).gettext("This form has expired. Please try again.")
    return HTMLResponse(_page("console_home.html", user.language, user=user, rounds=[],
                              problem=problem), status_code=403)


def _page(template: str, lang: str, **context: Any) -> str:
    """A console page in `lang`: heard's words through its catalogs."""
    t = translator(lang)
    return TEMPLATES.get_template(template).render(
        _=t.gettext, number=t.number, lang=lang, direction=direction_of(lang), **context)


def _browser_language(header: str | None) -> str:
    """The first of the browser's languages heard's console speaks, else English."""
    shipped = set(shipped_languages())
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower().replace("_", "-")
        for candidate in (code, code.split("-")[0]):
            if candidate in shipped:
                return candidate
    return "en"


def _secure() -> bool:
    """Cookies only over HTTPS where heard is served over HTTPS (not on a laptop's http)."""
    return get_settings().public_base_url.startswith("https://")


def _attempt_keys(name: str, address: str) -> tuple[str, str]:
    """Redis keys counting failed sign-ins, per name and per address (hashed: no names kept)."""
    def key(kind: str, value: str) -> str:
        return f"heard:sign-in:{kind}:{hashlib.blake2b(value.encode(), digest_size=12).hexdigest()}"

    return key("name", folded(name)), key("address", address)


def _too_many(redis: Redis, keys: tuple[str, str]) -> bool:
    return any(int(count or 0) >= SIGN_IN_ATTEMPTS for count in redis.mget(keys))


def _count_failure(redis: Redis, keys: tuple[str, str]) -> None:
    with redis.pipeline() as pipe:
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, SIGN_IN_WINDOW)
        pipe.execute()
