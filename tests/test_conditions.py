from __future__ import annotations

import pytest

from surveys.conditions import ConditionError, parse_condition

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
