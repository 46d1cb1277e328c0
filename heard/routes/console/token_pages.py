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
from surveys.tables import ApiToken, utcnow
from surveys.tokens import ROLES, create_token
from surveys.users import SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/console/tokens", response_class=HTMLResponse)
def tokens_page(runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    """The API tokens (admins only): who or what each is for, its role and communities."""
    with session_scope(runtime.database_url) as db:
        return _tokens(db, admin(db, cookie))


@router.post("/console/tokens", response_class=HTMLResponse)
def new_token(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
              name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
              communities: Annotated[str, Form()] = "",
              cookie: SessionCookie = None) -> Response:
    """A new token, shown once on the page that answers (only its hash is kept)."""
    with session_scope(runtime.database_url) as db:
        user = admin(db, cookie, csrf)
        if role not in ROLES:
            return _tokens(db, user, status=422)
        token = create_token(db, role, name.strip() or role, communities.split(","))
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
            status: int = 200) -> Response:
    rows = db.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()
    return HTMLResponse(page("console_tokens.html", user.language, user=user, tokens=rows,
                             shown=shown, roles=ROLES), status_code=status)
