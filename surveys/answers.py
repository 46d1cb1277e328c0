"""Turn what a person typed on a phone into an answer value, or say why it is not one.

Digits in any script count (৩ ३ ٣ are 3); choices match by number or by their text in the
contact's language, ignoring case, accents and spacing; multi-choice takes "1 3", "1,3", "1, 3".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from surveys.i18n import Translator, keywords, normalize
from surveys.model import Question

NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
LIST_SEPARATORS = re.compile(r"[,;/&+]+")
MULTI_SEPARATORS = re.compile(r"[\s,;/&+]+")
Value = str | int | float | list[str]


@dataclass(frozen=True)
class Invalid:
    """The reply to send when the text is not an answer to the question."""

    message: str


def ascii_digits(text: str) -> str:
    """Replace every Unicode decimal digit (Bengali, Devanagari, Arabic-Indic...) by 0-9."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text
    )


def parse_answer(question: Question, text: str, lang: str, t: Translator) -> Value | Invalid:
    text = text.strip()
    match question.type:
        case "number":
            return _parse_number(question, text, t)
        case "choice":
            return _parse_choice(question, text, lang, t)
        case "multi":
            return _parse_multi(question, text, lang, t)
        case "yesno":
            return _parse_yesno(text, lang, t)
        case "text":
            return _parse_text(question, text, t)
    return Invalid(t.gettext("This message needs no answer."))


def _parse_number(question: Question, text: str, t: Translator) -> int | float | Invalid:
    found = NUMBER.findall(ascii_digits(text).replace("\u2212", "-"))
    value: int | float | None = None
    if len(found) == 1:
        token = found[0].replace(",", ".")
        number = float(token)
        if "." not in token:
            value = int(token)
        elif question.decimal:
            value = number
        elif number.is_integer():
            value = int(number)
    low, high = question.min, question.max
    if value is not None and (low is None or value >= low) and (high is None or value <= high):
        return value
    return Invalid(_number_hint(question, t))


def _number_hint(question: Question, t: Translator) -> str:
    low = t.number(question.min) if question.min is not None else None
    high = t.number(question.max) if question.max is not None else None
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
    lookup = _choice_lookup(question, lang)
    key = normalize(ascii_digits(text)).strip(".!)")
    if key in lookup:
        return lookup[key]
    return Invalid(t.gettext("Please reply with one number from 1 to {count}.",
                             count=t.number(len(question.choices or []))))


def _parse_multi(question: Question, text: str, lang: str, t: Translator) -> list[str] | Invalid:
    lookup = _choice_lookup(question, lang)
    key = normalize(ascii_digits(text)).strip(".!")
    # Labels may contain spaces ("Too far, Costs money"), so try list separators first.
    for separators in (LIST_SEPARATORS, MULTI_SEPARATORS):
        parts = [part.strip(" .)") for part in separators.split(key) if part.strip(" .)")]
        chosen = [lookup.get(part) for part in parts]
        if chosen and None not in chosen:
            order = question.choice_values()
            return sorted({value for value in chosen if value}, key=order.index)
    return Invalid(t.gettext(
        "Please reply with one or more numbers from 1 to {count}, for example: 1 3",
        count=t.number(len(question.choices or []))))


def _parse_yesno(text: str, lang: str, t: Translator) -> str | Invalid:
    key = normalize(ascii_digits(text)).strip(".!")
    if key == "1":
        return "yes"
    if key == "2":
        return "no"
    command = keywords(lang).get(key)
    if command in ("yes", "no"):
        return command
    return Invalid(t.gettext("Please reply 1 for {yes} or 2 for {no}.",
                             yes=t.gettext("Yes"), no=t.gettext("No")))


def _parse_text(question: Question, text: str, t: Translator) -> str | Invalid:
    if not text:
        return Invalid(t.gettext("Please reply with a few words."))
    if question.max_length and len(text) > question.max_length:
        return Invalid(t.gettext("Please keep your answer under {count} characters.",
                                 count=t.number(question.max_length)))
    return text
