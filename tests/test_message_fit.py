"""heard's own messages fit the channel: GSM-7 in every Latin-script language (one accent
outside it makes an SMS UCS-2, three times the segments), HELP in one SMS in English and
two at most anywhere, numbers and percentages without no-break spaces."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from sms.segments import count_segments
from surveys.engine import _help_text  # the HELP text, as the engine sends it
from surveys.i18n import LOCALES_DIR, translator

LATIN = ["en", "fr", "es", "sw", "da", "fil", "ny"]  # Vietnamese's tones are not GSM-7
CATALOGS = sorted(path.parent.parent.name for path in LOCALES_DIR.glob("*/LC_MESSAGES/*.po"))


def filled(text: str) -> str:
    """A message with sample values in its placeholders, as a person receives it."""
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name]
    return text.format(**{name: "12" for name in names})


def messages(lang: str) -> list[str]:
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    found = []
    for message in catalog:
        if message.id and message.string:
            forms = [message.string] if isinstance(message.string, str) else message.string
            found += [filled(form) for form in forms if form]
    return found


@pytest.mark.parametrize("lang", LATIN)
def test_every_message_of_a_latin_script_language_is_gsm7(lang):
    outside = [text for text in messages(lang) if count_segments(text).encoding != "GSM-7"]
    assert outside == []


@pytest.mark.parametrize("lang", CATALOGS)
def test_help_is_one_sms_in_english_and_two_at_most_anywhere(lang):
    segments = count_segments(_help_text(translator(lang))).count
    assert segments <= (1 if lang == "en" else 2), _help_text(translator(lang))


@pytest.mark.parametrize("lang", ["fr", "da", "es", "en", "vi"])
def test_numbers_and_percentages_use_plain_spaces(lang):
    t = translator(lang)
    for text in (t.number(1234567), t.percent(0.42)):
        assert "\u00a0" not in text and "\u202f" not in text
        assert count_segments(text).encoding == "GSM-7"


def test_the_latin_list_names_catalogs_that_exist():
    assert set(LATIN) <= set(CATALOGS) and Path(LOCALES_DIR).is_dir()
