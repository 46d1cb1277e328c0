"""Send SMS through Africa's Talking's messaging API, within its own rate limit.

AFRICASTALKING_SMS_PER_SECOND caps sends per sender id across every worker, through Redis; AT
sends delivery reports to the URL set on its dashboard (README: Africa's Talking).
"""

from __future__ import annotations

from sms.africastalking import ACCEPTED_CODES, refusal
from sms.africastalking_api import answer, post, username
from surveys.phone import without_numbers
from surveys.settings import get_settings
from surveys.tables import OutboxMessage
from worker.ratelimit import RateLimited, acquire
from worker.runtime import runtime
from worker.senders import PermanentSendError, Sender, TransientSendError

MAX_RATE_WAIT = 10.0  # seconds a job may wait for a send slot before it is retried later


def africastalking_sender() -> Sender:
    settings = get_settings()

    def send(message: OutboxMessage) -> str:
        form = {"username": username(settings), "to": message.address,
                "message": message.text, "bulkSMSMode": "1"}
        if settings.africastalking_from:
            form["from"] = settings.africastalking_from
        sender_id = settings.africastalking_from or form["username"]
        try:
            acquire(runtime().redis, f"heard:rate:africastalking:{sender_id}",
                    settings.africastalking_sms_per_second, max_wait=MAX_RATE_WAIT,
                    meter="africastalking_messages")
        except RateLimited as error:
            raise TransientSendError(str(error)) from None
        return accepted_id(answer(post(settings, "/version1/messaging", form)))

    return send


def accepted_id(body: dict) -> str:
    """The messageId of the one recipient of a send, or what its statusCode means."""
    recipients = (body.get("SMSMessageData") or {}).get("Recipients") or []
    if not recipients:  # AT names no recipient when it took none (its Message says why)
        message = (body.get("SMSMessageData") or {}).get("Message", "")
        raise PermanentSendError(f"Africa's Talking took no recipient: "
                                 f"{without_numbers(str(message))[:200]}", code="no_recipient")
    recipient = recipients[0]
    code = int(recipient.get("statusCode") or 0)
    if code in ACCEPTED_CODES and recipient.get("messageId"):
        return str(recipient["messageId"])
    meaning = refusal(code, str(recipient.get("status", "")))
    reason = f"Africa's Talking {code}: {meaning.name}"
    if meaning.transient:
        raise TransientSendError(reason, code=str(code))
    raise PermanentSendError(reason, code=str(code), opt_out=meaning.opt_out,
                             unreachable=meaning.unreachable)
