"""A local fake of Twilio's REST API (Messages resource) for the real twilio library.

It answers as Twilio documents: 201 with a message resource, or a 4xx/5xx JSON error body with
`code`, `message`, `more_info` and `status`. Tests queue failures per recipient and read back
every message the library posted.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.fakes import send_json


@dataclass
class FakeTwilio:
    url: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    failures: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)

    def fail(self, to: str, status: int, code: int, message: str, times: int = 1) -> None:
        """The next `times` sends to `to` fail with this HTTP status and Twilio error code."""
        self.failures.setdefault(to, []).extend([(status, code, message)] * times)

    def bodies_to(self, to: str) -> list[str]:
        return [message["Body"] for message in self.sent if message["To"] == to]


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            form = {key: values[-1] for key, values in
                    parse_qs(self.rfile.read(length).decode()).items()}
            if not self.path.endswith("/Messages.json") or "/Accounts/" not in self.path:
                return self._json(404, {"code": 20404, "message": "not found", "status": 404})
            if self.headers.get("Authorization", "")[:6] != "Basic ":
                return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            queued = fake.failures.get(form.get("To", ""))
            if queued:
                status, code, message = queued.pop(0)
                return self._json(status, {"code": code, "message": message, "status": status,
                                           "more_info": f"https://www.twilio.com/docs/errors/{code}"})
            sid = "SM" + uuid.uuid4().hex
            fake.sent.append(form | {"Sid": sid})
            self._json(201, {"sid": sid, "status": "queued", "to": form.get("To"),
                             "from": form.get("From"), "body": form.get("Body"),
                             "messaging_service_sid": form.get("MessagingServiceSid"),
                             "num_segments": "1", "direction": "outbound-api"})

        def _json(self, status: int, body: dict) -> None:
            send_json(self, status, body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
