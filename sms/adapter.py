"""Twilio's webhook forms → actions (pure): an SMS or WhatsApp message, or a delivery report."""

from __future__ import annotations

from collections.abc import Mapping

from sms.errors import contact_effect, parse_code
from surveys.actions import STATUS_RANK, Status, Store
from surveys.messages import BadInbound, Inbound
from surveys.phone import InvalidPhoneNumber, to_e164

WHATSAPP_PREFIX = "whatsapp:"


class BadPayload(ValueError):
    """The webhook lacks what heard needs, or says what Twilio never does; names the field."""


def split_address(raw: str, region: str | None = None) -> tuple[str, str]:
    """'whatsapp:+2547...' → ('whatsapp', '+2547...'); '+2547...' → ('sms', '+2547...')."""
    channel = "sms"
    if raw.lower().startswith(WHATSAPP_PREFIX):
        channel, raw = "whatsapp", raw[len(WHATSAPP_PREFIX):]
    try:
        return channel, to_e164(raw, region)
    except InvalidPhoneNumber:
        if raw.strip():  # short codes and alphanumeric senders are not E.164: keep as given
            return channel, raw.strip()
        raise


def read_message(form: Mapping[str, str], region: str | None = None) -> Store:
    """An inbound message; a photo or voice note with no words is stored as media. A number
    not in E.164 is read in the sender's country (Twilio's FromCountry), else in `region`."""
    require_fields(form, "MessageSid", "From")
    try:
        channel, address = split_address(form["From"], form.get("FromCountry") or region)
    except InvalidPhoneNumber as error:
        raise BadPayload(f"From: {error}") from None
    media = int(form.get("NumMedia") or 0) if str(form.get("NumMedia") or "0").isdigit() else 0
    try:
        return Store(Inbound(channel=channel, address=address, text=form.get("Body", ""),
                             provider_id=form["MessageSid"],
                             payload={"to": form.get("To", ""), "media": min(media, 99)}))
    except BadInbound as error:
        raise BadPayload(str(error).replace("provider_id", "MessageSid").replace(
            "address", "From")) from None


def read_status(form: Mapping[str, str]) -> Status:
    """A delivery report; a MessageStatus Twilio does not document is refused (400), so it
    shows in Twilio's logs instead of being dropped without a trace."""
    require_fields(form, "MessageSid", "MessageStatus")
    status = form["MessageStatus"]
    if status not in STATUS_RANK:
        raise BadPayload(f"MessageStatus: unknown status {status!r}; expected one of "
                         f"{', '.join(sorted(STATUS_RANK))}")
    code = parse_code(form.get("ErrorCode") or None)
    opt_out, unreachable = contact_effect(code)
    return Status(form["MessageSid"], status, str(code) if code is not None else None,
                  opt_out, unreachable)


def require_fields(form: Mapping[str, str], *names: str) -> None:
    """A 400's reason when Twilio's form lacks a field heard needs (SMS's and calls' alike)."""
    missing = [name for name in names if not form.get(name)]
    if missing:
        raise BadPayload(f"missing Twilio field(s): {', '.join(missing)}")
