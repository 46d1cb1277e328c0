"""The console's API tokens (admins only): list, make (shown once) and revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from heard.routes.console.base import RuntimeDep, SessionCookie, admin, not_found, page
from heard.routes.deps import RowId
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.spans import parse_span
from surveys.tables import ApiToken, utcnow
from surveys.tokens import ROLES, create_token, expired
from surveys.users import SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/console/tokens", response_class=HTMLResponse)
def tokens_page(runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    """The API tokens (admins only): who or what each is for, its role, communities and
    expiry."""
    with session_scope(runtime.database_url) as db:
        return _tokens(db, admin(db, cookie))


@router.post("/console/tokens", response_class=HTMLResponse)
def new_token(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
              name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
              communities: Annotated[str, Form()] = "",
              expires_days: Annotated[str, Form()] = "",
              cookie: SessionCookie = None) -> Response:
    """A new token, shown once on the page that answers (only its hash is kept); it works
    until revoked, or for the days given."""
    with session_scope(runtime.database_url) as db:
        user = admin(db, cookie, csrf)
        if role not in ROLES:
            return _tokens(db, user, status=422)
        days = expires_days.strip()
        try:  # (days as `heard token create --expires 90d` reads them)
            lasts = parse_span(f"{days}d") if days else None
        except ValueError:
            return _tokens(db, user, status=422, problem=translator(user.language).gettext(
                "Expires after: a whole number of days above 0, or empty for never."))
        token = create_token(db, role, name.strip() or role, communities.split(","), lasts)
        return _tokens(db, user, shown=token)


@router.post("/console/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(token_id: RowId, runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
                 cookie: SessionCookie = None) -> Response:
    """The token stops working at once, for good."""
    with session_scope(runtime.database_url) as db:
        user = admin(db, cookie, csrf)
        row = db.get(ApiToken, token_id)
        if row is None:
            return not_found(user)
        row.revoked_at = row.revoked_at or utcnow()
        return _tokens(db, user)


def _tokens(db: Session, user: SignedIn, shown: str | None = None,
            status: int = 200, problem: str | None = None) -> Response:
    rows = db.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    t = translator(user.language)
    expiry = {row.id: t.day(row.expires_at.date()) for row in rows if row.expires_at}
    return HTMLResponse(page("console_tokens.html", user.language, user=user, tokens=rows,
                             shown=shown, roles=ROLES, expiry=expiry, problem=problem,
                             expired={row.id for row in rows if expired(row)}),
                        status_code=status)
