"""The engine walks a contact through a survey: a conversation is a list of texts."""

from __future__ import annotations

import json

import pytest

from sms.render import render_sms
from surveys.engine import StepResult, start, step
from surveys.i18n import translator
from surveys.model import Survey


def converse(survey: Survey, *texts: str, lang: str = "en", consent: bool = False) -> StepResult:
    result = start(survey, lang, ask_consent=consent)
    for text in texts:
        assert not result.finished, f"survey ended before {text!r}"
        result = step(survey, json.loads(json.dumps(result.state)), text)
    return result


def said(result: StepResult) -> list[str]:
    return [render_sms(reply) for reply in result.replies]


def test_start_sends_intro_and_first_question_with_numbered_choices(water):
    result = start(water, "en")
    assert said(result) == ["Five questions about water.",
                            "Where do you get water?\n1 Tap at home\n2 Public well\n3 Other"]
    assert result.state["current"] == "source"


def test_full_conversation_collects_typed_answers(water):
    result = converse(water, "1", "5", "1 3", "yes")
    assert result.finished and result.state["status"] == "completed"
    assert result.state["answers"] == {"source": "tap", "days": 5,
                                       "problems": ["dirty", "cost"], "safe": "yes"}
    assert said(result)[-1] == "Thank you!"
    assert "completed" in result.events


def test_note_is_sent_between_questions_without_waiting(water):
    result = converse(water, "2", "3")
    assert said(result)[0] == "Almost done."
    assert result.state["current"] == "problems"


def test_skip_logic_asks_follow_up_only_when_condition_holds(water):
    assert converse(water, "3").state["current"] == "source_other"
    assert converse(water, "1").state["current"] == "days"
    assert converse(water, "1", "5", "1", "no").state["current"] == "litres"
    assert converse(water, "1", "5", "2", "no").finished


def test_choice_by_text_ignores_case_accents_and_spaces(water):
    assert converse(water, "  TAP at HOME ").state["answers"]["source"] == "tap"
    assert converse(water, "kisima", lang="sw").state["answers"]["source"] == "well"
    assert converse(water, "নলকূপ", lang="bn").state["answers"]["source"] == "well"
    assert converse(water, "publíc wéll").state["answers"]["source"] == "well"


@pytest.mark.parametrize("digits,expected", [("৩", 3), ("३", 3), ("٣", 3), ("۷", 7), ("3", 3),
                                             ("about 4 days", 4)])
def test_native_digits_answer_numbers(water, digits, expected):
    assert converse(water, "1", digits).state["answers"]["days"] == expected


def test_native_digits_pick_choices(water):
    assert converse(water, "২", lang="bn").state["answers"]["source"] == "well"


@pytest.mark.parametrize("text", ["1 3", "1,3", "1, 3", "3 1", "Dirty water, costs money"])
def test_multi_choice_formats(water, text):
    result = converse(water, "1", "5", text)
    assert result.state["answers"]["problems"] == ["dirty", "cost"]


def test_invalid_number_reprompts_with_range(water):
    result = converse(water, "1", "9")
    assert said(result) == ["Please reply with a whole number from 0 to 7."]
    assert result.state["current"] == "days" and result.state["attempts"] == 1
    assert converse(water, "1", "lots").replies[0].kind == "reprompt"


def test_reprompt_is_in_contacts_language(water):
    result = converse(water, "1", "9", lang="bn")
    assert result.replies[0].kind == "reprompt"
    assert result.state["current"] == "days"
    assert said(result) == ["০ থেকে ৭ এর মধ্যে একটি পূর্ণসংখ্যা পাঠান।"]  # in Bengali digits


def test_invalid_choice_reprompts_with_count(water):
    assert said(converse(water, "7")) == ["Please reply with one number from 1 to 3."]


def test_text_answer_too_long_reprompts(water):
    result = converse(water, "3", "x" * 21)
    assert said(result) == ["Please keep your answer under 20 characters."]
    assert converse(water, "3", "river").state["answers"]["source_other"] == "river"


def test_max_attempts_skip_moves_on(water):
    result = converse(water, "1", "x", "x", "x")
    assert result.state["current"] == "problems"
    assert "days" not in result.state["answers"]
    assert "gave_up" in result.events


def test_max_attempts_end_finishes_survey(water):
    result = converse(water, "1", "5", "1", "maybe", "perhaps")
    assert result.state["status"] == "ended" and result.finished


def test_skip_optional_question_records_skipped_answer(water):
    result = converse(water, "1", "5", "SKIP")
    assert result.answers[0].skipped and result.answers[0].value is None
    assert result.state["current"] == "safe"


def test_skip_required_question_is_refused(water):
    result = converse(water, "skip")
    assert said(result)[0] == "This question cannot be skipped."
    assert result.state["current"] == "source"


def test_back_returns_to_previous_question_and_retracts_answer(water):
    result = converse(water, "3", "river", "back")
    assert result.state["current"] == "source_other"
    assert result.retracted == ["source_other"]
    assert "source_other" not in result.state["answers"]
    result = converse(water, "3", "river", "back", "back", "1")
    assert result.state["current"] == "days"
    assert result.state["answers"] == {"source": "tap"}


def test_back_on_first_question_says_so(water):
    assert said(converse(water, "back"))[0] == "This is the first question."


def test_help_explains_and_repeats_question(water):
    result = converse(water, "HELP")
    assert "STOP" in said(result)[0]
    assert result.replies[1].question_id == "source"


def test_stop_ends_survey_anywhere(water):
    result = converse(water, "1", "stop")
    assert result.state["status"] == "stopped" and "stop" in result.events
    assert "START" in said(result)[0]
    assert step(water, result.state, "2").state["status"] == "stopped"


def test_lang_menu_switches_language_and_repeats_question(water):
    result = converse(water, "LANG")
    assert result.replies[0].kind == "menu"
    assert [choice.label for choice in result.replies[0].choices] == ["English", "Kiswahili",
                                                                        "বাংলা"]
    result = converse(water, "lang", "3")
    assert result.state["lang"] == "bn" and "language" in result.events
    assert result.replies[-1].text == "আপনি কোথা থেকে পানি পান?"
    assert converse(water, "LANG sw").state["lang"] == "sw"


def test_consent_yes_starts_no_declines(water):
    result = converse(water, consent=True)
    assert result.state["status"] == "consent"
    assert said(result)[-1] == "Do you agree?\n1 Yes\n2 No"
    assert converse(water, "yes", consent=True).state["current"] == "source"
    declined = converse(water, "2", consent=True)
    assert declined.state["status"] == "declined" and not declined.answers


def test_yesno_accepts_numbers_and_words(water):
    assert converse(water, "1", "5", "skip", "1").state["answers"]["safe"] == "yes"
    assert converse(water, "1", "5", "skip", "NO").state["answers"]["safe"] == "no"


def test_decimal_number(water):
    result = converse(water, "1", "5", "1", "no", "2,5")
    assert result.state["answers"]["litres"] == 2.5


def test_unknown_language_falls_back_to_default(water):
    assert start(water, "fr").state["lang"] == "en"
    assert start(water, "bn_IN").state["lang"] == "bn"


def test_finished_survey_says_so(water):
    result = converse(water, "1", "5", "1 3", "yes")
    assert said(step(water, result.state, "hello")) == ["This survey is finished. Thank you!"]


def test_start_mid_survey_repeats_the_question_and_is_not_an_answer(water):
    result = converse(water, "3", "START")
    assert result.state["current"] == "source_other" and not result.answers
    assert said(result) == ["Which other source?"]


def test_lang_with_code_works_while_the_menu_is_open(water):
    assert converse(water, "LANG", "LANG sw").state["lang"] == "sw"


def test_a_language_the_survey_lacks_falls_back_to_its_default_told_once(water):
    opened = start(water, "hi")  # heard speaks Hindi; this survey does not
    assert said(opened)[0] == translator("hi").gettext(  # in the reader's words for both
        "This survey is not available in {language}. It continues in {survey_language}.",
        language="हिन्दी", survey_language="अंग्रेज़ी")
    assert said(opened)[1:] == ["Five questions about water.",
                                "Where do you get water?\n1 Tap at home\n2 Public well\n3 Other"]
    assert opened.state["lang"] == "en" and "language_fallback" in opened.events
    answered = step(water, opened.state, "1")
    assert said(answered) == ["How many days a week is there water?"]  # told once only


@pytest.mark.parametrize("lang", ["sw", "bn_IN", None])
def test_no_fallback_notice_when_the_survey_speaks_the_language(water, lang):
    opened = start(water, lang)
    assert "language_fallback" not in opened.events
    assert said(opened)[0] in ("Maswali matano kuhusu maji.", "পানি নিয়ে পাঁচটি প্রশ্ন।",
                               "Five questions about water.")
