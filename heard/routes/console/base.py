"""What every console page shares: who is signed in and may act, CSRF, refusals, rendering.

A sign-in is a server-side session (surveys/users.py) in an HttpOnly, SameSite=Strict cookie,
Secure when heard is served over HTTPS; every form carries a CSRF token (the session's, or
before sign-in one in a cookie of its own that the form must repeat), and a post without it
is refused. Each user sees only the rounds and contacts of their communities (admins: all).
Pages are in the user's language (before sign-in: the browser's).
"""

from __future__ import annotations

import hmac
from functools import cache
from typing import Annotated, Any

from fastapi import Cookie, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from heard.routes.dashboard import TEMPLATES, direction_of
from heard.routes.deps import get_runtime
from surveys.i18n import Translator, language_name, shipped_languages, translator
from surveys.settings import get_settings
from surveys.tables import Round
from surveys.users import SignedIn, signed_in
from worker.runtime import Runtime

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SESSION_COOKIE = "heard_console"
SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE)]
ACTING = ("facilitator", "admin")  # who may launch, remind, close and share
SEEING_ALL = ("analyst", "admin")  # who see every figure; facilitators see the release


class Refused(Exception):
    """A console request that gets another page: the sign-in, or a refusal (app.py answers
    with `response`), so each route states what it needs in one line."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def refused(request: Request, error: Exception) -> Response:
    """The page a Refused carries (registered on the app as its exception handler)."""
    assert isinstance(error, Refused)
    return error.response


def signed_in_user(db: Session, cookie: str | None) -> SignedIn:
    """Who the cookie signs in; else to the sign-in page."""
    user = signed_in(db, cookie)
    if user is None:
        raise Refused(RedirectResponse("/console/sign-in", status_code=303))
    return user


def acting(db: Session, cookie: str | None, csrf: str | None = None) -> SignedIn:
    """A signed-in facilitator or admin, posting the session's CSRF token when `csrf` is
    given; else a refusal."""
    return may_act(signed_in_user(db, cookie), csrf)


def may_act(user: SignedIn, csrf: str | None) -> SignedIn:
    """`user`, if a facilitator or admin posting the session's CSRF token (when `csrf` is
    given); else a refusal."""
    if user.role not in ACTING or (csrf is not None and not posted_by(user, csrf)):
        raise Refused(forbidden(user))
    return user


def admin(db: Session, cookie: str | None, csrf: str | None = None) -> SignedIn:
    """A signed-in admin (posting the session's CSRF token when `csrf` is given)."""
    user = acting(db, cookie, csrf)
    if user.role != "admin":
        raise Refused(forbidden(user, translator(user.language).gettext(
            "Your role cannot do this.")))
    return user


def posted_by(user: SignedIn, csrf: str) -> bool:
    """Whether a form carries the session's CSRF token (compared in constant time)."""
    return hmac.compare_digest(user.csrf, csrf)


def in_scope(db: Session, user: SignedIn, round_id: int) -> bool:
    """Whether the round exists and is of one of the user's communities."""
    round_ = db.get(Round, round_id)
    return round_ is not None and user.sees(round_.community)


def not_found(user: SignedIn) -> Response:
    """A round the user may not see is one that does not exist, for them."""
    problem = translator(user.language).gettext("No such round in your communities.")
    return HTMLResponse(page("console_home.html", user.language, user=user, rounds=[],
                             problem=problem), status_code=404)


def forbidden(user: SignedIn, problem: str | None = None, status: int = 403) -> Response:
    """A post refused: a form without the session's token, a role that may not, or why the
    round cannot (`problem`)."""
    t = translator(user.language)
    if problem is None:
        problem = (t.gettext("This form has expired. Please try again.")
                   if user.role in ACTING else t.gettext("Your role cannot do this."))
    return HTMLResponse(page("console_home.html", user.language, user=user, rounds=[],
                             problem=problem), status_code=status)


def page(template: str, lang: str, **context: Any) -> str:
    """A console page in `lang`: heard's words through its catalogs; the languages a user
    may choose, each in its own name; other languages named as the user says them."""
    t = translator(lang)
    return TEMPLATES.get_template(template).render(
        _=t.gettext, ngettext=t.ngettext, number=t.number, span=t.span, lang=lang,
        direction=direction_of(lang), languages=_languages(),
        language_named=lambda code: _named(code, lang), **context)


@cache
def _named(code: str | None, reader: str) -> str:
    """A language as the reader says it ("Kiswahili" for sw, to a Swahili reader), not its code."""
    return language_name(code, reader) if code else ""


@cache
def _languages() -> list[tuple[str, str]]:
    return [(code, language_name(code, code)) for code in shipped_languages()]


def counted(t: Translator, unit: str, low: int, high: int | None = None) -> str:
    """Messages, SMS segments or call minutes (`unit`), one number or a range, in the user's
    words."""
    if high is not None and high != low:
        low_, high_ = t.number(low), t.number(high)
        if unit == "segments":
            return t.gettext("{low} to {high} SMS segments", low=low_, high=high_)
        if unit == "minutes":
            return t.gettext("{low} to {high} call minutes", low=low_, high=high_)
        return t.gettext("{low} to {high} messages", low=low_, high=high_)
    if unit == "segments":
        return t.ngettext("{n} SMS segment", "{n} SMS segments", low)
    if unit == "minutes":
        return t.ngettext("{n} call minute", "{n} call minutes", low)
    return t.ngettext("{n} message", "{n} messages", low)


def priced(t: Translator, low: float | None, high: float | None) -> str:
    """An amount or a range of HEARD_CURRENCY in the user's words ("-": not priced)."""
    if low is None or high is None:
        return "-"
    currency = get_settings().currency
    cheapest, dearest = t.money(low, currency), t.money(high, currency)
    return cheapest if cheapest == dearest else t.gettext("{low} to {high}", low=cheapest,
                                                          high=dearest)


def secure() -> bool:
    """Cookies only over HTTPS where heard is served over HTTPS (not on a laptop's http)."""
    return get_settings().public_base_url.startswith("https://")
