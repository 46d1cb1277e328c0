"""What every request passes through, whatever its route: a size limit checked before any body
is read, anti-framing headers on every answer, and errors answered rather than dropped.

Pure ASGI (no per-request task or copy), for the webhooks are the hot path.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from surveys.database import unreachable

log = logging.getLogger(__name__)
MAX_UPLOAD = 20 * 1024 * 1024  # a contact spreadsheet (100,000 rows is a few MB)
FORM_MARGIN = 64 * 1024  # a form's other fields around an uploaded file
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),  # no page of heard inside anyone's frame (clickjacking)
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # a sign-in link's token never leaves in a Referer
]


class Guard:
    """Refuses bodies over `max_body_bytes` (413) before the route reads them, adds the
    security headers, and answers an error the app raised: 503 with Retry-After when the
    database is unreachable, else 500, each with `Connection: close` so a client never sends
    its next request on a connection the server is about to drop."""

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 uploads: Mapping[str, int] | None = None) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes
        self.uploads = dict(uploads or {})  # path -> the larger body a file upload may have

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        most = max(self.uploads.get(scope.get("path", ""), 0), self.max_body_bytes)
        length = _content_length(scope)
        if length is not None and length > most:
            await _answer(send, 413, f"request body over {most} bytes")
            return
        started = refused = False
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen, refused, started
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > most:  # streamed past the limit: answered here,
                    if not started:  # and the route is told the client went away
                        started = refused = True
                        await _answer(send, 413, f"request body over {most} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception as error:  # noqa: BLE001 - answered here, logged with its traceback
            if refused:
                return
            if started:
                raise
            if isinstance(error, DBAPIError) and unreachable(error):
                log.error("database unreachable: answered 503 (%s)", error.orig)
                await _answer(send, 503, "the database is unavailable; try again shortly",
                              [(b"retry-after", b"5")])
            else:
                log.exception("%s %s failed", scope.get("method"), scope.get("path"))
                await _answer(send, 500, "internal error")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, status: int, detail: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    extra: list[Any] = headers or []
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *SECURITY_HEADERS, *extra]})
    await send({"type": "http.response.body", "body": body})


_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s]*")


class HideTokens(logging.Filter):
    """Access-log lines without the token of a `?token=` sign-in link: the log is read by
    more people than the token may be."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            args[2] = _TOKEN_IN_QUERY.sub(r"\1[hidden]", str(args[2]))
            record.args = tuple(args)
        return True

