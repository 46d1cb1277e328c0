"""Request dependencies shared by routers."""

from __future__ import annotations

from fastapi import Request

from surveys.settings import Settings, get_settings
from worker.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """Async, so FastAPI calls it on the event loop, not through its thread pool."""
    return request.app.state.runtime


async def request_settings() -> Settings:
    """The settings, read once per request however many dependencies ask (FastAPI caches a
    dependency's value within a request); async, so no thread-pool hop."""
    return get_settings()
