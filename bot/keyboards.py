"""Inline keyboards for engine replies, and the callback data their buttons carry.

Callback data (at most 64 bytes, Telegram's limit) says everything a press means, so no server
state is kept for a keyboard:

    c:<number>:<question>          one choice (choice, yes/no, consent, a rating's point)
    t:<number>:<mask>:<question>   a multi-choice toggle; mask (hex) is the selection before it
    d:<mask>:<question>            multi-choice Done with the selection in mask (hex)
    l:<language>                   the language menu

The question id ties a button to the question it was sent with, so the worker can refuse a
stale press. An id too long to fit is replaced by ``#`` and a digest, which ties nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MAX_CALLBACK_BYTES = 64
CHECKED, UNCHECKED = "✅ ", "⬜ "
STAR, STARS = "⭐", 5  # a rating of up to STARS points is drawn in stars; more, numbered
Button = dict[str, str]  # a Bot API InlineKeyboardButton, as JSON
Keyboard = list[list[Button]]


@dataclass(frozen=True)
class Press:
    """What a button press means, decoded from its callback data."""

    kind: Literal["choice", "toggle", "done", "language"]
    tag: str = ""  # the question id, or "#" + its digest when the id did not fit
    number: int = 0
    mask: int = 0
    language: str = ""

    @property
    def question_id(self) -> str | None:
        return None if self.tag.startswith("#") else self.tag

    def selected(self) -> list[int]:
        """Choice numbers in the mask, ascending."""
        return [bit + 1 for bit in range(self.mask.bit_length()) if self.mask >> bit & 1]

    def toggled(self) -> int:
        return self.mask ^ (1 << (self.number - 1))


def question_tag(question_id: str, longest_prefix: str) -> str:
    """The question id, or a digest of it when the id would push data past 64 bytes."""
    if len((longest_prefix + question_id).encode()) <= MAX_CALLBACK_BYTES:
        return question_id
    return "#" + hashlib.blake2b(question_id.encode(), digest_size=5).hexdigest()


def parse_callback(data: object) -> Press | None:
    """The press a callback data string stands for; None for anything heard did not send."""
    if not isinstance(data, str):
        return None
    kind, _, rest = data.partition(":")
    try:
        if kind == "l" and rest:
            return Press("language", language=rest)
        if kind == "c":
            number, _, tag = rest.partition(":")
            return _press("choice", tag, number=int(number))
        if kind == "t":
            number, _, rest = rest.partition(":")
            mask, _, tag = rest.partition(":")
            return _press("toggle", tag, number=int(number), mask=int(mask, 16))
        if kind == "d":
            mask, _, tag = rest.partition(":")
            return _press("done", tag, mask=int(mask, 16))
    except ValueError:
        return None
    return None


def _press(kind: Any, tag: str, number: int = 0, mask: int = 0) -> Press | None:
    if not tag or mask < 0 or number < 0 or (kind == "toggle" and number < 1):
        return None
    return Press(kind, tag, number, mask)


def keyboard_for(reply: Mapping[str, Any], done_label: str) -> Keyboard | None:
    """Rows of buttons for a stored engine reply (`dataclasses.asdict(Reply)`), or None."""
    choices: Sequence[Mapping[str, Any]] = reply.get("choices") or ()
    kind = reply.get("kind")
    if not choices or kind not in ("question", "reprompt", "menu"):
        return None
    if kind == "menu":
        return [[_button(choice["label"], f"l:{choice['value']}")] for choice in choices]
    question_id = str(reply.get("question_id") or "")
    labels = [(int(choice["number"]), str(choice["label"])) for choice in choices]
    if reply.get("multi"):
        return multi_keyboard(multi_tag(question_id, len(labels)), labels, 0, done_label)
    tag = question_tag(question_id, f"c:{max(number for number, _ in labels)}:")
    if reply.get("scale"):
        return rating_keyboard(tag, choices)
    buttons = [_button(label, f"c:{number}:{tag}") for number, label in labels]
    if [choice["value"] for choice in choices] == ["yes", "no"]:
        return [buttons]  # yes and no side by side
    return [[button] for button in buttons]


def rating_keyboard(tag: str, points: Sequence[Mapping[str, Any]]) -> Keyboard:
    """A rating: one button per point, its stars (up to five points, one row each, the most at
    the bottom) or its number and a star, and the point's words where the survey gives some."""
    many = len(points) > STARS

    def face(point: Mapping[str, Any]) -> str:
        number, mark, label = int(point["number"]), str(point["shown"] or point["number"]), \
            str(point["label"])
        stars = f"{mark} {STAR}" if many else STAR * number
        return stars if label == mark else f"{stars} {label}"

    buttons = [_button(face(point), f"c:{point['number']}:{tag}") for point in points]
    if not many:
        return [[button] for button in buttons]
    return [buttons[start:start + STARS] for start in range(0, len(buttons), STARS)]


def multi_tag(question_id: str, choices: int) -> str:
    return question_tag(question_id, f"t:{choices}:{(1 << choices) - 1:x}:")


def multi_keyboard(tag: str, labels: Sequence[tuple[int, str]], mask: int,
                   done_label: str) -> Keyboard:
    """One toggle per choice (checked when its bit is in `mask`), then Done."""
    rows = [[_button((CHECKED if mask >> (number - 1) & 1 else UNCHECKED) + label,
                     f"t:{number}:{mask:x}:{tag}")]
            for number, label in labels]
    rows.append([_button(done_label, f"d:{mask:x}:{tag}")])
    return rows


def toggled_keyboard(current: object, press: Press) -> Keyboard | None:
    """The keyboard after a toggle press, rebuilt from the one Telegram sent with the press.

    None when that keyboard is missing or is not one heard drew for this question (e.g. the
    message is older than 48 hours, which Telegram no longer shows to bots).
    """
    if not isinstance(current, Mapping) or not isinstance(current.get("inline_keyboard"), list):
        return None
    labels: list[tuple[int, str]] = []
    done_label = None
    for row in current["inline_keyboard"]:
        for button in row if isinstance(row, list) else [{}]:
            seen = parse_callback(button.get("callback_data")) if isinstance(button, dict) else None
            if seen is None or seen.tag != press.tag:
                return None
            if seen.kind == "toggle":
                labels.append((seen.number, _unmarked(str(button.get("text", "")))))
            elif seen.kind == "done":
                done_label = str(button.get("text", ""))
    if not labels or done_label is None:
        return None
    return multi_keyboard(press.tag, labels, press.toggled(), done_label)


def _unmarked(label: str) -> str:
    for mark in (CHECKED, UNCHECKED):
        if label.startswith(mark):
            return label[len(mark):]
    return label


def _button(label: object, data: str) -> Button:
    return {"text": str(label), "callback_data": data}
