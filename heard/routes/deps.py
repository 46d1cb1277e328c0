"""Request dependencies shared by routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request

from surveys.settings import Settings, get_settings
from worker.runtime import Runtime

MAX_ID = 2**63 - 1  # the database's BIGINT: a larger id is a 422 naming it, not a 500
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_NUMBER = 2**31 - 1  # the database's INTEGER (a survey's version)


async def get_runtime(request: Request) -> Runtime:
    """Async, so FastAPI calls it on the event loop, not through its thread pool."""
    return request.app.state.runtime


async def request_settings() -> Settings:
    """The settings, read once per request however many dependencies ask (FastAPI caches a
    dependency's value within a request); async, so no thread-pool hop."""
    return get_settings()
