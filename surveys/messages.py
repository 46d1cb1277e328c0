"""The one shape every channel turns its inbound payloads into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from surveys.tables import utcnow

MAX_TEXT = 10_000  # characters kept of one inbound text; longer is cut, never rejected


MAX_ADDRESS = 255  # the inbox's columns
MAX_PROVIDER_ID = 128


class BadInbound(ValueError):
    """An inbound message heard cannot store as it is: the message names the field."""


@dataclass(frozen=True)
class Inbound:
    """A message as every channel hands it over. Its address and provider id are checked here,
    so one webhook's bad value is a 400 of its own, never a failed commit of others' rows."""

    channel: str
    address: str
    text: str
    provider_id: str
    received_at: datetime = field(default_factory=utcnow)
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, limit in (("address", MAX_ADDRESS), ("provider_id", MAX_PROVIDER_ID)):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or len(value) > limit:
                got = len(value) if isinstance(value, str) else type(value).__name__
                raise BadInbound(f"{name}: expected 1 to {limit} characters, got {got}")
            if not value.isprintable():
                raise BadInbound(f"{name}: control characters (such as NUL) are not allowed")
        object.__setattr__(self, "payload", clean_json(self.payload))


def clean_text(text: object) -> str:
    """Text any database stores: valid UTF-8 (lone surrogates replaced), no NUL, bounded."""
    if not isinstance(text, str):
        return ""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text[:MAX_TEXT]


def clean_json(value: Any) -> Any:
    """A payload any database stores: no NUL in its strings (PostgreSQL's JSON refuses them)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {clean_json(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value
