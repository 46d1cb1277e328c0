"""How many SMS segments a text costs: GSM-7 (160, or 153 per part) or UCS-2 (70, or 67).

Characters of the GSM 03.38 extension table ({ } [ ] ~ \\ | ^ € and form feed) take two septets.
A single character outside GSM-7 (any Bengali, Devanagari or emoji) turns the whole message
into UCS-2, where characters outside the Basic Multilingual Plane take two code units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segments:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    count: int


def count_segments(text: str) -> Segments:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return Segments("GSM-7", units, _parts(units, single=160, multi=153))
    units = len(text.encode("utf-16-le")) // 2
    return Segments("UCS-2", units, _parts(units, single=70, multi=67))


def _parts(units: int, single: int, multi: int) -> int:
    if units <= single:
        return 1
    return -(-units // multi)
