"""GET /metrics: Prometheus' text format, for a scraper holding HEARD_METRICS_TOKEN."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from heard.metrics import exposition
from heard.routes.deps import get_runtime, request_settings
from heard.routes.problems import errors, media
from surveys.settings import Settings
from worker.runtime import Runtime

router = APIRouter()


@router.get("/metrics", tags=["health"], response_class=Response, responses={
    **media(CONTENT_TYPE_LATEST.split(";")[0], "The figures, in Prometheus' text format"),
    **errors(401, 404, 503)})
def metrics(request: Request, settings: Annotated[Settings, Depends(request_settings)],
            runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    """The deployment's health figures; 404 unless HEARD_METRICS_TOKEN is set, 401 without
    it as a bearer token (the figures say how busy a deployment is, and reading them costs
    queries)."""
    if not settings.metrics_token:
        raise HTTPException(404, "metrics are off: set HEARD_METRICS_TOKEN to turn them on")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             settings.metrics_token.encode()):
        raise HTTPException(401, "a bearer token (HEARD_METRICS_TOKEN) is required",
                            headers={"WWW-Authenticate": "Bearer"})
    return Response(exposition(runtime), media_type=CONTENT_TYPE_LATEST)
