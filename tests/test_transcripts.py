"""Golden conversations, run without a database: survey + contact + messages → decisions.

Each file in tests/data/transcripts/ is a conversation: the survey, the contact as heard knows
them, the open rounds' codes, and what the person sends. After each message the file holds
what `surveys.conversation.decide` made of it: the outcome, which session it went to, the
engine's events, what changed about the contact and the replies, as the person reads them.
When a change is intended, `HEARD_REWRITE_CASES=1` writes the new expectations (then read
the diff).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from surveys.conversation import Decision, Opening, decide
from surveys.engine import Reply
from surveys.model import Survey
from surveys.validation import load_survey

HERE = Path(__file__).resolve().parent / "data"
FOLDER = HERE / "transcripts"
REWRITE = "HEARD_REWRITE_CASES"
EXPECTED = ("outcome", "session", "events", "contact", "replies")
yaml = YAML()
yaml.width = 4096  # one reply a line: a diff shows what changed
yaml.indent(mapping=2, sequence=4, offset=2)


@dataclass
class Person:
    channel: str
    address: str
    language: str | None = None
    opted_out: bool = False
    consent: bool | None = None
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass
class Place:
    survey_pk: int
    round_id: int | None
    state: dict[str, Any]
    status: str
    updated_at: datetime


@dataclass
class Said:
    text: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CodedRound:
    id: int
    survey_pk: int
    code: str
    status: str = "open"
    opens_at: datetime | None = None


class World:
    """One survey version (pk 1) and its open rounds (and those scheduled to open, by code:
    when), as the worker's batch would look them up."""

    def __init__(self, survey: Survey, codes: list[str], scheduled: dict[str, Any]) -> None:
        self.the_survey = survey
        self.rounds = {code: CodedRound(number, 1, code) for number, code in
                       enumerate(codes, start=1)}
        for number, (code, opens) in enumerate(scheduled.items(), start=len(codes) + 1):
            self.rounds[code] = CodedRound(number, 1, code, "scheduled", datetime.fromisoformat(
                str(opens)).replace(tzinfo=UTC))

    def round_by_code(self, code: str) -> CodedRound | None:
        return self.rounds.get(code)

    def survey(self, survey_pk: int) -> Survey:
        return self.the_survey

    def latest(self, survey_id: str) -> int | None:
        return 1 if survey_id == self.the_survey.id else None


def as_read(reply: Reply) -> str:
    """A reply as a person reads it, choices numbered (each channel renders them its way)."""
    choices = " | ".join(f"{choice.number} {choice.label}" for choice in reply.choices)
    return f"{reply.text} [{choices}]" if choices else reply.text


def run(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    """Each turn's input with what the conversation decided, applied as the worker applies it."""
    world = World(load_survey(HERE / transcript["survey"]), list(transcript.get("rounds") or []),
                  dict(transcript.get("scheduled") or {}))
    person = Person(**transcript["contact"])
    sessions: list[Place] = []
    clock = datetime(2026, 1, 1, tzinfo=UTC)
    turns = []
    for turn in transcript["turns"]:
        clock += timedelta(minutes=1)
        said = Said(str(turn["say"]), dict(turn.get("payload") or {}))
        decision: Decision[Place] = decide(person, sessions, said, world)
        for name, value in decision.contact.items():
            setattr(person, name, value)
        place = decision.session
        if decision.opens is not None and decision.result is not None:
            place = opened(decision.opens, decision.result.state, clock)
            sessions.append(place)
        if place is not None and decision.result is not None:
            place.state, place.status = decision.result.state, decision.result.state["status"]
            place.updated_at = clock
        inputs = {key: turn[key] for key in ("say", "payload") if key in turn}
        turns.append(inputs | {
            "outcome": decision.outcome,
            "session": sessions.index(place) + 1 if place is not None else None,
            "events": list(decision.result.events) if decision.result else [],
            "contact": dict(decision.contact),
            "replies": [as_read(reply) for reply in decision.replies]})
    return turns


def opened(opening: Opening, state: dict[str, Any], clock: datetime) -> Place:
    return Place(opening.survey_pk, opening.round_id, state, state["status"], clock)


FILES = sorted(FOLDER.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_transcript(path: Path) -> None:
    transcript = yaml.load(path.read_text(encoding="utf-8"))
    got = run(transcript)
    expected = [{key: turn[key] for key in ("say", "payload", *EXPECTED) if key in turn}
                for turn in transcript["turns"]]
    if got != expected and os.environ.get(REWRITE):
        for turn, new in zip(transcript["turns"], got, strict=True):
            turn.update({key: new[key] for key in EXPECTED})
        out = StringIO()
        yaml.dump(transcript, out)
        path.write_text(out.getvalue(), encoding="utf-8")
        return
    assert got == expected, f"{path.name} differs (rewrite the transcripts: {REWRITE}=1)"


def test_every_transcript_has_expectations() -> None:
    """A new file's turns need a first run with the rewrite flag: none may be left blank."""
    assert FILES
    for path in FILES:
        for number, turn in enumerate(yaml.load(path.read_text(encoding="utf-8"))["turns"], 1):
            assert "outcome" in turn and "replies" in turn, f"{path.name} turn {number}"
