"""summarise() against a plain Python count of the same answers, odd values included.

Random people in several communities answer a survey with two profile questions (one also on
some contacts' profiles); answers include SQL NULL and JSON null, skips, a string where a
number belongs, decimals, repeated and null multi elements. With k = 1 nothing is hidden, so
every raw count and number statistic must equal the reference, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from typing import Any

import pytest
from sqlalchemy import null

from surveys import catalog
from surveys.database import session_scope
from surveys.summaries import NOT_GIVEN, RoundSummary, summarise
from surveys.suppression import TOTAL
from surveys.tables import Contact, Round, StoredAnswer, SurveySession
from surveys.validation import parse_survey

SURVEY = parse_survey("""
id: reference
languages: [en]
title: {en: Reference}
questions:
  - id: gender
    type: choice
    profile: true
    optional: true
    text: {en: Gender?}
    choices: [{value: f, text: {en: F}}, {value: m, text: {en: M}}]
  - id: age
    type: choice
    profile: true
    optional: true
    text: {en: Age?}
    choices: [{value: young, text: {en: Young}}, {value: old, text: {en: Old}}]
  - id: source
    type: choice
    optional: true
    text: {en: Source?}
    choices: [{value: tap, text: {en: Tap}}, {value: well, text: {en: Well}}]
  - id: days
    type: number
    optional: true
    text: {en: Days?}
  - id: problems
    type: multi
    optional: true
    text: {en: Problems?}
    choices: [{value: dirty, text: {en: Dirty}}, {value: far, text: {en: Far}}]
  - id: comment
    type: text
    optional: true
    text: {en: Comment?}
""")
SQL_NULL = object()  # an answer row whose value is SQL NULL (JSON null is None)
CHOICES = {"gender": ["f", "m", None, SQL_NULL], "age": ["young", "old", None],
           "source": ["tap", "well", "river", None, SQL_NULL]}
DAYS = [0, 1, 2.5, 3, 7, 7, "12", None, SQL_NULL]
PROBLEMS = [["dirty"], ["far", "dirty"], ["far", "far"], [], ["dirty", None], "far", None]
COMMENTS = ["broken pump", "", None, SQL_NULL]
PEOPLE = 90


def test_summary_equals_a_plain_count(database_url: str) -> None:
    rng = random.Random(3)
    round_id, people = build(database_url, rng)
    with session_scope(database_url) as db:
        summary = summarise(db, round_id, k=1)
    assert summary.dimensions == ("gender", "age", "community")
    assert summary.participants == len(people)
    for question in SURVEY.questions:
        item = summary.questions[question.id]
        for dimension in (None, *summary.dimensions):
            if dimension == question.id:
                assert dimension not in item.by
                continue
            table = item.overall if dimension is None else item.by[dimension]
            counts, numbers = reference(people, question.id, dimension)
            shown = {key: count for key, count in table.counts.items() if count}
            assert shown == counts, (question.id, dimension)
            if question.type == "number":
                assert_stats(table.stats, numbers)
    assert_not_hidden(summary)


def build(database_url: str, rng: random.Random) -> tuple[int, list[dict[str, Any]]]:
    """A round open to every community; returns its id and what each person answered."""
    people: list[dict[str, Any]] = []
    with session_scope(database_url) as db:
        survey = catalog.register(db, SURVEY)
        this, other = Round(survey_pk=survey.id, status="closed"), \
            Round(survey_pk=survey.id, status="closed")
        db.add_all([this, other])
        db.flush()
        for index in range(PEOPLE):
            person = {"community": rng.choice(["Kibera", "Mathare", None]),
                      "profile": rng.choice([{}, {"gender": "f"}, {"age": "old"}]),
                      "answers": answers(rng)}
            contact = Contact(channel="sms", address=f"+2547100{index:05d}", language="en",
                              community=person["community"], profile=person["profile"])
            db.add(contact)
            db.flush()
            for round_row in (this, other):  # the other round's answers must not count
                session = SurveySession(contact_id=contact.id, survey_pk=survey.id,
                                        round_id=round_row.id, status="completed",
                                        state={"lang": "en"})
                db.add(session)
                db.flush()
                for question_id, (value, skipped) in person["answers"].items():
                    db.add(StoredAnswer(session_id=session.id, question_id=question_id,
                                  value=null() if value is SQL_NULL else value, raw="",
                                  skipped=skipped))
            people.append(person)
        return this.id, people


def answers(rng: random.Random) -> dict[str, tuple[Any, bool]]:
    """question → (value, skipped), some questions left unanswered."""
    options = {**CHOICES, "days": DAYS, "problems": PROBLEMS, "comment": COMMENTS}
    found = {}
    for question_id, values in options.items():
        if rng.random() < 0.15:
            continue
        skipped = rng.random() < 0.1
        found[question_id] = (None if skipped else rng.choice(values), skipped)
    return found


def reference(people: list[dict[str, Any]], question_id: str, dimension: str | None
              ) -> tuple[dict[tuple[str, str], int], dict[str, list[float]]]:
    """The non-zero counts with margins, and each group's numbers, counted in Python."""
    counts: Counter[tuple[str, str]] = Counter()
    numbers: dict[str, list[float]] = defaultdict(list)
    for person in people:
        value, skipped = person["answers"].get(question_id, (None, True))
        if skipped or value is None or value is SQL_NULL:
            continue
        group = TOTAL if dimension is None else group_of(person, dimension)
        values: list[str] = []
        if question_id in CHOICES:
            values = [value]
        elif question_id == "problems" and isinstance(value, list):
            values = [element for element in value if element is not None]
        elif question_id == "days" and not isinstance(value, str):
            numbers[group].append(value)  # a dimension's table has no overall stats
        for row in {group, TOTAL}:
            counts[(row, TOTAL)] += 1
            for element in values:
                counts[(row, element)] += 1
    return dict(counts), numbers


def group_of(person: dict[str, Any], dimension: str) -> str:
    if dimension == "community":
        return person["community"] or NOT_GIVEN
    value, skipped = person["answers"].get(dimension, (None, True))
    if skipped or value is None or value is SQL_NULL:
        return person["profile"].get(dimension, NOT_GIVEN)
    return str(value)


def assert_stats(stats: Any, numbers: dict[str, list[float]]) -> None:
    assert set(stats) == set(numbers)
    for group, values in numbers.items():
        found = stats[group]
        assert (found.count, found.min, found.max) == (len(values), min(values), max(values))
        assert found.median == statistics.median(values)
        assert found.mean == pytest.approx(statistics.mean(values))


def assert_not_hidden(summary: RoundSummary) -> None:
    for item in summary.questions.values():
        assert not item.overall.hidden
        assert all(not table.hidden for table in item.by.values())
