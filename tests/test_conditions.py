from __future__ import annotations

import pytest

from surveys.conditions import ConditionError, parse_calculation, parse_condition

ANSWERS = {"source": "other", "minutes": 45, "problems": ["dirty", "far"], "skipped": None}


@pytest.mark.parametrize("expression,expected", [
    ("source == 'other'", True),
    ("source != 'other'", False),
    ("minutes > 30 and source == 'other'", True),
    ("minutes < 30 or source == 'tap'", False),
    ("not minutes < 30", True),
    ("'dirty' in problems", True),
    ("'cost' not in problems", True),
    ("source in ['tap', 'other']", True),
    ("30 < minutes <= 45", True),
    ("minutes >= -5", True),
    ("skipped == null", True),
    ("skipped > 3", False),          # a missing answer never compares true
    ("unanswered == 'x'", False),
    ("source > 3", False),           # mismatched types are false, not an error
    ("'x' in minutes", False),
    ("true", True),
])
def test_evaluate(expression, expected):
    assert parse_condition(expression).evaluate(ANSWERS) is expected


def test_names_are_collected_without_literals():
    assert parse_condition("a == 1 and b in ['x'] or not c == true").names == {"a", "b", "c"}


@pytest.mark.parametrize("expression", [
    "__import__('os')", "a.b", "a + 1", "[x for x in a]", "lambda: 1", "a[0]", "a if b else c",
    "f'{a}'", "a ==", "a is None", "b'x' == a",
])
def test_unsafe_or_invalid_expressions_are_rejected(expression):
    with pytest.raises(ConditionError):
        parse_condition(expression)


@pytest.mark.parametrize("expression,expected", [
    ("minutes + 15", 60), ("minutes / 2", 22.5), ("(minutes - 5) * 2", 80), ("-minutes", -45),
    ("minutes / 0", None), ("minutes + skipped", None), ("minutes + source", None),
    ("1.5 * 2", 3),
])
def test_calculation(expression, expected):
    assert parse_calculation(expression).value(ANSWERS) == expected


@pytest.mark.parametrize("expression", [
    "minutes ** 2", "minutes > 3", "'a' + 'b'", "f(minutes)", "minutes % 2", "a.b + 1",
])
def test_calculations_are_arithmetic_only(expression):
    with pytest.raises(ConditionError):
        parse_calculation(expression)


def test_choice_tags_only_in_a_choice_filter():
    condition = parse_condition("choice.county == county and choice.size <= 3", tags=True)
    assert condition.names == {"county"} and condition.tags == {"county", "size"}
    assert condition.evaluate({"county": "kisumu", "choice.county": "kisumu", "choice.size": 2})
    assert not condition.evaluate({"county": "kisumu", "choice.county": "nairobi"})
    with pytest.raises(ConditionError):
        parse_condition("choice.county == county")
    with pytest.raises(ConditionError):
        parse_condition("other.county == county", tags=True)
