"""The FastAPI app: mounts every router; one app for webhooks, API, simulator and health."""

from __future__ import annotations

from fastapi import FastAPI

from heard.routes import health, simulator
from worker.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="heard", version="0.1.0",
                  description="Multilingual SMS and Telegram surveys for communities.")
    app.state.runtime = runtime
    app.include_router(health.router)
    app.include_router(simulator.router)
    return app
