"""Twilio error codes that say something about the contact, not about this one attempt."""

from __future__ import annotations

OPT_OUT_CODES = frozenset({21610})  # "Attempt to send to unsubscribed recipient" (STOP at Twilio)
UNREACHABLE_CODES = {
    21211: "invalid_number",  # 'To' number is not a valid phone number
    21614: "not_mobile",  # 'To' number is not a valid mobile number
    30005: "unknown_destination",  # unknown or inactive handset
    30006: "landline",  # landline or unreachable carrier
}


# refusals that say "not now", though Twilio answers them with a 4xx: retried like a 429
RETRIED_CODES = frozenset({63018})  # WhatsApp: the sender's rate limit was exceeded


def contact_effect(code: int | None) -> tuple[bool, str | None]:
    """(opt the contact out, reason it is unreachable) for a Twilio error code."""
    if code is None:
        return False, None
    return code in OPT_OUT_CODES, UNREACHABLE_CODES.get(code)


def parse_code(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
