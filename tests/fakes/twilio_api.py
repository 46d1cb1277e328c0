"""A local fake of Twilio's REST API (Messages and Calls) for the real twilio library.

It answers as Twilio documents: 201 with a message resource, or a 4xx/5xx JSON error body with
`code`, `message`, `more_info` and `status`; GET lists the messages sent to `To`, newest first.
A Content API template (ContentSid, ContentVariables as a JSON object) is accepted in place of a
Body and listed with its variables' words as its body; a send with neither, or with variables
but no template, is refused as Twilio refuses it. Tests queue failures per recipient (63016 for
a WhatsApp number, say), hold the answer to a send Twilio has accepted (to kill its sender
before it hears back) and read back every message the library posted.

Recordings (a call's spoken answers): tests put one's audio in `recordings` by its sid; GET
`Recordings/<sid>.wav` serves it (404 when there is none, 503 while `recording_failures` are
queued) and DELETE `Recordings/<sid>.json` deletes it (204; 404 when there is none).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import send_json


@dataclass
class FakeTwilio:
    url: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    failures: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    held: dict[str, threading.Event] = field(default_factory=dict)
    holds: list[threading.Event] = field(default_factory=list)  # all, released at the end
    listed: int = 0  # GETs of the message list
    list_failures: int = 0  # the next GETs of the list answer 503
    by_to: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    calls: list[dict[str, str]] = field(default_factory=list)  # calls made (Calls.json)
    recordings: dict[str, bytes] = field(default_factory=dict)  # sid -> audio
    fetched: list[str] = field(default_factory=list)  # sids whose audio was served
    deleted: list[str] = field(default_factory=list)  # sids deleted
    recording_failures: int = 0  # the next GETs of a recording answer 503

    def recording_url(self, sid: str) -> str:
        """The RecordingUrl Twilio posts for recording `sid`."""
        return f"{self.url}/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{sid}"

    def record(self, sent: dict[str, str]) -> None:
        with self.arrived:
            self.sent.append(sent)
            self.by_to.setdefault(sent.get("To", ""), []).append(sent)
            self.arrived.notify_all()

    def wait_for(self, to: str, count: int, timeout: float) -> bool:
        """Whether `count` messages to `to` have been sent within `timeout` seconds."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.by_to.get(to, ())) >= count, timeout)

    def hold(self, to: str) -> threading.Event:
        """The next send to `to` is accepted, and its answer waits until the event is set."""
        self.held[to] = threading.Event()
        self.holds.append(self.held[to])
        return self.held[to]

    def fail(self, to: str, status: int, code: int, message: str, times: int = 1) -> None:
        """The next `times` sends to `to` fail with this HTTP status and Twilio error code."""
        self.failures.setdefault(to, []).extend([(status, code, message)] * times)

    def calls_to(self, to: str) -> list[dict[str, str]]:
        """Every call the library asked for to `to`, in order (its form: Url, StatusCallback...)."""
        return [call for call in self.calls if call.get("To") == to]

    def bodies_to(self, to: str) -> list[str]:
        return [message["Body"] for message in self.by_to.get(to, ())]

    def templates_to(self, to: str) -> list[tuple[str, dict[str, str]]]:
        """(ContentSid, variables) of every template sent to `to`, in order."""
        return [(message["ContentSid"], json.loads(message["ContentVariables"]))
                for message in self.by_to.get(to, ()) if "ContentSid" in message]


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            recording = RECORDING.search(urlsplit(self.path).path)
            if recording is not None and recording.group(2) == ".wav":
                return self._recording(recording.group(1))
            if not self._authorized():
                return
            query = {key: values[-1] for key, values in
                     parse_qs(urlsplit(self.path).query).items()}
            fake.listed += 1
            if fake.list_failures:
                fake.list_failures -= 1
                return self._json(503, {"code": 20503, "message": "Service Unavailable",
                                        "status": 503})
            if _resource_name(self.path) == "Calls":
                called = [_call(call) for call in reversed(fake.calls)
                          if query.get("To") in (None, call["To"])]
                return self._json(200, {"calls": called, "page": 0, "page_size": 50,
                                        "next_page_uri": None, "uri": self.path,
                                        "first_page_uri": self.path, "start": 0, "end": 0})
            mine = [_resource(message) for message in
                    reversed(fake.by_to.get(query["To"], []) if "To" in query else fake.sent)]
            size = int(query.get("PageSize", 50))
            self._json(200, {"messages": mine[:size], "page": 0, "page_size": size,
                             "next_page_uri": None, "previous_page_uri": None,
                             "first_page_uri": self.path, "uri": self.path, "start": 0,
                             "end": max(0, min(size, len(mine)) - 1)})

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            form = {key: values[-1] for key, values in
                    parse_qs(self.rfile.read(length).decode()).items()}
            if not self._authorized():
                return
            if _resource_name(self.path) == "Calls":
                return self._call(form)
            refusal = _refusal(form)
            if refusal is not None:
                code, message = refusal
                return self._json(400, {"code": code, "message": message, "status": 400})
            queued = fake.failures.get(form.get("To", ""))
            if queued:
                status, code, message = queued.pop(0)
                return self._json(status, {"code": code, "message": message, "status": status,
                                           "more_info": f"https://www.twilio.com/docs/errors/{code}"})
            sent = form | {"Sid": "SM" + uuid.uuid4().hex,
                           "DateCreated": format_datetime(datetime.now(UTC), usegmt=True)}
            fake.record(sent)
            held = fake.held.pop(form.get("To", ""), None)
            if held is not None:
                held.wait()
            self._json(201, _resource(sent))

        def _call(self, form: dict[str, str]) -> None:
            """A call is made as Twilio makes one: queued, with its sid (a failure if queued)."""
            if not form.get("Url") or not form.get("From"):
                return self._json(400, {"code": 21205, "message": "Url and From are required",
                                        "status": 400})
            queued = fake.failures.get(form.get("To", ""))
            if queued:
                status, code, message = queued.pop(0)
                return self._json(status, {"code": code, "message": message, "status": status})
            made = form | {"Sid": "CA" + uuid.uuid4().hex,
                           "DateCreated": format_datetime(datetime.now(UTC), usegmt=True)}
            with fake.arrived:
                fake.calls.append(made)
                fake.arrived.notify_all()
            self._json(201, _call(made))

        def do_DELETE(self) -> None:  # noqa: N802 - http.server's naming
            recording = RECORDING.search(urlsplit(self.path).path)
            if recording is None or recording.group(2) != ".json":
                return self._json(404, {"code": 20404, "message": "not found", "status": 404})
            if not self._signed_in():
                return
            if fake.recordings.pop(recording.group(1), None) is None:
                return self._json(404, {"code": 20404, "message": "not found", "status": 404})
            fake.deleted.append(recording.group(1))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _recording(self, sid: str) -> None:
            if not self._signed_in():
                return
            if fake.recording_failures:
                fake.recording_failures -= 1
                return self._json(503, {"code": 20503, "message": "Service Unavailable",
                                        "status": 503})
            audio = fake.recordings.get(sid)
            if audio is None:
                return self._json(404, {"code": 20404, "message": "not found", "status": 404})
            fake.fetched.append(sid)
            self.send_response(200)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio)

        def _signed_in(self) -> bool:
            if self.headers.get("Authorization", "")[:6] != "Basic ":
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return False
            return True

        def _authorized(self) -> bool:
            if _resource_name(self.path) not in ("Messages", "Calls") or (
                    "/Accounts/" not in self.path):
                self._json(404, {"code": 20404, "message": "not found", "status": 404})
                return False
            return self._signed_in()

        def _json(self, status: int, body: dict) -> None:
            send_json(self, status, body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _resource_name(path: str) -> str:
    """Messages or Calls: the resource a request's path names (.../Calls.json)."""
    return path.split("?")[0].rsplit("/", 1)[-1].removesuffix(".json")


def _call(made: dict[str, str]) -> dict[str, Any]:
    """A call as Twilio's API shows it."""
    return {"sid": made["Sid"], "status": "queued", "to": made.get("To"),
            "from": made.get("From"), "direction": "outbound-api",
            "date_created": made["DateCreated"]}

RECORDING = re.compile(r"/2010-04-01/Accounts/AC\w+/Recordings/(RE\w+)(\.wav|\.json)$")


def _refusal(form: dict[str, str]) -> tuple[int, str] | None:
    """Twilio's error code and message for a send it refuses whatever the recipient."""
    if "ContentSid" not in form:
        if "ContentVariables" in form:
            return 21654, "A ContentSid must be specified if ContentVariables are provided"
        return None if "Body" in form else (21619, "A text message Body is required")
    try:
        variables = json.loads(form.get("ContentVariables", "{}"))
    except ValueError:
        variables = None
    if not isinstance(variables, dict):
        return 21656, "The Content Variables parameter is invalid"
    return None


def _shown(sent: dict[str, str]) -> str | None:
    """A message's body as Twilio lists it: a template's shows its variables' words."""
    if "ContentSid" not in sent:
        return sent.get("Body")
    return " ".join(json.loads(sent.get("ContentVariables", "{}")).values())


def _resource(sent: dict[str, str]) -> dict[str, Any]:
    """A sent message as Twilio's API shows it."""
    return {"sid": sent["Sid"], "status": "queued", "to": sent.get("To"),
            "from": sent.get("From"), "body": _shown(sent),
            "messaging_service_sid": sent.get("MessagingServiceSid"), "num_segments": "1",
            "direction": "outbound-api", "date_created": sent["DateCreated"]}


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
        for held in fake.holds:
            held.set()
        server.shutdown()
        server.server_close()
