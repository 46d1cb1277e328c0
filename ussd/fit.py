"""How a survey fits USSD screens, per language: what `heard survey validate` reports.

A question's screen is what a person sees asked (its `short:` texts where given); one that
needs pages still works ("98 More"), but one screen reads better; a `short:` text exists only
to fit one screen, so one that does not is a problem of the file.
"""

from __future__ import annotations

from surveys.engine import question_reply, start
from surveys.i18n import translator
from surveys.model import Survey
from ussd.screens import Screens, survey_screens


def question_screens(survey: Survey, lang: str) -> list[tuple[str, Screens]]:
    """(what, its screen) of the survey's opening and each question it asks, in `lang`."""
    t = translator(survey.words_for(lang))
    found = [("the first screen", survey_screens(start(survey, lang, ask_consent=True).replies,
                                                 survey, lang, t))]
    found += [(f"question '{question.id}'",
               survey_screens([question_reply(question, lang, survey.words_for(lang))],
                              survey, lang, t))
              for question in survey.questions if question.said]
    return found


def paged_questions(survey: Survey) -> dict[str, list[str]]:
    """Per language, the questions whose screen needs pages."""
    return {lang: [f"{what} ({len(screens.pages)})" for what, screens in
                   question_screens(survey, lang)[1:] if len(screens.pages) > 1]
            for lang in survey.languages}


def short_overflows(survey: Survey) -> list[str]:
    """Each question whose `short:` text in a language still needs more than one screen."""
    found = []
    for lang in survey.languages:
        shortened = {question.id for question in survey.questions
                     if lang in question.short or any(lang in choice.short
                                                      for choice in question.choices or [])}
        for what, screens in question_screens(survey, lang)[1:]:
            if what.split("'")[1] in shortened and len(screens.pages) > 1:
                found.append(f"{what} short ({lang}) takes {len(screens.pages)} USSD screens: "
                             f"shorten it to fit one (182 GSM-7 characters, about 80 in "
                             f"other scripts)")
    return found


def ussd_note(survey: Survey) -> str:
    """Per language, how many questions need pages on a USSD screen."""
    paged = paged_questions(survey)
    asked = sum(1 for question in survey.questions if question.said)
    return "USSD screens: " + ", ".join(
        f"{lang} {len(found)} of {asked} questions paged" + (f" ({', '.join(found)})"
                                                             if found else "")
        for lang, found in paged.items())
