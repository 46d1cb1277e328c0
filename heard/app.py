"""The FastAPI app: mounts every router; one app for webhooks, API, simulator and health."""

from __future__ import annotations

from fastapi import FastAPI

from bot.webhook import router as telegram_router
from heard.guards import Guard
from heard.routes import dashboard, facilitator, health, responses, simulator
from sms.webhook import router as sms_router
from surveys.settings import get_settings
from worker.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="heard", version="0.1.0",
                  description="Multilingual SMS and Telegram surveys for communities.")
    app.state.runtime = runtime
    # Routes are matched in order: the webhooks, which take most requests, come first.
    app.include_router(sms_router)
    app.include_router(telegram_router)
    app.include_router(simulator.router)
    app.include_router(health.router)
    app.include_router(facilitator.router)
    app.include_router(responses.router)
    app.include_router(dashboard.router)
    app.add_middleware(Guard, max_body_bytes=get_settings().max_body_bytes)
    return app


def app_from_settings() -> FastAPI:
    """The app for a web server process of its own (`heard serve --http-workers N`)."""
    from worker.runtime import migrated_runtime

    return create_app(migrated_runtime())
