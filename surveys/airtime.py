"""A round's airtime thank-you as a facilitator writes it ("KES 10", budget "5000") and as it is
kept: a currency and amounts in hundredths of it (AT takes two decimals)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_AMOUNT = re.compile(r"(?P<currency>[A-Za-z]{3})\s*(?P<value>\d+(?:\.\d+)?)")


class AirtimeError(ValueError):
    """An airtime amount or budget heard cannot use; the message says what it must be."""


@dataclass(frozen=True)
class Airtime:
    """Each completion's top-up and the round's budget, in hundredths of `currency`."""

    currency: str
    amount: int
    budget: int


def parse_airtime(amount: str, budget: str | None) -> Airtime:
    """'KES 10' and '5000' (or 'KES 5000') → Airtime('KES', 1000, 500000); an AirtimeError
    naming what is wrong. A budget is required: nobody wants an open-ended bill."""
    found = _AMOUNT.fullmatch(amount.strip())
    if found is None:
        raise AirtimeError(f"airtime {amount!r}: expected a currency code and an amount above "
                           f"0, e.g. 'KES 10'")
    currency = found["currency"].upper()
    each = hundredths(found["value"])
    if each <= 0:
        raise AirtimeError(f"airtime {amount!r}: the amount must be above 0")
    if not budget or not budget.strip():
        raise AirtimeError("an airtime budget is required with an airtime amount, e.g. 5000")
    text = budget.strip()
    if text[:3].isalpha():
        if text[:3].upper() != currency:
            raise AirtimeError(f"airtime budget {budget!r}: in {text[:3].upper()}, not in "
                               f"{currency} as the amount")
        text = text[3:].strip()
    try:
        total = hundredths(text)
    except AirtimeError:
        raise AirtimeError(f"airtime budget {budget!r}: expected an amount, e.g. 5000") from None
    if total < each:
        raise AirtimeError(f"airtime budget {budget!r}: less than one top-up of {amount}")
    return Airtime(currency, each, total)


def hundredths(value: str) -> int:
    """'10.5' → 1050."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise AirtimeError(f"{value!r} is not an amount") from None
    if not number.is_finite() or number != number.quantize(Decimal("0.01")):
        raise AirtimeError(f"{value!r} is not an amount with at most two decimals")
    return int(number * 100)


def shown(currency: str, amount: int) -> str:
    """1050 KES → 'KES 10.50', as AT reads an amount and a facilitator too."""
    return f"{currency} {amount // 100}.{amount % 100:02d}"
