"""Render engine replies as SMS text: one choice a line.

A newline costs what a space costs, reads far better on a small screen, and keeps each number
beside its own label when right-to-left and Latin labels mix (each line is its own paragraph
for the bidi algorithm: '3' never shows beside 'English'). A rating is its scale on one line,
"1-5 (1 = Very bad, 5 = Very good)", not five lines of numbers.
"""

from __future__ import annotations

from surveys.engine import Reply


def render_sms(reply: Reply) -> str:
    if reply.kind not in ("question", "menu") or not reply.choices:
        return reply.text
    if reply.scale:
        return f"{reply.text}\n{reply.scale}"
    options = "\n".join(f"{choice.mark} {choice.label}" for choice in reply.choices)
    return f"{reply.text}\n{options}"
