"""Lengths of time as people write them ("90d", "2h", "1h30m", "45s"): a launch's pace, a
token's life. One reader, so every command, API field and form takes the same words."""

from __future__ import annotations

import re
from datetime import timedelta

SPAN = re.compile(r"^(?:(\d+(?:\.\d+)?)d(?:ays?)?)?(?:(\d+(?:\.\d+)?)h)?"
                  r"(?:(\d+(?:\.\d+)?)m(?:in)?)?(?:(\d+)s)?$")


def parse_span(text: str) -> timedelta:
    """"90d", "2h", "90m", "1h30m", "45s" → a timedelta above 0; ValueError saying what is
    expected."""
    found = SPAN.match(text.strip().lower().replace(" ", ""))
    if not text.strip() or found is None or not any(found.groups()):
        raise ValueError(f"not a length of time: {text!r} (e.g. 90d, 2h, 90m, 1h30m)")
    days, hours, minutes, seconds = (float(part or 0) for part in found.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if span <= timedelta(0):
        raise ValueError(f"a length of time above 0, not {text!r}")
    return span
