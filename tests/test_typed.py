"""Answers as people type them, per language: typed text → the value stored, a re-prompt, or
a question back when a number reads two ways. Every example the field reports found is here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from sms.render import render_sms
from surveys.answers import Invalid, Unsure, parse_answer
from surveys.engine import start, step
from surveys.i18n import translator
from surveys.model import Question, Survey

HERE = Path(__file__).resolve().parent / "data" / "typed"
LANGUAGES = ["en", "fr", "es", "sw", "bn", "hi", "ne", "vi", "da", "fil", "ny"]
ASK, REPROMPT = "ask", "reprompt"
MONEY = Question(id="spent", type="number", min=0, text={"en": "How much?"})
DAYS = Question(id="days", type="number", min=0, max=600, text={"en": "How many days?"})
LITRES = Question(id="litres", type="number", min=0, decimal=True, text={"en": "Litres?"})

# language → (question, typed, what must happen): a value, REPROMPT, or (ASK, value)
NUMBERS: dict[str, list[tuple[Question, str, Any]]] = {
    "en": [(MONEY, "1,000", 1000), (MONEY, "12,000", 12000), (MONEY, "1k", 1000),
           (MONEY, "1.5k", 1500), (MONEY, "1,500", 1500), (MONEY, "1 500", 1500),
           (MONEY, "1,000,000", 1_000_000), (MONEY, "$ 20", 20), (MONEY, "about 300", 300),
           (MONEY, "2.000", (ASK, 2000)), (MONEY, "1.5", REPROMPT), (MONEY, "1 or 2", REPROMPT),
           (MONEY, "1,0,0", REPROMPT), (LITRES, "1.5", 1.5), (LITRES, "2,5", 2.5),
           (LITRES, "1,234.5", 1234.5), (DAYS, "3", 3), (DAYS, "601", REPROMPT)],
    "sw": [(MONEY, "Sh 1,000", 1000), (MONEY, "KSh 12,000", 12000), (MONEY, "1k", 1000),
           (MONEY, "elfu 2", 2)],
    "fr": [(MONEY, "2.000", (ASK, 2000)), (MONEY, "50.000", (ASK, 50000)),
           (MONEY, "1 500", 1500), (LITRES, "1,5", 1.5), (LITRES, "1 500,5", 1500.5),
           (MONEY, "1,000", (ASK, 1000))],
    "es": [(MONEY, "2.000", 2000), (MONEY, "50.000", 50000), (LITRES, "1.234,5", 1234.5),
           (LITRES, "2,5", 2.5)],
    "da": [(MONEY, "2.000", 2000), (MONEY, "50.000", 50000), (LITRES, "2,5", 2.5)],
    "vi": [(MONEY, "2.000", 2000), (MONEY, "50.000", 50000), (MONEY, "1.000.000", 1_000_000)],
    "bn": [(MONEY, "১,০০০", 1000), (MONEY, "১,৫০০", 1500), (MONEY, "১,০০,০০০", 100_000),
           (MONEY, "৳৫০০", 500), (MONEY, "1000/-", 1000), (DAYS, "১,০০০", REPROMPT),
           (DAYS, "৩০০", 300), (MONEY, "2 lakh", 200_000)],
    "hi": [(MONEY, "५,०००", 5000), (MONEY, "1,00,000", 100_000), (MONEY, "Rs. 250", 250),
           (MONEY, "₹1,500", 1500)],
    "ne": [(MONEY, "५,०००", 5000), (MONEY, "रु १,२००", 1200)],
    "fil": [(MONEY, "₱1,500", 1500), (MONEY, "1k", 1000)],
    "ny": [(MONEY, "MK 1,000", 1000), (MONEY, "K5,000", 5000)],
}


def outcome(question: Question, typed: str, lang: str) -> Any:
    value = parse_answer(question, typed, lang, translator(lang))
    if isinstance(value, Invalid):
        return REPROMPT
    if isinstance(value, Unsure):
        return (ASK, value.value)
    return value


@pytest.mark.parametrize("lang", sorted(NUMBERS))
def test_numbers_are_stored_as_meant(lang):
    got = [(typed, outcome(question, typed, lang)) for question, typed, _ in NUMBERS[lang]]
    assert got == [(typed, wanted) for _, typed, wanted in NUMBERS[lang]]


def survey(languages: list[str], questions: list[dict[str, Any]], **extra: Any) -> Survey:
    """A survey whose every text is its language code and the question id (texts are the
    survey's own business here)."""
    def text(what: str) -> dict[str, str]:
        return {lang: f"{what} ({lang})" for lang in languages}

    for question in questions:
        question.setdefault("text", text(question["id"]))
    return Survey.model_validate({"id": "typed", "languages": languages, "title": text("t"),
                                  "questions": questions, **extra})


def said(result: Any) -> list[str]:
    return [render_sms(reply) for reply in result.replies]


def test_a_number_that_reads_two_ways_is_asked_back_never_guessed():
    money = survey(["fr"], [{"id": "spent", "type": "number", "min": 0},
                            {"id": "next", "type": "text"}])
    opened = start(money, "fr")
    asked = step(money, opened.state, "2.000")
    t = translator("fr")
    assert said(asked) == [f"{t.gettext('Did you mean {number}?', number='2 000')}\n"
                           f"1 {t.gettext('Yes')}\n2 {t.gettext('No')}"]  # a plain space
    assert asked.answers == [] and asked.state["attempts"] == 0  # no attempt spent
    yes = step(money, asked.state, "1")
    assert [(a.question_id, a.value, a.raw) for a in yes.answers] == [("spent", 2000, "2.000")]
    no = step(money, asked.state, "2")
    assert no.answers == [] and said(no) == ["spent (fr)"]  # asked again, as sent first
    retyped = step(money, asked.state, "2")  # the menu's 2 is "no"; then 2 is two
    assert step(money, retyped.state, "2").answers[0].value == 2
    other = step(money, asked.state, "3 500")  # not yes or no: a new answer
    assert other.answers[0].value == 3500


def test_choices_match_labels_as_typed_aliases_and_romanised():
    ages = survey(["bn", "hi"], [
        {"id": "age", "type": "choice", "choices": [
            {"value": "under18", "text": {"bn": "১৮-এর কম", "hi": "18 से कम"}},
            {"value": "18_29", "text": {"bn": "১৮-২৯ বছর", "hi": "18-29 साल"}},
            {"value": "30plus", "text": {"bn": "৩০+ বছর", "hi": "30+ साल"}}]},
        {"id": "gender", "type": "choice", "choices": [
            {"value": "woman", "text": {"bn": "নারী", "hi": "महिला"},
             "aliases": {"bn": ["mohila", "mahila"], "*": ["woman", "female"]}},
            {"value": "man", "text": {"bn": "পুরুষ", "hi": "पुरुष"}}]}])
    age, gender = ages.questions
    t = translator("bn")
    typed = {"১৮-২৯ বছর": "18_29", "১৮-২৯ বছর।": "18_29", "৩।": "30plus", "(3)": "30plus",
             "3)": "30plus", " ২ ": "18_29", "18-29 বছর": "18_29"}
    assert {text: parse_answer(age, text, "bn", t) for text in typed} == typed
    assert parse_answer(age, "२।", "hi", translator("hi")) == "18_29"
    for text in ("nari", "Nari", "mahila", "mohila", "female", "নারী", "1"):
        assert parse_answer(gender, text, "bn", t) == "woman", text
    assert parse_answer(gender, "purus", "bn", t) == "man"  # romanised: anyascii
    assert isinstance(parse_answer(gender, "chair", "bn", t), Invalid)


def test_yes_and_no_as_people_type_them_in_every_language():
    table = YAML(typ="safe").load((HERE / "yesno.yaml").read_text(encoding="utf-8"))
    consent = Question(id="ok", type="yesno", text={"en": "-"})
    wrong = []
    for lang, words in table.items():
        for verdict in ("yes", "no"):
            for typed in words[verdict]:
                got = parse_answer(consent, typed, lang, translator(lang))
                if got != verdict:
                    wrong.append(f"{lang}: {typed!r} → {got}")
    assert set(table) >= set(LANGUAGES)
    assert not wrong, "\n".join(wrong)


def test_a_back_word_that_is_a_natural_answer_is_an_answer():
    where = survey(["sw", "hi"], [{"id": "tap", "type": "text"}, {"id": "more", "type": "text"}])
    for lang, word in (("sw", "nyuma"), ("hi", "पीछे")):
        result = step(where, start(where, lang).state, word)
        assert [answer.value for answer in result.answers] == [word]


def test_menus_are_one_option_a_line_in_the_languages_digits():
    menu = survey(["ne", "en"], [{"id": "q", "type": "choice", "choices": [
        {"value": "a", "text": {"ne": "पहिलो", "en": "First"}},
        {"value": "b", "text": {"ne": "दोस्रो", "en": "Second"}}]}])
    assert said(start(menu, "ne"))[-1] == "q (ne)\n१ पहिलो\n२ दोस्रो"
    reprompt = step(menu, start(menu, "ne").state, "x")
    text = " ".join(said(reprompt))
    assert not any(ch.isascii() and ch.isdigit() for ch in text), text  # one digit system
    mixed = survey(["ar", "en"], [{"id": "lang", "type": "choice", "choices": [
        {"value": "ar", "text": {"ar": "العربية", "en": "Arabic"}},
        {"value": "ur", "text": {"ar": "اردو", "en": "Urdu"}},
        {"value": "iu", "text": {"ar": "ᐃᓄᒃᑎᑐᑦ", "en": "Inuktitut"}},
        {"value": "en", "text": {"ar": "English", "en": "English"}}]}])
    lines = said(start(mixed, "en"))[-1].split("\n")[1:]
    assert lines == ["1 Arabic", "2 Urdu", "3 Inuktitut", "4 English"]
    arabic = said(start(mixed, "ar"))[-1].split("\n")[1:]
    assert [line.split(" ", 1)[1] for line in arabic] == ["العربية", "اردو", "ᐃᓄᒃᑎᑐᑦ", "English"]


def test_regional_and_case_variants_get_the_catalog():
    help_bn = translator("bn").gettext("Yes")
    for code in ("bn_BD", "BN", "bn-BD"):
        assert translator(code).gettext("Yes") == help_bn != "Yes"
    for code, base in (("sw_KE", "sw"), ("hi_IN", "hi"), ("fil_PH", "fil")):
        assert translator(code).gettext("Yes") == translator(base).gettext("Yes")
    bengali = survey(["bn", "en"], [{"id": "q", "type": "text"}])
    opened = start(bengali, "BN")
    assert opened.state["lang"] == "bn" and "language_fallback" not in opened.events


def test_a_survey_in_a_language_heard_has_no_catalog_for():
    """Tumbuka: the survey's texts are Tumbuka; heard's own words in its system_language."""
    tumbuka = survey(["tum"], [{"id": "days", "type": "number", "min": 0, "max": 7}],
                     system_language="ny")
    opened = start(tumbuka, "tum")
    reprompt = step(tumbuka, opened.state, "many")
    t = translator("ny")
    assert said(reprompt) == [t.gettext("Please reply with a whole number from {min} to {max}.",
                                        min="0", max="7")]
    assert said(step(tumbuka, opened.state, "3")) == [
        t.gettext("Thank you! Your answers have been recorded.")]
    english = survey(["tum"], [{"id": "q", "type": "yesno"}])
    assert said(start(english, "tum"))[-1] == "q (tum)\n1 Yes\n2 No"
