"""The FastAPI app: mounts every router; one app for webhooks, API, simulator and health."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from bot.webhook import router as telegram_router
from heard.guards import FORM_MARGIN, MAX_UPLOAD, Guard
from heard.metrics import RequestTimer
from heard.routes import (
    console,
    dashboard,
    facilitator,
    health,
    metrics,
    recordings,
    responses,
    simulator,
)
from sms.africastalking_webhook import router as africastalking_router
from sms.webhook import router as sms_router
from surveys.settings import get_settings
from ussd.webhook import router as ussd_router
from voice.audio import router as audio_router
from voice.webhook import router as voice_router
from worker.runtime import Runtime

VENDOR = Path(__file__).resolve().parent / "vendor"
SWAGGER_UI = "/vendor/swagger-ui"
# Swagger UI's own colours that fail WCAG AA contrast (4.5:1), darkened; the rest is as shipped.
SWAGGER_UI_CONTRAST = """<style>
  .swagger-ui .info .title small { background: #5f6672; }
  .swagger-ui .info .title small.version-stamp { background-color: #4b6b00; }
  .swagger-ui .info a { color: #1d5fa8; }
  .swagger-ui .btn.authorize, .swagger-ui .btn.authorize svg { color: #17744a; }
  .swagger-ui .btn.authorize { border-color: #17744a; }
  .swagger-ui .json-schema-2020-12-expand-deep-button { color: #505050; }
  .swagger-ui .opblock.opblock-post .opblock-summary-method { background: #17744a; }
  .swagger-ui .opblock.opblock-get .opblock-summary-method { background: #1d5fa8; }
  .swagger-ui .opblock.opblock-put .opblock-summary-method { background: #9a5a00; }
  .swagger-ui .opblock.opblock-delete .opblock-summary-method { background: #c21f1f; }
  .swagger-ui .opblock.opblock-patch .opblock-summary-method { background: #0f7461; }
</style>
</head>"""


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="heard", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Multilingual SMS and Telegram surveys for communities.")
    app.state.runtime = runtime
    # Routes are matched in order: the webhooks, which take most requests, come first.
    app.include_router(sms_router)
    app.include_router(africastalking_router)
    app.include_router(voice_router)
    app.include_router(ussd_router)
    app.include_router(audio_router)
    app.include_router(telegram_router)
    app.include_router(simulator.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(facilitator.router)
    app.include_router(responses.router)
    app.include_router(recordings.router)
    app.include_router(dashboard.router)
    app.include_router(console.router)
    app.add_exception_handler(console.Refused, console.refused)
    app.mount("/vendor", StaticFiles(directory=VENDOR), name="vendor")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API's reference, from Swagger UI served by heard itself: it works offline.

        Accessible too: a language, AA contrast, and no deep links (each would be a link
        nested in the button that opens an operation, which keyboards and readers trip on)."""
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="heard API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            swagger_ui_parameters={"deepLinking": False})
        html = bytes(page.body).decode().replace("<html>", '<html lang="en">', 1)
        return HTMLResponse(html.replace("</head>", SWAGGER_UI_CONTRAST, 1))

    app.add_middleware(Guard, max_body_bytes=get_settings().max_body_bytes, uploads={
        path: MAX_UPLOAD + FORM_MARGIN for path in ("/api/v1/contacts/import",
                                                    "/console/contacts/imports",
                                                    "/console/surveys")})  # and recordings
    app.add_middleware(RequestTimer)  # outermost: a request's whole time, refusals included
    return app


def app_from_settings() -> FastAPI:
    """The app for a web server process of its own (`heard serve --http-workers N`)."""
    from worker.runtime import migrated_runtime

    return create_app(migrated_runtime())
