"""The facilitators' web console: server-rendered pages (Jinja2, autoescaped) that work
without JavaScript, one module per part (base.py: what they share)."""

from fastapi import APIRouter

from heard.routes.console import (
    contact_pages,
    door,
    import_pages,
    queue_pages,
    round_pages,
    survey_pages,
    token_pages,
)
from heard.routes.console.base import SESSION_COOKIE, Refused, refused
from heard.routes.console.door import FORM_COOKIE, SIGN_IN_ATTEMPTS, SIGN_IN_WINDOW

PARTS = (door, round_pages, survey_pages, contact_pages, import_pages, token_pages,
         queue_pages)
router = APIRouter(include_in_schema=False)
for part in PARTS:
    router.include_router(part.router)

__all__ = ["FORM_COOKIE", "PARTS", "SESSION_COOKIE", "SIGN_IN_ATTEMPTS", "SIGN_IN_WINDOW",
           "Refused", "refused", "router"]
