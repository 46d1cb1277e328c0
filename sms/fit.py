"""How a survey's own messages fit SMS: the segments each costs, per language."""

from __future__ import annotations

from sms.render import render_sms
from sms.segments import count_segments
from surveys.engine import question_reply
from surveys.model import Survey

MAX_SEGMENTS = 2  # a message over this costs more and is hard to read on a basic phone


def survey_messages(survey: Survey, lang: str) -> list[tuple[str, str]]:
    """(what, SMS text) of every message the survey itself sends in `lang`."""
    texts = [(f"question '{question.id}'",
              render_sms(question_reply(question, lang, survey.words_for(lang))))
             for question in survey.questions if question.said]
    texts += [(name, local[lang]) for name, local in (("intro", survey.intro),
                                                       ("closing", survey.closing),
                                                       ("consent", survey.consent)) if local]
    return texts


def long_messages(survey: Survey) -> list[str]:
    """Each message over MAX_SEGMENTS SMS segments, naming it and its language."""
    found = []
    for lang in survey.languages:
        for what, text in survey_messages(survey, lang):
            counted = count_segments(text)
            if counted.count > MAX_SEGMENTS:
                found.append(f"{what} ({lang}) is {counted.count} SMS segments "
                             f"({counted.encoding}, {len(text)} characters); at most "
                             f"{MAX_SEGMENTS} keeps it cheap and readable")
    return found


def max_segments(survey: Survey) -> dict[str, tuple[int, str]]:
    """Per language: the most segments any one message of the survey costs, and its encoding."""
    result: dict[str, tuple[int, str]] = {}
    for lang in survey.languages:
        counted = [count_segments(text) for _, text in survey_messages(survey, lang)]
        worst = max(counted, key=lambda segments: segments.count)
        result[lang] = (worst.count, worst.encoding)
    return result
