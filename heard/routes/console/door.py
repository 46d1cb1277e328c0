"""The console's door: the front page, sign-in (limited per name and per address), sign-out,
and each user's choice of language.

Failed sign-ins are counted in Redis per name and per address: after SIGN_IN_ATTEMPTS within
SIGN_IN_WINDOW both wait, whatever the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Header, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from redis import Redis
from sqlalchemy import update

from heard.routes.console.base import (
    SESSION_COOKIE,
    RuntimeDep,
    SessionCookie,
    forbidden,
    page,
    posted_by,
    secure,
    signed_in_user,
)
from surveys.database import session_scope
from surveys.i18n import shipped_languages, translator
from surveys.tables import User
from surveys.users import SESSION_HOURS, authenticate, end_session, folded, start_session

router = APIRouter(include_in_schema=False)
FORM_COOKIE = "heard_form"  # before sign-in: the CSRF token the sign-in form must repeat
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW = 15 * 60  # seconds


@router.get("/")
def home() -> Response:
    """The console is heard's front page."""
    return RedirectResponse("/console", status_code=303)


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
                        samesite="strict", secure=secure(), path="/")
    response.delete_cookie(FORM_COOKIE, path="/console")
    return response


@router.post("/console/sign-out")
def sign_out(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
             cookie: SessionCookie = None) -> Response:
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        if not posted_by(user, csrf):
            return forbidden(user)
        end_session(db, cookie)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/console/language")
def choose_language(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
                    lang: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "",
                    cookie: SessionCookie = None) -> Response:
    """The console's language for this user, from now on (one of heard's catalogs)."""
    with session_scope(runtime.database_url) as db:
        user = signed_in_user(db, cookie)
        if not posted_by(user, csrf) or lang not in shipped_languages():
            return forbidden(user)
        db.execute(update(User).where(User.id == user.user_id).values(language=lang))
    here = back if back.startswith("/console") and "//" not in back else "/console"
    return RedirectResponse(here, status_code=303)


def _sign_in(lang: str, form_token: str | None, status: int = 200,
             problem: str | None = None) -> Response:
    """The sign-in page (with a CSRF token its form repeats), and why the last try failed
    (`problem`, in `lang`)."""
    token = form_token or secrets.token_urlsafe(32)
    response = HTMLResponse(page("console_sign_in.html", lang, csrf=token, problem=problem),
                            status_code=status)
    response.set_cookie(FORM_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=secure(), path="/console")
    return response


def _browser_language(header: str | None) -> str:
    """The first of the browser's languages heard's console speaks, else English."""
    shipped = set(shipped_languages())
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower().replace("_", "-")
        for candidate in (code, code.split("-")[0]):
            if candidate in shipped:
                return candidate
    return "en"


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
