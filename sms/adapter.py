"""Twilio webhook form fields → one `Inbound` (SMS, or WhatsApp through Twilio)."""

from __future__ import annotations

from collections.abc import Mapping

from sms.phone import InvalidPhoneNumber, to_e164
from surveys.messages import Inbound

WHATSAPP_PREFIX = "whatsapp:"


class BadPayload(ValueError):
    """The webhook lacks what an inbound message needs; the message names the field."""


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


def inbound_from_twilio(form: Mapping[str, str], region: str | None = None) -> Inbound:
    missing = [name for name in ("MessageSid", "From") if not form.get(name)]
    if missing:
        raise BadPayload(f"missing Twilio field(s): {', '.join(missing)}")
    try:
        channel, address = split_address(form["From"], region)
    except InvalidPhoneNumber as error:
        raise BadPayload(f"From: {error}") from None
    media = int(form.get("NumMedia") or 0) if str(form.get("NumMedia") or "0").isdigit() else 0
    return Inbound(channel=channel, address=address, text=form.get("Body", ""),
                   provider_id=form["MessageSid"],
                   payload={"to": form.get("To", ""), "media": media})
