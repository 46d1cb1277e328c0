"""Outbox rows: how every channel's outgoing message is stored before it is sent."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Any

from sms.render import render_sms
from sms.segments import count_segments
from surveys.channels import channel as channel_named
from surveys.engine import Reply, ReplyChoice
from surveys.settings import PURPOSES
from surveys.tables import utcnow

PURPOSE, LANG = "purpose", "lang"  # a reply's marks: why a message nobody asked for goes, and
# the language it is in (WhatsApp outside the person's window picks its template by both)


@lru_cache(maxsize=4096)
def sms_text(reply: Reply) -> tuple[str, int, str]:
    """A reply as SMS text, its segments and encoding: the same for everyone who gets it."""
    text = render_sms(reply)
    counted = count_segments(text)
    return text, counted.count, counted.encoding


def outbox_row(contact_id: int | None, channel: str, address: str, reply: Reply,
               inbox_id: int | None, seq: int, body: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """One outbox row; `body` (the reply as JSON) may be shared by rows written in bulk."""
    return {"contact_id": contact_id, "address": address} | outbox_fields(channel, reply,
                                                                        inbox_id, seq, body)


def outbox_fields(channel: str, reply: Reply, inbox_id: int | None, seq: int,
                  body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An outbox row but for whom it goes to: the same for everyone on `channel` who gets `reply`
    (a launch shares one per language and channel)."""
    text, segments, encoding = sms_text(reply)
    sms = channel_named(channel).sms_text
    return {"inbox_id": inbox_id, "seq": seq, "channel": channel, "text": text,
            "reply": body if body is not None else reply_body(reply),
            "status": "pending", "attempts": 0, "created_at": utcnow(),
            "segments": segments if sms else None, "encoding": encoding if sms else None}


def reply_body(reply: Reply, purpose: str | None = None,
               lang: str | None = None) -> dict[str, Any]:
    """The reply as stored in the outbox (JSON), a new object each time: callers may mark it
    (its nested parts are shared and must not be changed). A message nobody asked for (an
    invitation, a reminder, results: one of PURPOSES) says so, and its language."""
    body = _reply_json(reply) | {"after_opt_out": False}
    if purpose is not None:
        assert purpose in PURPOSES, f"unknown purpose {purpose!r}"
        body |= {PURPOSE: purpose, LANG: lang}
    return body


def stored_reply(body: dict[str, Any]) -> Reply:
    """The reply an outbox row stored (`reply_body`), to render it again for another channel."""
    return Reply(body["text"], body.get("kind", "message"), body.get("question_id"),
                 tuple(ReplyChoice(**choice) for choice in body.get("choices", ())),
                 multi=bool(body.get("multi")), decimal=bool(body.get("decimal")),
                 scale=str(body.get("scale") or ""))


@lru_cache(maxsize=4096)
def _reply_json(reply: Reply) -> dict[str, Any]:
    return asdict(reply)  # slow (a deep copy), and the same replies go to many people
