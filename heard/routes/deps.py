"""Request dependencies shared by routers."""

from __future__ import annotations

from fastapi import Request

from worker.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime
