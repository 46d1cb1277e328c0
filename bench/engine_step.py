"""Engine step cost, against the ceiling of a plain json round-trip of the same state.

The worker does exactly one state load + engine step + state dump per inbound message, so the
json round-trip of that state is the floor any step can reach.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from surveys.engine import start, step
from surveys.validation import load_survey

EXAMPLES = Path(__file__).resolve().parent.parent / "surveys" / "examples"
CONVERSATION = ["1", "2", "1", "yes", "1 3", "skip"]
BN_CONVERSATION = ["১", "২", "১", "হ্যাঁ", "১ ৩", "skip"]


def _per_step(survey, texts: list[str], lang: str, rounds: int) -> float:
    steps = 0
    began = time.perf_counter()
    for _ in range(rounds):
        result = start(survey, lang)
        for text in texts:
            result = step(survey, json.loads(json.dumps(result.state)), text)
            steps += 1
    return (time.perf_counter() - began) / steps


def _json_ceiling(state: dict, rounds: int) -> float:
    began = time.perf_counter()
    for _ in range(rounds):
        json.loads(json.dumps(state))
    return (time.perf_counter() - began) / rounds


def main() -> None:
    survey = load_survey(EXAMPLES / "water-access.yaml")
    _per_step(survey, CONVERSATION, "en", 50)  # warm caches (catalogs, conditions)
    en = _per_step(survey, CONVERSATION, "en", 3000)
    bn = _per_step(survey, BN_CONVERSATION, "bn", 3000)
    state = start(survey, "en").state
    ceiling = _json_ceiling(state, 20000)
    print("engine step (water-access, 6-answer conversation incl. json state round-trip)")
    print(f"  en: {en * 1e6:7.1f} µs/step   bn: {bn * 1e6:7.1f} µs/step   (goal < 50 µs)")
    print(f"  ceiling, json round-trip of the state alone: {ceiling * 1e6:.1f} µs "
          f"→ step costs {en / ceiling:.1f}× the ceiling")
