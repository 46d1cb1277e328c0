"""Airtime through Africa's Talking: one top-up to one number, never twice for one key.

POST /version1/airtime/send with the username and recipients (a JSON list of phoneNumber,
currencyCode and amount); the Idempotency-Key header makes a repeated request (its answer was
lost) one top-up at AT. The answer lists each recipient's status (Sent, Failed), requestId and
errorMessage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sms.africastalking_api import answer, post, username
from surveys.phone import without_numbers
from surveys.settings import get_settings
from worker.senders import PermanentSendError

SENT = ("Sent", "Success")  # Sent: AT took it; Success: the network confirmed it at once


@dataclass(frozen=True)
class ToppedUp:
    """AT's id of a top-up it took."""

    request_id: str


def send_airtime(phone: str, currency: str, hundredths: int, key: str) -> ToppedUp:
    """Top up `phone`; a PermanentSendError (AT's reason) when AT refuses it, a
    TransientSendError when it may be tried again (AT unreachable, 5xx, its key wrong)."""
    settings = get_settings()
    recipients = [{"phoneNumber": phone, "currencyCode": currency,
                   "amount": hundredths / 100}]
    body = answer(post(settings, "/version1/airtime/send",
                       {"username": username(settings), "recipients": json.dumps(recipients)},
                       headers={"Idempotency-Key": key}))
    responses = body.get("responses") or []
    if not responses:
        reason = str(body.get("errorMessage") or "no recipient in the answer")
        raise PermanentSendError(f"Africa's Talking airtime: {without_numbers(reason)[:200]}",
                                 code="refused")
    first = responses[0]
    if first.get("status") in SENT and first.get("requestId"):
        return ToppedUp(str(first["requestId"]))
    reason = str(first.get("errorMessage") or first.get("status") or "refused")
    raise PermanentSendError(f"Africa's Talking airtime: {without_numbers(reason)[:200]}",
                             code=str(first.get("status") or "refused"))
