"""A local fake of Africa's Talking's REST API (messaging and airtime) for heard's httpx client.

It answers as AT documents: POST /version1/messaging (apiKey header; form username, to,
message, from, bulkSMSMode) → 201 with SMSMessageData.Recipients[{statusCode, number, status,
cost, messageId}]; POST /version1/airtime/send (username, recipients as JSON; Idempotency-Key
header) → 201 with numSent, totalAmount, errorMessage and responses[{phoneNumber, amount,
status, requestId, errorMessage}]. A wrong apiKey is a 401 in plain text, as AT answers it.
Tests queue a recipient's refusals (a statusCode, or an HTTP status for the whole request) and
read back every request; an Idempotency-Key seen before tops up nobody again (AT's first answer
comes back), and a top-up's answer may be lost (made, then answered 500).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.fakes import send_json

API_KEY = "atsk_test_key"
STATUS_NAMES = {100: "Processed", 101: "Success", 102: "Queued", 401: "RiskHold",
                402: "InvalidSenderId", 403: "InvalidPhoneNumber", 404: "UnsupportedNumberType",
                405: "InsufficientBalance", 406: "UserInBlacklist", 407: "CouldNotRoute",
                409: "DoNotDisturbRejection", 500: "InternalServerError", 501: "GatewayError",
                502: "RejectedByGateway"}


@dataclass
class FakeAfricasTalking:
    url: str = ""
    api_key: str = API_KEY
    sent: list[dict[str, str]] = field(default_factory=list)  # messaging forms taken
    airtime: list[dict[str, object]] = field(default_factory=list)  # top-ups made
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    # per recipient: statusCodes to answer (messaging) or ("http", status) for the request
    failures: dict[str, list[int | tuple[str, int]]] = field(default_factory=dict)
    airtime_failures: dict[str, list[str | tuple[str, int]]] = field(default_factory=dict)
    keys: dict[str, dict[str, object]] = field(default_factory=dict)  # Idempotency-Key → answer
    lose_answers: int = 0  # the next top-ups are made, but answered 500 (the answer lost)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, to: str, *codes: int | tuple[str, int]) -> None:
        """The next sends to `to` answer these statusCodes (or ("http", 503): the request)."""
        self.failures.setdefault(to, []).extend(codes)

    def fail_airtime(self, to: str, *reasons: str | tuple[str, int]) -> None:
        """The next top-ups of `to` fail with these errorMessages (or ("http", 503))."""
        self.airtime_failures.setdefault(to, []).extend(reasons)

    def bodies_to(self, to: str) -> list[str]:
        return [form["message"] for form in self.sent if form["to"] == to]


def _handler(fake: FakeAfricasTalking) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            form = {key: values[-1] for key, values in
                    parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()}
            path = urlsplit(self.path).path
            with fake.lock:
                fake.requests.append((path, form, dict(self.headers)))
            if self.headers.get("apiKey") != fake.api_key:
                return self._text(401, "The supplied authentication is invalid")
            if not form.get("username"):
                return self._text(400, "Request is missing required form field 'username'")
            if path == "/version1/messaging":
                return self._message(form)
            if path == "/version1/airtime/send":
                return self._airtime(form)
            return self._text(404, "Not Found")

        def _message(self, form: dict[str, str]) -> None:
            if not form.get("to") or "message" not in form:
                return self._text(400, "Request is missing required form field 'to'")
            with fake.lock:
                queued = fake.failures.get(form["to"])
                code = queued.pop(0) if queued else 101
            if isinstance(code, tuple):
                return self._text(code[1], "Service Unavailable")
            message_id = f"ATXid_{uuid.uuid4().hex}" if code in (100, 101, 102) else "None"
            if message_id != "None":
                with fake.lock:
                    fake.sent.append(form | {"messageId": message_id})
            cost = "KES 0.8000" if message_id != "None" else "0"
            send_json(self, 201, {"SMSMessageData": {
                "Message": f"Sent to {int(message_id != 'None')}/1 Total Cost: {cost}",
                "Recipients": [{"statusCode": code, "number": form["to"],
                                "status": STATUS_NAMES.get(code, "Unknown"), "cost": cost,
                                "messageId": message_id}]}})

        def _airtime(self, form: dict[str, str]) -> None:
            try:
                recipients = json.loads(form.get("recipients", ""))
                recipient = recipients[0]
                phone, currency = recipient["phoneNumber"], recipient["currencyCode"]
                amount = float(recipient["amount"])
            except (ValueError, KeyError, IndexError, TypeError):
                return self._text(400, "Invalid recipients")
            key = self.headers.get("Idempotency-Key", "")
            with fake.lock:
                queued = fake.airtime_failures.get(phone)
                failure = queued.pop(0) if queued else None
                if isinstance(failure, tuple):
                    return self._text(failure[1], "Service Unavailable")
                if key and key in fake.keys:  # the same request again: nobody topped up twice
                    return send_json(self, 201, fake.keys[key])
                shown = f"{currency} {amount:.4f}"
                if failure is None:
                    request_id = f"ATQid_{uuid.uuid4().hex}"
                    fake.airtime.append({"phoneNumber": phone, "currencyCode": currency,
                                         "amount": amount, "key": key,
                                         "requestId": request_id})
                    response = {"phoneNumber": phone, "amount": shown, "status": "Sent",
                                "requestId": request_id, "discount": f"{currency} 0.0000",
                                "errorMessage": "None"}
                else:
                    response = {"phoneNumber": phone, "amount": shown, "status": "Failed",
                                "requestId": "None", "discount": f"{currency} 0.0000",
                                "errorMessage": failure}
                answer = {"errorMessage": "None", "numSent": int(failure is None),
                          "totalAmount": shown if failure is None else f"{currency} 0.0000",
                          "totalDiscount": f"{currency} 0.0000", "responses": [response]}
                if key:
                    fake.keys[key] = answer
                lost = fake.lose_answers > 0
                fake.lose_answers -= int(lost)
            if lost:
                return self._text(500, "Internal Server Error")
            send_json(self, 201, answer)

        def _text(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_africastalking() -> Iterator[FakeAfricasTalking]:
    fake = FakeAfricasTalking()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
