"""Bearer tokens and roles: each endpoint names the role it needs (admin may do anything)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from heard.routes.deps import MAX_ID, get_runtime
from surveys.database import session_scope
from surveys.tables import Round
from surveys.tokens import Bearer, bearer_of, refusal
from worker.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A token from `heard token create --role ...`")


def require_role(*roles: str) -> Callable[..., str]:
    """A route's guard: a valid token of one of `roles` (or admin), and for a route of one
    round, a token whose communities include the round's; kept as `request.state.bearer`."""

    def check(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)],
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
              ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        with session_scope(runtime.database_url) as db:
            found = bearer_of(db, credentials.credentials)
            if found is None:
                raise HTTPException(401, refusal(db, credentials.credentials),
                                    headers={"WWW-Authenticate": "Bearer"})
            if found.role != "admin" and found.role not in roles:
                raise HTTPException(403, f"this needs the {' or '.join(roles)} role; "
                                         f"your token is {found.role}")
            round_id = _row_id(request.path_params.get("round_id"))
            if round_id is not None and not round_in_scope(db, found, round_id):
                raise HTTPException(404, f"no round {round_id}")  # (as if it did not exist)
        request.state.bearer = found
        return found.role

    return check


def _row_id(text: str | None) -> int | None:
    """A path's id as the route will read it; None for one it will refuse (a 422 naming it)."""
    if text is None or not text.isascii() or not text.isdigit():
        return None
    return int(text) if 1 <= int(text) <= MAX_ID else None


def round_in_scope(db: Session, found: Bearer, round_id: int) -> bool:
    """Whether a round exists for this token: one of its communities' (or any, for all)."""
    round_ = db.get(Round, round_id)
    return round_ is None and found.communities is None or (
        round_ is not None and found.sees(round_.community))


def bearer_in(request: Request) -> Bearer:
    """The token the route's guard let in."""
    found: Bearer = request.state.bearer
    return found


Facilitator = Annotated[str, Depends(require_role("facilitator"))]
Analyst = Annotated[str, Depends(require_role("analyst"))]
Admin = Annotated[str, Depends(require_role("admin"))]
Reader = Annotated[str, Depends(require_role("facilitator", "analyst"))]  # released figures
