"""heard's own words in the contact's language: gettext catalogs, keywords and Babel formatting.

Catalogs are the ``.po`` files under ``locales/``; they are compiled in memory the first time a
language is used, so no compiled ``.mo`` has to be committed or built before heard runs.
Keywords (STOP, HELP, ...) come from ``locales/keywords.yaml`` so a translator can add a local
word without touching code; English keywords always work.
"""

from __future__ import annotations

import gettext
import io
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import pycountry
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations
from ruamel.yaml import YAML

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
KEYWORDS_FILE = LOCALES_DIR / "keywords.yaml"
DOMAIN = "messages"
COMMANDS = ("stop", "start", "help", "skip", "back", "lang", "yes", "no")


def ascii_digits(text: str) -> str:
    """Replace every Unicode decimal digit (Bengali, Devanagari, Arabic-Indic...) by 0-9."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text
    )


def canonical(code: str) -> str:
    """A language code as catalogs and Babel spell it: 'BN' → 'bn', 'bn-bd' → 'bn_BD'."""
    language, _, region = code.strip().replace("-", "_").partition("_")
    return f"{language.lower()}_{region.upper()}" if region else language.lower()


@cache
def catalog_language(code: str) -> str | None:
    """The catalog heard has for `code`: its own, else its base language's ('sw_KE' → 'sw');
    None when heard has none (the survey's texts still come from the survey)."""
    wanted = canonical(code)
    for candidate in (wanted, wanted.split("_")[0]):
        if (LOCALES_DIR / candidate / "LC_MESSAGES" / f"{DOMAIN}.po").exists():
            return candidate
    return None


@cache
def is_language(code: str) -> bool:
    """An ISO 639 language ('tum' Tumbuka, 'syl' Sylheti: real, though Babel lacks them)."""
    base = canonical(code).split("_")[0]
    if len(base) == 2:
        return pycountry.languages.get(alpha_2=base) is not None
    return pycountry.languages.get(alpha_3=base) is not None


@cache
def shipped_languages() -> tuple[str, ...]:
    """The languages heard has catalogs for: its own messages can be in these."""
    return tuple(sorted(path.parent.parent.name
                        for path in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))


def normalize(text: str) -> str:
    """Fold case, accents and spacing so 'Oúi ' and 'oui' compare equal."""
    if text.isascii():  # the common case on SMS, ten times cheaper
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFC", stripped).split())


@cache
def translations(lang: str) -> gettext.NullTranslations:
    found = catalog_language(lang)
    if found is None:
        return gettext.NullTranslations()
    with (LOCALES_DIR / found / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle, locale=found)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def _keyword_table() -> dict[str, dict[str, list[str]]]:
    if not KEYWORDS_FILE.exists():
        return {}
    data = YAML(typ="safe").load(KEYWORDS_FILE.read_text(encoding="utf-8")) or {}
    return {lang: {cmd: [str(word) for word in words or []] for cmd, words in table.items()}
            for lang, table in data.items()}


@cache
def keywords(lang: str) -> dict[str, str]:
    """Normalized word → command for `lang`, English always included."""
    table = _keyword_table()
    found: dict[str, str] = {}
    lang = canonical(lang)
    for source in ("en", lang.split("_")[0], lang):
        for command, words in table.get(source, {}).items():
            for word in words:
                found[normalize(word)] = command
    return found


# Where CLDR's name is not the one its speakers use, in any language: Malawians say
# Chichewa, not Nyanja.
_OWN_NAMES = {"ny": "Chichewa"}


@cache
def language_name(code: str, reader: str | None = None) -> str:
    """The language's name as `reader` says it ('en' for 'fr' → 'anglais', 'bn' for 'hi' →
    'बांग्ला'), or in its own script without a reader ('bn' → 'বাংলা': what a menu shows), as
    Babel's CLDR data has it; the code itself for a language CLDR does not know."""
    if code in _OWN_NAMES:
        return _OWN_NAMES[code]
    try:
        locale = Locale.parse(canonical(code))
        said_in = Locale.parse(canonical(reader)) if reader else locale
    except (UnknownLocaleError, ValueError):  # Tumbuka, Sylheti: ISO 639's English name
        found = pycountry.languages.get(**{f"alpha_{len(code)}": code}) \
            if len(code) in (2, 3) else None
        return str(found.name) if found is not None else code
    name = locale.get_display_name(said_in) or code
    if reader is not None:  # in a sentence: the reader's own spelling ('anglais', 'English')
        if said_in.language == "vi" and name.startswith("Tiếng "):
            return "tiếng" + name[len("Tiếng"):]  # CLDR's is the stand-alone form
        return name
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class Translator:
    """gettext and Babel formatting bound to one language."""

    lang: str
    _catalog: gettext.NullTranslations = field(repr=False, compare=False)

    def gettext(self, message: str, **values: object) -> str:
        # a translation's own digits in the language's digits, as its numbers are: one system
        text = localize_digits(self._catalog.gettext(message), self.lang)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = localize_digits(self._catalog.ngettext(singular, plural, n), self.lang)
        return text.format(n=self.number(n), **values)

    def number(self, value: float) -> str:
        return _plain(localize_digits(format_decimal(value, locale=babel_locale(self.lang)),
                                      self.lang))

    def percent(self, ratio: float) -> str:
        return _plain(localize_digits(format_percent(ratio, locale=babel_locale(self.lang)),
                                      self.lang))

    def money(self, amount: float, currency: str, exact: bool = False) -> str:
        """An amount of `currency` as the language writes it ("US$0.07", "0,07 US$"): in the
        currency's cents, or (`exact`, a price per SMS segment) every digit it has."""
        return _plain(localize_digits(format_currency(
            amount, currency, locale=babel_locale(self.lang), decimal_quantization=not exact),
            self.lang))

    def span(self, value: timedelta) -> str:
        """A length of time in words, to the second ("2 hours 5 minutes", "4 seconds")."""
        seconds = round(value.total_seconds())
        parts: list[tuple[int, Literal["hour", "minute", "second"]]] = [
                 (seconds // 3600, "hour"), (seconds % 3600 // 60, "minute"),
                 (seconds % 60, "second")]
        said = [format_timedelta(timedelta(**{f"{unit}s": amount}), granularity=unit,
                                 threshold=1000, format="long", locale=babel_locale(self.lang))
                for amount, unit in parts if amount] or [format_timedelta(
                    timedelta(0), granularity="second", format="long",
                    locale=babel_locale(self.lang))]
        return _plain(localize_digits(" ".join(said), self.lang))

    def day(self, value: date) -> str:
        """A day as the language writes it in full ("5 December 2026", "৫ ডিসেম্বর, ২০২৬")."""
        return _plain(localize_digits(format_date(value, format="long",
                                                  locale=babel_locale(self.lang)), self.lang))


# CLDR's no-break spaces ('42 %', '1 234' in fr and da) are not GSM-7: one would make a whole
# SMS UCS-2, three times the segments. A plain space reads the same.
_PLAIN_SPACES = {0x00A0: " ", 0x202F: " "}


def _plain(text: str) -> str:
    return text.translate(_PLAIN_SPACES)


_ZERO = {"arab": "ARABIC-INDIC", "arabext": "EXTENDED ARABIC-INDIC", "beng": "BENGALI",
         "deva": "DEVANAGARI", "gujr": "GUJARATI", "guru": "GURMUKHI", "knda": "KANNADA",
         "khmr": "KHMER", "laoo": "LAO", "mlym": "MALAYALAM", "mymr": "MYANMAR", "orya": "ORIYA",
         "tamldec": "TAMIL", "telu": "TELUGU", "thai": "THAI", "tibt": "TIBETAN"}


def localize_digits(text: str, lang: str) -> str:
    """ASCII digits in the language's own digits where its locale uses them (bn: ০-৯): Babel
    formats with Latin digits even where CLDR's default numbering system is another."""
    zero = _zero(lang)
    if zero is None:
        return text
    return text.translate({ord("0") + digit: chr(ord(zero) + digit) for digit in range(10)})


@cache
def _zero(lang: str) -> str | None:
    try:
        system = Locale.parse(babel_locale(lang)).default_numbering_system
    except (UnknownLocaleError, ValueError):
        return None
    script = _ZERO.get(system)
    return unicodedata.lookup(f"{script} DIGIT ZERO") if script else None


@cache
def translator(lang: str) -> Translator:
    """heard's words for `lang`: its catalog, else its base language's, else English."""
    return Translator(canonical(lang), translations(lang))


@cache
def babel_locale(lang: str) -> str:
    for candidate in (canonical(lang), canonical(lang).split("_")[0]):
        try:
            Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
        return candidate
    return "en"
