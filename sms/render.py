"""Render engine replies as compact SMS text: choices numbered on one line."""

from __future__ import annotations

from surveys.engine import Reply


def render_sms(reply: Reply) -> str:
    if reply.kind not in ("question", "menu") or not reply.choices:
        return reply.text
    options = " ".join(f"{choice.number} {choice.label}" for choice in reply.choices)
    return f"{reply.text}\n{options}"
