"""Turn what a person typed on a phone into an answer value, or say why it is not one.

Digits in any script count (৩ ३ ٣ are 3); choices match by number or by their text in the
contact's language, ignoring case, accents and spacing; multi-choice takes "1 3", "1,3", "1, 3".
Dates are read in the contact's date order (surveys.dates) and kept as ISO text; a rating is
one whole number from 1 to its points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from surveys.dates import bound, read_date, written
from surveys.i18n import Translator, ascii_digits, normalize
from surveys.model import Question
from surveys.numbers import read_number
from surveys.recordings import referenced
from surveys.words import bare_word, command_of

LIST_SEPARATORS = re.compile(r"[,;/&+]+")
MULTI_SEPARATORS = re.compile(r"[\s,;/&+]+")
Value = str | int | float | list[str]


@dataclass(frozen=True)
class Invalid:
    """The reply to send when the text is not an answer to the question."""

    message: str


@dataclass(frozen=True)
class Unsure:
    """A typed number that reads two ways: heard asks whether `value` is what was meant."""

    value: int | float


def parse_answer(question: Question, text: str, lang: str, t: Translator,
                 today: date | None = None) -> Value | Invalid | Unsure:
    """`text` as an answer to `question`; a date question reads relative days from `today`
    (the day the message came; the engine reads no clock)."""
    text = text.strip()
    match question.type:
        case "number":
            return _parse_number(question, text, lang, t)
        case "rating":
            return _parse_rating(question, text, lang, t)
        case "date":
            return _parse_date(question, text, lang, t, today or date.today())
        case "choice":
            return _parse_choice(question, text, lang, t)
        case "multi":
            return _parse_multi(question, text, lang, t)
        case "yesno":
            return _parse_yesno(text, lang, t)
        case "text":
            return _parse_text(question, text, t)
    return Invalid(t.gettext("This message needs no answer."))


def _parse_number(question: Question, text: str, lang: str,
                  t: Translator) -> int | float | Invalid | Unsure:
    """The number the person meant, in their locale's way of writing it; two readings that
    both fit the question ('2.000' in French) are asked back, never guessed."""
    fitting = [value for value in read_number(text, lang).values
               if _fits(question, value)]
    if len(fitting) == 1:
        return _stored(question, fitting[0])
    if len(fitting) > 1:
        return Unsure(_stored(question, max(fitting)))
    return Invalid(_number_hint(question, t))


def _fits(question: Question, value: float) -> bool:
    if not question.decimal and not value.is_integer():
        return False
    low, high = question.low, question.high
    return (low is None or value >= low) and (high is None or value <= high)


def _stored(question: Question, value: float) -> int | float:
    return value if question.decimal and not value.is_integer() else int(value)


def _parse_rating(question: Question, text: str, lang: str, t: Translator) -> int | Invalid:
    points = [value for value in read_number(text, lang).values
              if value.is_integer() and 1 <= value <= question.points]
    if len(points) == 1:
        return int(points[0])
    return Invalid(t.gettext("Please reply with a whole number from {min} to {max}.",
                             min=t.number(1), max=t.number(question.points)))


def _parse_date(question: Question, text: str, lang: str, t: Translator,
                today: date) -> str | Invalid:
    """The day as ISO text, within the question's `min` and `max` (ISO days or `today`)."""
    day = read_date(text, lang, today)
    if day is None:
        return Invalid(t.gettext("Please reply with a date, for example {example}.",
                                 example=written(today, lang)))
    low, high = bound(question.min, today), bound(question.max, today)
    if (low is None or day >= low) and (high is None or day <= high):
        return day.isoformat()
    if low is not None and high is not None:
        return Invalid(t.gettext("Please reply with a date from {min} to {max}.",
                                 min=written(low, lang), max=written(high, lang)))
    if low is not None:
        return Invalid(t.gettext("Please reply with a date on or after {min}.",
                                 min=written(low, lang)))
    return Invalid(t.gettext("Please reply with a date on or before {max}.",
                             max=written(high or today, lang)))


def _number_hint(question: Question, t: Translator) -> str:
    low = t.number(question.low) if question.low is not None else None
    high = t.number(question.high) if question.high is not None else None
    if question.decimal:
        if low is not None and high is not None:
            return t.gettext("Please reply with a number from {min} to {max}.", min=low, max=high)
        if low is not None:
            return t.gettext("Please reply with a number of at least {min}.", min=low)
        if high is not None:
            return t.gettext("Please reply with a number of at most {max}.", max=high)
        return t.gettext("Please reply with a number.")
    if low is not None and high is not None:
        return t.gettext("Please reply with a whole number from {min} to {max}.", min=low,
                         max=high)
    if low is not None:
        return t.gettext("Please reply with a whole number of at least {min}.", min=low)
    if high is not None:
        return t.gettext("Please reply with a whole number of at most {max}.", max=high)
    return t.gettext("Please reply with a whole number.")


def _choice_lookup(question: Question, lang: str) -> dict[str, str]:
    words = question.choice_words
    return words.get(lang) or words["*"]


def _parse_choice(question: Question, text: str, lang: str, t: Translator) -> str | Invalid:
    found = _choice(question, bare_word(text), lang)
    if found is not None:
        return found
    return Invalid(t.gettext("Please reply with one number from 1 to {count}.",
                             count=t.number(len(question.choices or []))))


def _choice(question: Question, key: str, lang: str) -> str | None:
    """A choice by number, value, label or alias, as typed; else by its label romanised
    ('nari' for নারী), when only one label romanises so."""
    found = _choice_lookup(question, lang).get(key)
    if found is None and key.isascii():
        found = question.romanised_words.get(key)
    return found


def _parse_multi(question: Question, text: str, lang: str, t: Translator) -> list[str] | Invalid:
    key = normalize(ascii_digits(text)).strip(".!")
    # Labels may contain spaces ("Too far, Costs money"), so try list separators first.
    for separators in (LIST_SEPARATORS, MULTI_SEPARATORS):
        parts = [bare_word(part) for part in separators.split(key)]
        chosen = [_choice(question, part, lang) for part in parts if part]
        if chosen and None not in chosen:
            order = question.choice_values()
            values = sorted({value for value in chosen if value}, key=order.index)
            return _alone_if_exclusive(question, values, lang, t)
    return Invalid(t.gettext(
        "Please reply with one or more numbers from 1 to {count}, for example: 1 3",
        count=t.number(len(question.choices or []))))


def _alone_if_exclusive(question: Question, values: list[str], lang: str,
                        t: Translator) -> list[str] | Invalid:
    """An exclusive choice ("None of these") chosen with others is refused, naming it."""
    if len(values) > 1:
        for choice in question.choices or []:
            if choice.exclusive and choice.value in values:
                return Invalid(t.gettext(
                    "\"{choice}\" cannot be chosen with other answers. Please reply again.",
                    choice=choice.text.get(lang, choice.value)))
    return values


def _parse_yesno(text: str, lang: str, t: Translator) -> str | Invalid:
    key = bare_word(text)
    if key == "1":
        return "yes"
    if key == "2":
        return "no"
    command = command_of(text, lang)
    if command in ("yes", "no"):
        return command
    return Invalid(t.gettext("Please reply 1 for {yes} or 2 for {no}.",
                             yes=t.gettext("Yes"), no=t.gettext("No")))


def _parse_text(question: Question, text: str, t: Translator) -> str | Invalid:
    if not text:
        return Invalid(t.gettext("Please reply with a few words."))
    if referenced(text) is not None:  # spoken on a call: the words are in the recording
        return text
    if question.max_length and len(text) > question.max_length:
        return Invalid(t.gettext("Please keep your answer under {count} characters.",
                                 count=t.number(question.max_length)))
    return text
