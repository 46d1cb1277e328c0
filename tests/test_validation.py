"""Loading reports every problem of a survey file at once, as FILE:LINE:COL: message."""

from __future__ import annotations

import textwrap

import pytest

from surveys.validation import SurveyError, parse_survey

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
