"""Loading reports every problem of a survey file at once, as FILE:LINE:COL: message."""

from __future__ import annotations

import textwrap

import pytest

from surveys.validation import SurveyError, load_survey, parse_survey
from tests.conftest import HERE

VALID = """\
id: s
languages: [en, sw]
title: {en: T, sw: T}
questions:
  - id: a
    type: number
    min: 0
    max: 7
    text: {en: Days?, sw: Siku?}
  - id: b
    type: choice
    when: a > 3
    text: {en: Pick, sw: Chagua}
    choices:
      - {value: x, text: {en: Ex, sw: Eks}}
      - {value: y, text: {en: Why, sw: Wai}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SurveyError) as caught:
        parse_survey(textwrap.dedent(text), "s.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_valid_survey_loads():
    survey = parse_survey(VALID)
    assert [q.id for q in survey.questions] == ["a", "b"]
    assert survey.default_language == "en"


def test_yaml_syntax_error_has_position():
    assert problems("id: [\n") == [
        "s.yaml:2:1: YAML syntax: while parsing a flow node expected the node content, "
        "but found '<stream end>'"]


def test_duplicate_yaml_key_is_a_syntax_error():
    found = problems(VALID + "id: again\n")
    assert len(found) == 1 and found[0].startswith("s.yaml:17:1: YAML syntax:")
    assert "duplicate key" in found[0]


def test_unknown_top_level_key():
    assert problems(VALID + "colour: blue\n") == ["s.yaml:17:1: unknown key 'colour'"]


def test_unknown_question_key_names_question():
    text = VALID.replace("    min: 0\n", "    minimum: 0\n")
    assert problems(text) == ["s.yaml:7:5: unknown key 'minimum' in question 'a'"]


def test_unknown_question_type():
    found = problems(VALID.replace("type: number", "type: numbr"))
    assert found[0].startswith("s.yaml:6:11: unknown question type 'numbr' in question 'a'")


def test_missing_required_key():
    assert problems(VALID.replace("title: {en: T, sw: T}\n", "")) == [
        "s.yaml:1:1: missing required key 'title'"]


def test_missing_translation_names_language_and_field():
    found = problems(VALID.replace("{en: Days?, sw: Siku?}", "{en: Days?}"))
    assert found == ["s.yaml:9:11: question 'a' text: missing translation for 'sw'"]
    found = problems(VALID.replace("{value: y, text: {en: Why, sw: Wai}}",
                                   "{value: y, text: {en: Why}}"))
    assert found == ["s.yaml:16:26: question 'b' choice 'y': missing translation for 'sw'"]


def test_translation_for_unlisted_language():
    found = problems(VALID.replace("title: {en: T, sw: T}", "title: {en: T, sw: T, fr: T}"))
    assert found == ["s.yaml:3:27: title: language 'fr' is not in the survey's languages"]


def test_duplicate_question_id():
    found = problems(VALID.replace("  - id: b\n", "  - id: a\n").replace("    when: a > 3\n", ""))
    assert found == ["s.yaml:10:9: duplicate question id 'a'"]


def test_min_greater_than_max():
    assert problems(VALID.replace("min: 0", "min: 9")) == [
        "s.yaml:7:10: question 'a': min 9 is greater than max 7"]


def test_choice_question_without_choices():
    text = VALID.split("    choices:")[0]
    assert problems(text) == [
        "s.yaml:10:5: question 'b': a choice question needs a non-empty 'choices' list"]


def test_choices_on_a_number_question():
    text = VALID.replace("    min: 0\n", "    choices: []\n")
    assert problems(text) == [
        "s.yaml:7:14: question 'a': 'choices' is only for choice and multi questions"]


@pytest.mark.parametrize("when,message", [
    ("zz > 3", "when names 'zz', which is not an earlier question"),
    ("b == 'x'", "when names 'b', which is not an earlier question"),
    ("a >", "when: invalid expression 'a >'"),
    ("__import__('os').system('id')", "when: Call is not allowed"),
    ("a.real > 1", "when: Attribute is not allowed"),
    ("a + 1 > 2", "when: BinOp is not allowed"),
])
def test_bad_when(when, message):
    found = problems(VALID.replace("when: a > 3", f'when: "{when}"'))
    assert len(found) == 1 and found[0].startswith("s.yaml:12:11: question 'b': ")
    assert message in found[0]


def test_unknown_language_code():
    found = problems(VALID.replace("[en, sw]", "[en, qq]").replace("sw:", "qq:"))
    assert found == ["s.yaml:2:17: unknown language code 'qq'"]


def test_summary_checks_question_value_and_placeholders():
    text = VALID + textwrap.dedent("""\
        summary:
          - question: nope
            text: {en: x, sw: x}
          - question: b
            value: z
            text: {en: "{percent}", sw: "{pct}"}
        """)
    assert problems(text) == [
        "s.yaml:18:15: summary names unknown question 'nope'",
        "s.yaml:21:12: summary value 'z' is not a choice of 'b' (one of: x, y)",
        "s.yaml:22:33: summary text (sw): unknown placeholder {pct} (use count, matching, percent)",
    ]


def test_every_problem_reported_at_once():
    text = (VALID.replace("min: 0", "min: 9").replace("{en: Days?, sw: Siku?}", "{en: Days?}")
            + "colour: blue\n")
    assert len(problems(text)) == 3


def test_not_a_mapping():
    assert problems("- just\n- a list\n") == [
        "s.yaml:1:1: a survey must be a YAML mapping (id: ...)"]


# -- issue #20's keys: each problem names the question and key, at its line and column --------

FORMAT20 = """\
id: s
languages: [en, sw]
title: {en: T, sw: T}
questions:
  - id: a
    type: number
    text: {en: Days?, sw: Siku?}
"""


def problems_with(question: str, closing: str = "") -> list[str]:
    return problems(FORMAT20 + textwrap.indent(textwrap.dedent(question), "  ") + closing)


def test_the_household_example_is_valid():
    assert len(load_survey(HERE / "data" / "household.yaml").questions) == 10


@pytest.mark.parametrize("text,message", [
    ('"{zz} days"', "s.yaml:10:16: question 'b' text (en): {zz} is not an earlier question"),
    ('"{b} days"', "s.yaml:10:16: question 'b' text (en): {b} is not an earlier question"),
])
def test_piping_names_earlier_questions_only(text, message):
    found = problems_with(f"""\
        - id: b
          type: text
          text: {{en: {text}, sw: "{{{{a}}}}"}}
        """)
    assert len(found) == 1 and found[0].startswith(message)


def test_piping_in_the_intro_or_a_choice_is_checked_and_braces_are_literal():
    text = FORMAT20.replace("title: {en: T, sw: T}",
                            'title: {en: T, sw: T}\nintro: {en: "{a}", sw: "{{a}}"}')
    assert problems(text) == [
        "s.yaml:4:13: intro (en): {a} is not an earlier question (a text can only pipe in "
        "answers given before it; write {{ and }} for braces)"]
    found = problems_with("""\
        - id: b
          type: choice
          text: {en: B, sw: B}
          choices: [{value: x, text: {en: "{c}", sw: X}}]
        - {id: c, type: text, text: {en: C, sw: C}}
        """, 'closing: {en: "{a} {c}", sw: "{nope}"}\n')
    assert [line.split(": ", 1)[1].split(" is ")[0] for line in found] == [
        "question 'b' choice 'x' (en): {c}", "closing (sw): {nope}"]


def test_hint_needs_every_translation_and_is_only_for_asked_questions():
    found = problems_with("""\
        - {id: b, type: text, text: {en: B, sw: B}, hint: {en: H}}
        - {id: n, type: note, text: {en: N, sw: N}, hint: {en: H, sw: H}}
        """)
    assert found == ["s.yaml:8:53: question 'b' hint: missing translation for 'sw'",
                     "s.yaml:9:53: question 'n': 'hint' is only for questions people answer"]


def test_constraint_names_earlier_questions_or_answer():
    found = problems_with("""\
        - id: b
          type: number
          constraint: "answer <= a + 1"
          constraint_message: {en: No}
        - {id: c, type: number, text: {en: C, sw: C}, constraint: "answer < later"}
        - {id: later, type: number, text: {en: L, sw: L}, constraint_message: {en: x, sw: x}}
        """)
    assert found == [
        "s.yaml:8:5: missing required key 'text' in question 'b'",
        "s.yaml:10:17: question 'b': constraint: BinOp is not allowed: use comparisons, "
        "and/or/not, in, question ids and literals",
        "s.yaml:11:25: question 'b' constraint_message: missing translation for 'sw'",
        "s.yaml:12:61: question 'c': constraint names 'later', which is not an earlier "
        "question (skip logic can only look back)",
        "s.yaml:13:73: question 'later': constraint_message without a constraint"]


def test_date_bounds_are_iso_days_or_today():
    found = problems_with("""\
        - {id: d, type: date, text: {en: D, sw: D}, min: 2024-02-30, max: today}
        - {id: e, type: date, text: {en: E, sw: E}, min: 2025-01-01, max: 2024-01-01}
        - {id: f, type: date, text: {en: F, sw: F}, min: 5}
        - {id: g, type: number, text: {en: G, sw: G}, min: today}
        """)
    assert found == [
        "s.yaml:8:52: question 'd': min '2024-02-30' is not a date: write it as YYYY-MM-DD, "
        "or today",
        "s.yaml:9:52: question 'e': min 2025-01-01 is later than max 2024-01-01",
        "s.yaml:10:52: question 'f': min 5 is not a date: write it as YYYY-MM-DD, or today",
        "s.yaml:11:54: question 'g': min must be a number (got 'today')"]


def test_rating_points_and_labels():
    found = problems_with("""\
        - {id: r, type: rating, max: 11, text: {en: R, sw: R}}
        - id: q
          type: rating
          text: {en: Q, sw: Q}
          labels: {en: {1: Bad, 6: Good}, fr: {1: Mal}}
        - {id: n, type: number, text: {en: N, sw: N}, labels: {en: {1: x}}}
        """)
    assert found == [
        "s.yaml:8:32: question 'r': a rating's max is a whole number from 2 to 10 (got 11)",
        "s.yaml:12:18: question 'q' labels (en): 6 is not a point of the rating (1 to 5)",
        "s.yaml:12:41: question 'q' labels: language 'fr' is not in the survey's languages",
        "s.yaml:13:57: question 'n': 'labels' is only for rating questions"]


def test_exclusive_is_for_multi_choices():
    found = problems_with("""\
        - id: c
          type: choice
          text: {en: C, sw: C}
          choices: [{value: x, exclusive: true, text: {en: X, sw: X}}]
        """)
    assert found == ["s.yaml:11:37: question 'c' choice 'x': 'exclusive' is only for multi "
                     "questions"]


def test_calculate_needs_arithmetic_over_earlier_questions():
    found = problems_with("""\
        - {id: c, type: calculate}
        - {id: d, type: calculate, calculate: "a + later"}
        - {id: e, type: calculate, calculate: "a > 1"}
        - {id: later, type: number, text: {en: L, sw: L}, calculate: "a"}
        """)
    assert found == [
        "s.yaml:8:5: missing required key 'calculate' in question 'c'",
        "s.yaml:9:41: question 'd': calculate names 'later', which is not an earlier question "
        "(skip logic can only look back)",
        "s.yaml:10:41: question 'e': calculate: Compare is not allowed: use + - * /, "
        "parentheses, numbers and question ids",
        "s.yaml:11:64: question 'later': 'calculate' is only for calculate questions"]


def test_choice_filter_reads_tags_every_choice_has():
    found = problems_with("""\
        - id: c
          type: choice
          choice_filter: "choice.county == a and choice.size > later"
          text: {en: C, sw: C}
          choices:
            - {value: x, tags: {county: k, size: 1}, text: {en: X, sw: X}}
            - {value: y, tags: {county: n}, text: {en: Y, sw: Y}}
        - {id: later, type: number, text: {en: L, sw: L}, choice_filter: "a > 1"}
        """)
    assert found == [
        "s.yaml:10:20: question 'c': choice_filter names 'later', which is not an earlier "
        "question (skip logic can only look back)",
        "s.yaml:14:9: question 'c' choice 'y': no tag 'size', which its choice_filter reads "
        "(choice.size)",
        "s.yaml:15:68: question 'later': 'choice_filter' is only for choice and multi questions"]
