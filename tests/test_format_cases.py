"""Labelled cases of issue #20's survey format on every channel (tests/data/format/cases.json).

A case is a conversation with tests/data/household.yaml (in a language, up to a day) and what
its last message's replies become on each channel through that channel's own rendering: the SMS
text (`sms.render`), the Telegram message and its buttons (`bot.keyboards`, from the reply as the
outbox stores it), and what a call says and how it waits for keys (`voice.render`'s TwiML).
Rewrite the expectations with HEARD_REWRITE_CASES=1 when a change is intended (then read the
diff).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.keyboards import keyboard_for
from sms.render import render_sms
from surveys.engine import Reply, start, step
from surveys.i18n import translator
from surveys.validation import load_survey
from tests.cases import CaseFile
from tests.conftest import HERE
from voice import render
from worker.outbox import reply_body

CASES = CaseFile(Path(__file__).parent / "data" / "format" / "cases.json")
SURVEY = load_survey(HERE / "data" / "household.yaml")


@pytest.mark.parametrize("case", CASES.params())
def test_format_case(case: dict[str, Any]) -> None:
    today = date.fromisoformat(case.get("today", "2025-06-10"))
    result = start(SURVEY, case["lang"])
    for text in case["texts"]:
        result = step(SURVEY, json.loads(json.dumps(result.state)), text, today=today)
    replies = result.replies
    CASES.check(case, {"sms": [render_sms(reply) for reply in replies],
                       "telegram": [telegram(reply) for reply in replies],
                       "voice": voice(replies, result.state["lang"]),
                       "answers": {answer.question_id: answer.value for answer in result.answers}})


def telegram(reply: Reply) -> dict[str, Any]:
    """The message Telegram shows: its text and the labels of its buttons, row by row."""
    keyboard = keyboard_for(reply_body(reply), "Done")
    shown: dict[str, Any] = {"text": reply.text}
    if keyboard is not None:
        shown["buttons"] = [[button["text"] for button in row] for row in keyboard]
    return shown


def voice(replies: list[Reply], lang: str) -> dict[str, Any]:
    """What a call says, and the keys it waits for (one, or up to #)."""
    t = translator(SURVEY.words_for(lang))
    twiml = render.conversation(replies, t, render.Voice("en-US"), "/voice/next")
    root = ElementTree.fromstring(twiml)
    gather = root.find("Gather")
    heard: dict[str, Any] = {"said": [say.text for say in root.iter("Say")]}
    if gather is not None:
        heard["keys"] = "one" if gather.get("numDigits") == "1" else "until #"
    return heard
