"""Numbers as people type them, read by the contact's locale: pure.

'1,000' is a thousand in English and Bengali, '2.000' two thousand in Spanish, Danish and
Vietnamese, '1 500' and '1,00,000' (South Asian grouping) what they look like, 'Sh 1,000' a
thousand shillings, '1k' a thousand, '1,5' one and a half. Babel knows each locale's decimal
and group symbols. A number that reads two ways in the person's locale ('2.000' in French: two,
or two thousand?) comes back with both readings, for heard to ask rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from babel.numbers import get_decimal_symbol, get_group_symbol

from surveys.i18n import ascii_digits, babel_locale

SPACES = " \u00a0\u202f\u2009'’"  # always group marks: '1 500', "1'500"
TOKEN = re.compile(r"[-+\u2212]?\d(?:[\d.,\u00a0\u202f\u2009'’ ]*\d)?")
MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "lakh": 100_000, "lakhs": 100_000,
               "lac": 100_000, "lacs": 100_000, "crore": 10_000_000, "m": 1_000_000,
               "million": 1_000_000}
SUFFIX = re.compile(r"\s*([a-z]+)\b")


@dataclass(frozen=True)
class Reading:
    """What a typed number means: one value, two (ambiguous), or none (not one number)."""

    values: tuple[float, ...]

    @property
    def ambiguous(self) -> bool:
        return len(self.values) > 1


@cache
def symbols(lang: str) -> tuple[str, str]:
    """(decimal, group) of the language's locale: ('.', ',') in English, (',', '.') in Danish."""
    locale = babel_locale(lang)
    group = get_group_symbol(locale)
    return get_decimal_symbol(locale), " " if group in SPACES else group


def read_number(text: str, lang: str) -> Reading:
    """The number(s) `text` can mean in `lang`; empty when it is not exactly one number."""
    plain = ascii_digits(text).replace("\u2212", "-")
    tokens = list(TOKEN.finditer(plain))
    if len(tokens) != 1:
        return Reading(())
    found = tokens[0]
    token = found.group().strip(SPACES)
    scale = 1
    suffix = SUFFIX.match(plain.lower(), found.end())
    if suffix and suffix.group(1) in MULTIPLIERS:
        scale = MULTIPLIERS[suffix.group(1)]
    values = _readings(token, *symbols(lang))
    return Reading(tuple(dict.fromkeys(value * scale for value in values)))


def _readings(token: str, decimal: str, group: str) -> tuple[float, ...]:
    sign = -1 if token[0] == "-" else 1
    body = token.lstrip("+-")
    for mark in SPACES:
        body = body.replace(mark, " ")
    if " " in body:  # spaces only ever group: '1 500', '1 500,5'
        head, rest = (body.split(" ", 1)[0], body.split(" ", 1)[1])
        integer, fraction, separator = _split_last(rest, ".,")
        if separator and not _grouped(head + " " + integer, " "):
            return ()
        if not separator and not _grouped(body, " "):
            return ()
        whole = (head + " " + integer if separator else body).replace(" ", "")
        return (sign * float(f"{whole}.{fraction}" if separator else whole),)
    marks = {mark for mark in body if mark in ".,"}
    if not marks:
        return (sign * float(body),)
    if len(marks) == 2:  # '1,234.5' / '1.234,5': the last mark is the decimal one
        integer, fraction, separator = _split_last(body, ".,")
        other = "," if separator == "." else "."
        if other in fraction or not _grouped(integer, other):
            return ()
        return (sign * float(integer.replace(other, "") + "." + fraction),)
    mark = marks.pop()
    parts = body.split(mark)
    if len(parts) > 2:  # '1,000,000', '1.000.000', '1,00,000': grouping only
        return (sign * float(body.replace(mark, "")),) if _grouped(body, mark) else ()
    integer, fraction = parts
    as_decimal = sign * float(f"{integer}.{fraction}")
    if len(fraction) != 3 or integer.lstrip("0") == "":
        return (as_decimal,)  # '1,5', '2.25', '0.500': only a decimal reads so
    as_grouped = sign * float(integer + fraction)
    if mark == group and mark != decimal:
        return (as_grouped,)
    return (as_grouped, as_decimal)  # the locale's decimal mark, or a foreign one: ask


def _split_last(text: str, marks: str) -> tuple[str, str, str]:
    """'1.234,5' → ('1.234', '5', ','): the part before the last mark, after it, the mark."""
    at = max(text.rfind(mark) for mark in marks)
    if at < 0:
        return text, "", ""
    return text[:at], text[at + 1:], text[at]


def _grouped(integer: str, mark: str) -> bool:
    """Groups of three ('1,000,000'), or South Asian twos then three ('1,00,000')."""
    head, *groups = integer.split(mark)
    if not groups:
        return head.isdigit()
    if not (head.isdigit() and 1 <= len(head) <= 3 and all(g.isdigit() for g in groups)):
        return False
    western = all(len(g) == 3 for g in groups)
    south_asian = len(groups[-1]) == 3 and all(len(g) == 2 for g in groups[:-1])
    return western or south_asian
