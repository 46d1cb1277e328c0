"""GET /healthz: is the database reachable, is Redis reachable."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from heard.routes.deps import get_runtime
from surveys.database import session_scope
from worker.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz(runtime: Annotated[Runtime, Depends(get_runtime)]) -> JSONResponse:
    checks = {"database": _check(lambda: _ping_database(runtime.database_url)),
              "redis": _check(runtime.redis.ping)}
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", **checks},
                        status_code=200 if healthy else 503)


def _ping_database(url: str) -> None:
    with session_scope(url) as db:
        db.execute(text("SELECT 1"))


def _check(probe) -> str:  # type: ignore[no-untyped-def]
    """"ok", or the kind of failure: its text (hosts, ports, users) goes to the log only,
    for anyone may ask /healthz."""
    try:
        probe()
    except Exception as error:  # noqa: BLE001 - health reports any failure
        log.warning("health check failed: %s", error)
        return f"error: {type(error).__name__}"
    return "ok"
