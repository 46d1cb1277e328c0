from __future__ import annotations

import pytest

from surveys.answers import Invalid, parse_answer
from surveys.i18n import ascii_digits, translator
from surveys.model import Question

EN = translator("en")


def q(**fields) -> Question:
    return Question(id="q", text={"en": "?"}, **fields)


@pytest.mark.parametrize("text,expected", [
    ("৩৪", "34"), ("३४", "34"), ("٣٤", "34"), ("۳۴", "34"), ("๓๔", "34"), ("abc 12", "abc 12")])
def test_ascii_digits(text, expected):
    assert ascii_digits(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("7", 7), (" 12 ", 12), ("-3", -3), ("3.0", 3), ("about 20 minutes", 20), ("२०", 20)])
def test_integer_answers(text, expected):
    assert parse_answer(q(type="number", min=-5, max=100), text, "en", EN) == expected


@pytest.mark.parametrize("text", ["", "abc", "3.5", "1 or 2", "101", "-6"])
def test_invalid_integer_answers(text):
    result = parse_answer(q(type="number", min=-5, max=100), text, "en", EN)
    assert result == Invalid("Please reply with a whole number from -5 to 100.")


def test_decimal_answers_accept_comma():
    question = q(type="number", decimal=True)
    assert parse_answer(question, "2,5", "en", EN) == 2.5
    assert parse_answer(question, "x", "en", EN) == Invalid("Please reply with a number.")


def test_open_ended_number_hints():
    assert parse_answer(q(type="number", min=1), "0", "en", EN).message == (
        "Please reply with a whole number of at least 1.")
    assert parse_answer(q(type="number", max=1), "2", "en", EN).message == (
        "Please reply with a whole number of at most 1.")


def test_text_answers():
    question = q(type="text", max_length=5)
    assert parse_answer(question, "  hi ", "en", EN) == "hi"
    assert isinstance(parse_answer(question, "   ", "en", EN), Invalid)
    assert isinstance(parse_answer(question, "toolong", "en", EN), Invalid)


def test_choice_by_value_label_and_number():
    question = q(type="choice", choices=[
        {"value": "tap", "text": {"en": "Tap", "fr": "Robinet"}},
        {"value": "well", "text": {"en": "Well", "fr": "Puits"}}])
    assert parse_answer(question, "2", "en", EN) == "well"
    assert parse_answer(question, "2.", "en", EN) == "well"
    assert parse_answer(question, "WELL", "en", EN) == "well"
    assert parse_answer(question, "robinet", "fr", EN) == "tap"
    assert parse_answer(question, "3", "en", EN) == Invalid(
        "Please reply with one number from 1 to 2.")
