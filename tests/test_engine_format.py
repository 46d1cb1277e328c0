"""Issue #20's survey format through the engine: piping, hints, constraints, dates, ratings,
exclusive choices, calculations and choice filters (tests/data/household.yaml has them all)."""

from __future__ import annotations

import json
import textwrap
from datetime import date

import pytest

from sms.render import render_sms
from surveys.engine import StepResult, start, step
from surveys.model import Survey
from surveys.validation import load_survey, parse_survey
from tests.conftest import EXAMPLES, HERE

TODAY = date(2025, 6, 10)
# Amina's answers up to the date question: name, adults, children, people under a net
TO_DATE = ("Amina", "2", "3", "4")
TO_RATING = (*TO_DATE, "01/03/2025")
TO_PROBLEMS = (*TO_RATING, "4")
TO_COUNTY = (*TO_PROBLEMS, "1 2")


@pytest.fixture(scope="module")
def household() -> Survey:
    return load_survey(HERE / "data" / "household.yaml")


def converse(survey: Survey, *texts: str, lang: str = "en") -> StepResult:
    result = start(survey, lang)
    for text in texts:
        assert not result.finished, f"survey ended before {text!r}"
        result = step(survey, json.loads(json.dumps(result.state)), text, today=TODAY)
    return result


def said(result: StepResult) -> list[str]:
    return [render_sms(reply) for reply in result.replies]


def survey_of(questions: str, closing: str = "") -> Survey:
    return parse_survey("id: s\nlanguages: [en, bn]\ntitle: {en: T, bn: T}\n" + closing
                        + "questions:\n" + textwrap.indent(textwrap.dedent(questions), "  "))


@pytest.mark.parametrize(("name", "digest"), [
    ("surveys/examples/water-access.yaml",
     "df6769b4bdac2652d2850c17276da2346f4efb072fc208d8479d1b2bdcfe067b"),
    ("surveys/examples/washington-group.yaml",
     "742479fcb99ff87e993d415b86f2634743e41042dd5d01b75f3d26a0bf51bcaf"),
    ("tests/data/water.yaml", "094f0f80bbf034e1dd3fc1b62497d93132ef5b94796a7ff9225cb9be00a42a90"),
    ("tests/data/trilingual.yaml",
     "f162b1046403585b72279afe710a86021390ee26a29cd79bc4cbc5cf00c4f0dc"),
])
def test_surveys_without_the_new_keys_keep_their_hash(name, digest):
    assert EXAMPLES.parent.parent.joinpath(name).exists()
    assert load_survey(EXAMPLES.parent.parent / name).content_hash == digest


# -- 1 piping ----------------------------------------------------------------------------------

def test_piping_puts_an_earlier_answer_in_a_question_and_the_closing(household):
    assert said(converse(household, "Amina"))[0].startswith("Thank you Amina. How many adults")
    done = converse(household, *TO_COUNTY, "2", "1")
    assert said(done)[-1] == "Thank you, Amina! 2 adults, 3 children: we will visit Kisumu."


def test_piped_answers_are_read_as_the_person_reads_them(household):
    done = converse(household, *TO_COUNTY, "2", "1", lang="bn")
    assert said(done)[-1] == "ধন্যবাদ, Amina! ২ জন প্রাপ্তবয়স্ক, ৩ জন শিশু: আমরা কিসুমু যাব।"
    rating = converse(household, *TO_RATING, lang="bn")
    assert said(rating)[0].startswith("০১/০৩/২০২৫ তারিখের পরিদর্শন")  # a date, their digits


def test_piping_yes_no_multi_and_literal_braces():
    survey = survey_of("""\
        - {id: ok, type: yesno, text: {en: OK?, bn: ঠিক?}}
        - id: which
          type: multi
          text: {en: Which?, bn: কোনটি?}
          choices:
            - {value: a, text: {en: Apples, bn: আপেল}}
            - {value: b, text: {en: Beans, bn: শিম}}
        """, closing='closing: {en: "{ok}: {which} {{not piped}}", bn: "{ok}: {which}"}\n')
    assert said(converse(survey, "1", "1 2"))[-1] == "Yes: Apples, Beans {not piped}"
    assert said(converse(survey, "2", "2", lang="bn"))[-1] == "না: শিম"


# -- 2 hint ------------------------------------------------------------------------------------

def test_a_hint_is_its_own_line_under_the_question(household):
    assert said(converse(household, "Amina")) == [
        "Thank you Amina. How many adults (18 or older) live in your household?\n"
        "Count yourself too."]


def test_a_hint_comes_before_the_choices():
    survey = survey_of("""\
        - id: q
          type: choice
          text: {en: Pick, bn: বাছুন}
          hint: {en: Only one, bn: একটি}
          choices: [{value: a, text: {en: A, bn: ক}}, {value: b, text: {en: B, bn: খ}}]
        """)
    assert said(start(survey, "en"))[-1] == "Pick\nOnly one\n1 A\n2 B"


# -- 3 constraint ------------------------------------------------------------------------------

def test_a_constraint_refuses_with_its_message_and_asks_again(household):
    refused = converse(household, *TO_DATE[:3], "9")
    assert said(refused) == ["That is more than the 5 people in your household. Please check."]
    assert refused.state["current"] == "sleep_net" and refused.state["attempts"] == 1
    assert not refused.answers and "sleep_net" not in refused.state["answers"]
    assert converse(household, *TO_DATE[:3], "9", "5").state["answers"]["sleep_net"] == 5


def test_a_constraint_without_a_message_says_heards_words():
    survey = survey_of("""\
        - {id: born, type: number, text: {en: Born?, bn: জন্ম?}}
        - {id: moved, type: number, constraint: "answer >= born", text: {en: Moved?, bn: কবে?}}
        """)
    assert said(converse(survey, "1990", "1980")) == [
        "This answer is not possible here. Please check it and reply again."]
    assert converse(survey, "1990", "2001").finished


def test_a_constraint_refusing_too_often_moves_on_as_other_reprompts():
    survey = survey_of("""\
        - {id: n, type: number, max_attempts: 2, constraint: "answer != 3", text: {en: N, bn: N}}
        - {id: m, type: number, text: {en: M, bn: M}}
        """)
    result = converse(survey, "3", "3")
    assert result.state["current"] == "m" and "gave_up" in result.events


# -- 4 date ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "lang", "stored"), [
    ("01/03/2025", "en", "2025-03-01"), ("1-3-25", "en", "2025-03-01"),
    ("1.3.2025", "sw", "2025-03-01"), ("1 3 2025", "sw", "2025-03-01"),
    ("০১/০৩/২০২৫", "bn", "2025-03-01"), ("01032025", "en", "2025-03-01"),
    ("2025-03-01", "bn", "2025-03-01"), ("today", "en", "2025-06-10"),
    ("jana", "sw", "2025-06-09"), ("গতকাল", "bn", "2025-06-09"), ("Yesterday.", "sw", "2025-06-09"),
])
def test_a_date_is_read_in_the_contacts_order_and_stored_iso(household, text, lang, stored):
    result = converse(household, *TO_DATE, text, lang=lang)
    assert result.state["answers"]["last_visit"] == stored


def test_a_date_out_of_its_range_or_unreadable_is_refused_with_an_example(household):
    assert said(converse(household, *TO_DATE, "30/02/2025")) == [
        "Please reply with a date, for example 10/06/2025."]
    assert said(converse(household, *TO_DATE, "01/07/2025")) == [  # max: today
        "Please reply with a date from 01/01/2020 to 10/06/2025."]
    assert said(converse(household, *TO_DATE, "1/1/2019", lang="bn")) == [
        "০১/০১/২০২০ থেকে ১০/০৬/২০২৫ এর মধ্যে একটি তারিখ পাঠান।"]


def test_month_first_where_the_language_writes_it_so():
    survey = parse_survey("id: s\nlanguages: [fil]\ntitle: {fil: T}\nquestions:\n"
                          "  - {id: d, type: date, text: {fil: Kailan?}}\n")
    assert converse(survey, "12/25/2024", lang="fil").state["answers"]["d"] == "2024-12-25"


# -- 5 rating ----------------------------------------------------------------------------------

def test_a_rating_shows_its_scale_on_one_line_and_stores_a_number(household):
    asked = converse(household, *TO_RATING)
    assert said(asked) == ["How was the visit on 01/03/2025?\n1-5 (1 = Very bad, 5 = Very good)"]
    assert [choice.label for choice in asked.replies[0].choices] == [
        "Very bad", "2", "3", "4", "Very good"]
    assert converse(household, *TO_RATING, "4").state["answers"]["visit_rating"] == 4
    assert converse(household, *TO_RATING, "৫", lang="bn").state["answers"]["visit_rating"] == 5


def test_a_rating_refuses_points_it_does_not_have(household):
    assert said(converse(household, *TO_RATING, "6")) == [
        "Please reply with a whole number from 1 to 5."]
    asked = converse(household, *TO_RATING, lang="bn")
    assert said(asked)[0].endswith("\n১-৫ (১ = খুব খারাপ, ৫ = খুব ভালো)")


def test_a_rating_without_labels_is_its_range():
    survey = survey_of("- {id: r, type: rating, max: 3, text: {en: Rate, bn: রেট}}\n")
    assert said(start(survey, "en")) == ["Rate\n1-3"]


# -- 6 exclusive -------------------------------------------------------------------------------

def test_an_exclusive_choice_with_others_is_refused_and_alone_is_taken(household):
    refused = converse(household, *TO_PROBLEMS, "1 4")
    assert said(refused)[0] == ('"None of these" cannot be chosen with other answers. '
                                "Please reply again.")
    assert refused.state["current"] == "problems" and refused.state["attempts"] == 1
    assert converse(household, *TO_PROBLEMS, "4").state["answers"]["problems"] == ["none"]
    assert converse(household, *TO_PROBLEMS, "1 3").state["answers"]["problems"] == [
        "fever", "diarrhoea"]


# -- 7 calculate -------------------------------------------------------------------------------

def test_a_calculation_is_stored_when_reached_and_piped(household):
    result = converse(household, *TO_DATE[:3])
    assert result.state["answers"]["household_size"] == 5
    assert [(answer.question_id, answer.value) for answer in result.answers] == [
        ("children", 3), ("household_size", 5)]
    assert said(result) == ["How many of the 5 people slept under a mosquito net last night?"]


def test_a_calculation_feeds_skip_logic_and_lacks_a_value_without_its_operands():
    survey = survey_of("""\
        - {id: a, type: number, optional: true, text: {en: A, bn: A}}
        - {id: half, type: calculate, calculate: "a / 2"}
        - {id: big, type: yesno, when: "half > 2", text: {en: Big?, bn: বড়?}}
        - {id: last, type: text, text: {en: "Half is {half}.", bn: "{half}"}}
        """)
    assert converse(survey, "9").state["current"] == "big"
    assert converse(survey, "9").state["answers"]["half"] == 4.5
    assert said(converse(survey, "4")) == ["Half is 2."]
    skipped = converse(survey, "skip")
    assert "half" not in skipped.state["answers"] and said(skipped) == ["Half is ."]


def test_back_past_a_calculation_recalculates_it(household):
    result = converse(household, *TO_DATE[:3], "back", "back", "1", "1")
    assert result.state["answers"]["household_size"] == 2


# -- 8 choice_filter ---------------------------------------------------------------------------

def test_a_choice_filter_offers_matching_choices_renumbered(household):
    nairobi = converse(household, *TO_COUNTY, "1")
    assert said(nairobi) == ["Which clinic in Nairobi is closest to you?\n1 Mathare North\n"
                             "2 Kibera South"]
    kisumu = converse(household, *TO_COUNTY, "2")
    assert said(kisumu)[0].endswith("\n1 Nyalenda\n2 Kondele")
    assert converse(household, *TO_COUNTY, "2", "2").state["answers"]["clinic"] == "kondele"
    assert converse(household, *TO_COUNTY, "2", "kibera").state["current"] == "clinic"
    assert said(converse(household, *TO_COUNTY, "2", "3")) == [
        "Please reply with one number from 1 to 2."]


def test_a_choice_filter_offering_nothing_skips_the_question():
    survey = survey_of("""\
        - {id: n, type: number, text: {en: N, bn: N}}
        - id: c
          type: choice
          choice_filter: "choice.size <= n"
          text: {en: C, bn: C}
          choices:
            - {value: small, tags: {size: 1}, text: {en: Small, bn: ছোট}}
            - {value: large, tags: {size: 5}, text: {en: Large, bn: বড়}}
        """)
    assert said(converse(survey, "3")) == ["C\n1 Small"]
    assert converse(survey, "0").finished
