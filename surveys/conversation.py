"""What an inbound message means for the contact, before and around the engine: pure.

The engine walks one session through one survey. These rules act on the *contact*: which
keyword a message is (one parser for the engine and the worker), whether it is a round's join
code as people type it, which language a walk-in gets, and what a person hears when heard has
no question for them. Nothing here touches a database, a queue or a provider.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers

from surveys.answers import ascii_digits
from surveys.i18n import keywords, normalize, translator

MAX_CODE = 64
# the languages a country's people are most likely to read, for walk-ins heard knows nothing of
# but their number (the partner countries; the first that the survey has wins)
COUNTRY_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "BD": ("bn",), "IN": ("hi", "bn"), "NP": ("ne", "hi"), "KE": ("sw", "en"),
    "TZ": ("sw", "en"), "UG": ("en", "sw"), "VN": ("vi",), "DK": ("da", "en"),
    "CA": ("en", "fr"), "MW": ("ny", "en"), "PH": ("fil", "en"), "FR": ("fr",),
    "ES": ("es",),
}


def _strip_punctuation(text: str) -> str:
    """Punctuation and symbols around a word go: 'STOP.', 'stop!', '(3)', '৩।' read as typed."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in "PSZ":
        start += 1
    while end > start and unicodedata.category(text[end - 1])[0] in "PSZ":
        end -= 1
    return text[start:end]


def bare_word(text: str) -> str:
    """A message as a keyword is compared: folded, native digits as ASCII, no punctuation."""
    return _strip_punctuation(normalize(ascii_digits(text if isinstance(text, str) else "")))


def command_of(text: str, lang: str) -> str | None:
    """The keyword a message is (stop, start, help, lang, back, skip), in `lang` or English."""
    word = bare_word(text)
    if word.split(" ")[0] in ("lang", "language"):
        return "lang"
    return keywords(lang).get(word)


def join_code(text: str) -> str | None:
    """A round's code as people type it ('water৩৬৭.', ' WATER 367 '); None if none."""
    code = "".join(_strip_punctuation(ascii_digits(text or "")).split()).upper()
    return code if 0 < len(code) <= MAX_CODE else None


def walk_in_language(offered: Iterable[str], app_language: str | None,
                     address: str | None) -> str | None:
    """A newcomer's language: their app's (Telegram tells it), else their country's, when the
    survey offers it; None leaves the survey's first language."""
    offered = list(offered)
    bases = {code.split("_")[0].split("-")[0].lower(): code for code in offered}
    if app_language:
        found = bases.get(app_language.split("_")[0].split("-")[0].lower())
        if found:
            return found
    for language in COUNTRY_LANGUAGES.get(_country_of(address) or "", ()):
        if language in bases:
            return bases[language]
    return None


def _country_of(address: str | None) -> str | None:
    if not address or not address.startswith("+"):
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(address))
    except phonenumbers.NumberParseException:
        return None


def is_media_only(text: str, payload: Mapping[str, Any]) -> bool:
    """A photo, voice note or file with no words: nothing heard can read as an answer."""
    return not (text or "").strip() and bool(payload.get("media"))


def media_reply(lang: str) -> str:
    """What a person who sent a picture or a voice note hears: type instead."""
    # TRANSLATORS: the reply to a photo, voice message, sticker, location or file
    return translator(lang).gettext(
        "Sorry, I can only read text. Please answer with a message or a button.")


def not_in_a_survey(lang: str) -> str:
    """A person heard has no question for: what they can do."""
    return translator(lang).gettext(
        "Welcome to heard. To answer a survey, send its code (for example from a poster). "
        "HELP tells you more, LANG changes language, STOP ends all messages.")


def unknown_code(lang: str) -> str:
    """A code that is not an open round's."""
    return translator(lang).gettext(
        "That code is not for a survey that is open now. Please check it and send it again.")


def edited_reply(lang: str) -> str:
    """A corrected (edited) message changes nothing already answered: how to change it."""
    return translator(lang).gettext(
        "An edited message does not change an answer already sent. Reply BACK to change "
        "your last answer.")
