"""Africa's Talking's callbacks and answers → heard's vocabulary (pure): an inbound SMS, a
delivery report, and what a send's status code means for the message and the person.

AT's inbound callback posts from, to, text, date, id, linkId and networkCode; its delivery
report posts id, status (Sent, Submitted, Buffered, Success, Failed, Rejected), phoneNumber,
networkCode, failureReason and retryCount (https://developers.africastalking.com/docs/sms).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sms.adapter import BadPayload
from surveys.actions import Status, Store
from surveys.messages import BadInbound, Inbound
from surveys.phone import InvalidPhoneNumber, to_e164

PROVIDER = "africastalking"

# a delivery report's status in heard's (Twilio's) names: on its way, delivered, or not
DELIVERY_STATUSES = {"Sent": "sent", "Submitted": "sent", "Buffered": "sent",
                     "Success": "delivered", "Failed": "undelivered", "Rejected": "failed"}

# a delivery report's failureReason that says something about the person, not the attempt
OPT_OUT_REASONS = frozenset({"UserInBlackList", "UserInBlacklist"})
UNREACHABLE_REASONS = {"UserDoesNotExist": "unknown_destination",
                       "NotNetworkSubcriber": "unknown_destination",  # (AT's spelling)
                       "NotNetworkSubscriber": "unknown_destination"}


@dataclass(frozen=True)
class Refusal:
    """What a send's statusCode (outside 100-102) means: worth retrying, or never; and for
    the person, opted out or unreachable."""

    name: str
    transient: bool = False
    opt_out: bool = False
    unreachable: str | None = None


ACCEPTED_CODES = frozenset({100, 101, 102})  # Processed, Sent, Queued
REFUSALS = {
    401: Refusal("RiskHold", transient=True),  # held by AT's fraud checks: may be released
    402: Refusal("InvalidSenderId"),
    403: Refusal("InvalidPhoneNumber", unreachable="invalid_number"),
    404: Refusal("UnsupportedNumberType", unreachable="not_mobile"),
    405: Refusal("InsufficientBalance", transient=True),  # goes once the account is topped up
    406: Refusal("UserInBlacklist", opt_out=True),  # the person opted out at AT (STOP)
    407: Refusal("CouldNotRoute"),
    409: Refusal("DoNotDisturbRejection", unreachable="do_not_disturb"),
    500: Refusal("InternalServerError", transient=True),
    501: Refusal("GatewayError", transient=True),
    502: Refusal("RejectedByGateway"),
}


def refusal(code: int, status: str) -> Refusal:
    """The meaning of a send's statusCode; one AT does not document is a permanent refusal
    named by its status text, so it shows in the outbox instead of being retried for ever."""
    return REFUSALS.get(code, Refusal(status or str(code)))


def read_message(form: Mapping[str, str], region: str | None = None) -> Store:
    """An inbound SMS, on the `sms` channel like Twilio's, so the same person's messages through
    either provider are one conversation; a number not in E.164 is read in `region`."""
    require_fields(form, "id", "from")
    try:
        address = to_e164(form["from"], region)
    except InvalidPhoneNumber as error:
        raise BadPayload(f"from: {error}") from None
    try:
        return Store(Inbound(channel="sms", address=address, text=form.get("text", ""),
                             provider_id=form["id"],
                             payload={"to": form.get("to", ""), "provider": PROVIDER}))
    except BadInbound as error:
        raise BadPayload(str(error).replace("provider_id", "id")) from None


def read_status(form: Mapping[str, str]) -> Status:
    """A delivery report; a status AT does not document is refused (400), so it shows in AT's
    callback logs instead of being dropped without a trace."""
    require_fields(form, "id", "status")
    status = DELIVERY_STATUSES.get(form["status"])
    if status is None:
        raise BadPayload(f"status: unknown status {form['status']!r}; expected one of "
                         f"{', '.join(sorted(DELIVERY_STATUSES))}")
    reason = form.get("failureReason") or None
    if reason is not None and len(reason) > 32:
        raise BadPayload(f"failureReason: expected at most 32 characters, got {len(reason)}")
    return Status(form["id"], status, reason, reason in OPT_OUT_REASONS,
                  UNREACHABLE_REASONS.get(reason or ""))


def require_fields(form: Mapping[str, str], *names: str) -> None:
    """A 400's reason when AT's form lacks a field heard needs."""
    missing = [name for name in names if not form.get(name)]
    if missing:
        raise BadPayload(f"missing Africa's Talking field(s): {', '.join(missing)}")
