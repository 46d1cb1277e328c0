"""Engine step cost, against the ceiling of a plain json round-trip of the same state.

The worker does exactly one state load + engine step + state dump per inbound message, so the
json round-trip of that state is the floor any step can reach.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from surveys.engine import start, step
from surveys.i18n import keywords, localize_digits
from surveys.model import Survey
from surveys.validation import load_survey, parse_survey

EXAMPLES = Path(__file__).resolve().parent.parent / "surveys" / "examples"
CONVERSATION = ["1", "2", "1", "yes", "1 3", "skip"]
TYPED = ["Sh 1,000", "2.000", "1"]  # a locale-read number, one asked back, then its yes
LANGUAGES = ["en", "fr", "es", "sw", "bn", "hi", "ne", "vi", "da", "fil", "ny"]


def _typed_in(lang: str) -> list[str]:
    """The conversation as a person in `lang` types it: their digits, their word for yes."""
    yes = next(word for word, command in keywords(lang).items() if command == "yes")
    return [localize_digits(text, lang) if text != "yes" else yes for text in CONVERSATION]


def _per_step(survey: Survey, texts: list[str], lang: str, rounds: int) -> float:
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
    money = parse_survey(MONEY)
    _per_step(survey, CONVERSATION, "en", 50)  # warm caches (catalogs, conditions)
    state = start(survey, "en").state
    ceiling = _json_ceiling(state, 20000)
    print("engine step (water-access, 6-answer conversation incl. json state round-trip; "
          "then a typed amount read by locale and asked back)")
    print(f"  ceiling, json round-trip of the state alone: {ceiling * 1e6:.1f} µs")
    worst = 0.0
    for lang in LANGUAGES:
        _per_step(survey, _typed_in(lang), lang, 20)
        answers = _per_step(survey, _typed_in(lang), lang, 1500)
        _per_step(money, TYPED, lang, 20)
        typed = _per_step(money, TYPED, lang, 1500)
        worst = max(worst, answers, typed)
        print(f"  {lang:>3}: {answers * 1e6:6.1f} µs/step answers, {typed * 1e6:6.1f} µs/step "
              f"typed amounts = {max(answers, typed) / ceiling:.1f}× the ceiling")
    print(f"  slowest: {worst * 1e6:.1f} µs/step (goal < 50 µs) = {worst / ceiling:.1f}× the "
          "ceiling")


MONEY = """
id: money
languages: [en, fr, es, sw, bn, hi, ne, vi, da, fil, ny]
title: {en: M, fr: M, es: M, sw: M, bn: M, hi: M, ne: M, vi: M, da: M, fil: M, ny: M}
questions:
  - id: spent
    type: number
    min: 0
    text: {en: S, fr: S, es: S, sw: S, bn: S, hi: S, ne: S, vi: S, da: S, fil: S, ny: S}
"""
