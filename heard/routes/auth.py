"""Bearer tokens and roles: each endpoint names the role it needs (admin may do anything)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from heard.routes.deps import get_runtime
from surveys.database import session_scope
from surveys.tokens import role_of
from worker.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A token from `heard token create --role ...`")


def require_role(*roles: str) -> Callable[..., str]:
    def check(runtime: Annotated[Runtime, Depends(get_runtime)],
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
              ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        with session_scope(runtime.database_url) as db:
            role = role_of(db, credentials.credentials)
        if role is None:
            raise HTTPException(401, "invalid or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        if role != "admin" and role not in roles:
            raise HTTPException(403, f"this needs the {' or '.join(roles)} role; "
                                     f"your token is {role}")
        return role

    return check


Facilitator = Annotated[str, Depends(require_role("facilitator"))]
Analyst = Annotated[str, Depends(require_role("analyst"))]
Admin = Annotated[str, Depends(require_role("admin"))]
Reader = Annotated[str, Depends(require_role("facilitator", "analyst"))]  # released figures
