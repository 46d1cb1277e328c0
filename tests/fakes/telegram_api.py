"""A local fake Telegram Bot API: records every method call, answers like Telegram does.

Run the real python-telegram-bot against it (`Bot(token, base_url=fake.base_url)`): requests
go over HTTP to a ThreadingHTTPServer on a random port, so PTB's request encoding, response
parsing and error mapping (429 → RetryAfter, 403 → Forbidden, ...) are all exercised.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes import send_json

TOKEN = "123456:TEST-heard-token"
JSON_FIELDS = frozenset({"reply_markup", "allowed_updates", "entities", "link_preview_options"})
INT_FIELDS = frozenset({"chat_id", "message_id", "offset", "limit", "timeout"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    result: Any = None


@dataclass
class Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


@dataclass
class FakeTelegram:
    """The fake server's state; `calls` grows as PTB talks to it."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    message_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "not started"
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL is set to: PTB appends the token."""
        return f"{self.url}/bot"

    def fail(self, method: str, status: int, description: str, times: int = 1,
             **parameters: Any) -> None:
        """The next `times` calls of `method` fail as Telegram would (e.g. retry_after=5)."""
        with self.lock:
            self.failures.setdefault(method, []).extend(
                [Failure(status, description, parameters or None)] * times)

    def push_update(self, *updates: dict[str, Any]) -> None:
        """Updates getUpdates hands out (until an offset confirms them)."""
        with self.lock:
            self.updates.extend(updates)

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """The parameters of every call of `method`, oldest first."""
        with self.lock:
            return [call.params for call in self.calls if call.method == method]

    def messages(self) -> list[dict[str, Any]]:
        """Every message sent: its sendMessage parameters and the message_id it was given."""
        with self.lock:
            return [{**call.params, "message_id": call.result["message_id"]}
                    for call in self.calls if call.method == "sendMessage" and call.result]

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()

    def start(self) -> FakeTelegram:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            call = Call(method, params)
            self.calls.append(call)
            failures = self.failures.get(method)
            if failures:
                failure = failures.pop(0)
                body: dict[str, Any] = {"ok": False, "error_code": failure.status,
                                        "description": failure.description}
                if failure.parameters:
                    body["parameters"] = failure.parameters
                return failure.status, body
            if method == "getUpdates":
                offset = params.get("offset")
                if isinstance(offset, int):
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                return 200, {"ok": True, "result": list(self.updates)}
            call.result = result = self._result(method, params)
        if result is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return 200, {"ok": True, "result": result}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        now = int(time.time())
        if method == "getMe":
            return {"id": 123456, "is_bot": True, "first_name": "heard", "username": "heard_bot"}
        if method == "sendMessage":
            chat_id = params.get("chat_id")
            return {"message_id": next(self.message_ids), "date": now, "text": params.get("text"),
                    "chat": {"id": chat_id, "type": "private"}}
        if method == "sendPhoto":  # sizes as Telegram makes them: a thumbnail and the photo
            chat_id = params.get("chat_id")
            message_id = next(self.message_ids)
            photo = [{"file_id": f"photo-{message_id}-{size}", "file_unique_id":
                      f"p{message_id}{size}", "width": size, "height": size,
                      "file_size": params.get("photo_bytes", 0)} for size in (90, 800)]
            result = {"message_id": message_id, "date": now, "photo": photo,
                      "chat": {"id": chat_id, "type": "private"}}
            if params.get("caption") is not None:
                result["caption"] = params["caption"]
            return result
        if method == "editMessageReplyMarkup":
            return {"message_id": params.get("message_id"), "date": now,
                    "chat": {"id": params.get("chat_id"), "type": "private"},
                    "reply_markup": params.get("reply_markup")}
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return True
        return None


def _handler_for(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as PTB's httpx pool expects
        disable_nagle_algorithm = True  # else headers and body wait 40 ms for a delayed ACK

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            prefix = f"/bot{fake.token}/"
            if not self.path.startswith(prefix):
                return self._reply(401, {"ok": False, "error_code": 401,
                                         "description": "Unauthorized"})
            status, answer = fake.answer(self.path[len(prefix):], _params(
                body, self.headers.get("Content-Type", "")))
            self._reply(status, answer)

        do_GET = do_POST  # noqa: N815

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            send_json(self, status, body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


def _params(body: bytes, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(body or b"{}")
    params: dict[str, Any]
    if content_type.startswith("multipart/form-data"):
        params = _multipart(body, content_type)
    else:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in JSON_FIELDS:
            params[key] = json.loads(value)
        elif key in INT_FIELDS and value.lstrip("-").isdigit():
            params[key] = int(value)
    return params


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """A multipart/form-data body's fields: text as str; a file (photo, document...) as its
    bytes under its field name, with its length under "<name>_bytes"."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            params[name] = data
            params[f"{name}_bytes"] = len(data)
        else:
            params[name] = data.decode(part.get_content_charset() or "utf-8")
    return params
