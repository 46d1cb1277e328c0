"""Phone numbers to E.164 with `phonenumbers`, with a reason when a number is not one."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """Not a possible phone number; the message says why."""


@lru_cache(maxsize=65_536)  # people write several messages: their number is parsed once
def to_e164(raw: str, region: str | None = None) -> str:
    """'+254 712 345678' or ('0712 345678', 'KE') → '+254712345678'."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException as error:
        hint = "" if text.startswith("+") or region else " (no country code and no --region)"
        raise InvalidPhoneNumber(f"not a phone number: {text!r}: {error._msg}{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"not a possible phone number: {text!r}")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"not a valid number for its country: {text!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_NUMBER_IN_TEXT = re.compile(r"\+?\d[\d ().-]{5,}\d")


def without_numbers(text: str) -> str:
    """A provider's error text fit for a log: 'The 'To' number +2547... is not valid' names a
    person; the log keeps the error, not the number."""
    return _NUMBER_IN_TEXT.sub("[number]", text)
