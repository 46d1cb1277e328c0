"""Request dependencies shared by routers."""

from __future__ import annotations

from fastapi import Request

from worker.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """Async, so FastAPI calls it on the event loop, not through its thread pool."""
    return request.app.state.runtime
