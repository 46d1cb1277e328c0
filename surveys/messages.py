"""The one shape every channel turns its inbound payloads into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from surveys.tables import utcnow

MAX_TEXT = 10_000  # characters kept of one inbound text; longer is cut, never rejected


@dataclass(frozen=True)
class Inbound:
    channel: str
    address: str
    text: str
    provider_id: str
    received_at: datetime = field(default_factory=utcnow)
    payload: dict[str, Any] = field(default_factory=dict)


def clean_text(text: object) -> str:
    """Text any database stores: valid UTF-8 (lone surrogates replaced), no NUL, bounded."""
    if not isinstance(text, str):
        return ""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text[:MAX_TEXT]
