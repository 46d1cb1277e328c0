"""Outbox rows: how every channel's outgoing message is stored before it is sent."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Any

from sms.render import render_sms
from sms.segments import count_segments
from surveys.engine import Reply
from surveys.tables import utcnow

SMS_CHANNELS = frozenset({"sms", "whatsapp"})


@lru_cache(maxsize=4096)
def sms_text(reply: Reply) -> tuple[str, int, str]:
    """A reply as SMS text, its segments and encoding: the same for everyone who gets it."""
    text = render_sms(reply)
    counted = count_segments(text)
    return text, counted.count, counted.encoding


def outbox_row(contact_id: int, channel: str, address: str, reply: Reply, inbox_id: int | None,
               seq: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One outbox row; `body` (the reply as JSON) may be shared by rows written in bulk."""
    text, segments, encoding = sms_text(reply)
    sms = channel in SMS_CHANNELS
    return {"contact_id": contact_id, "inbox_id": inbox_id, "seq": seq, "channel": channel,
            "address": address, "text": text,
            "reply": body if body is not None else asdict(reply) | {"after_opt_out": False},
            "status": "pending", "attempts": 0, "created_at": utcnow(),
            "segments": segments if sms else None, "encoding": encoding if sms else None}
