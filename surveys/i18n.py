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
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from ruamel.yaml import YAML

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
KEYWORDS_FILE = LOCALES_DIR / "keywords.yaml"
DOMAIN = "messages"
COMMANDS = ("stop", "start", "help", "skip", "back", "lang", "yes", "no")


def normalize(text: str) -> str:
    """Fold case, accents and spacing so 'Oúi ' and 'oui' compare equal."""
    if text.isascii():  # the common case on SMS, ten times cheaper
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFC", stripped).split())


@cache
def translations(lang: str) -> gettext.NullTranslations:
    po_file = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_file.exists():
        return gettext.NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
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
    for source in ("en", lang.split("_")[0], lang):
        for command, words in table.get(source, {}).items():
            for word in words:
                found[normalize(word)] = command
    return found


# Where CLDR's name is not the one its speakers use: Malawians say Chichewa, not Nyanja.
_OWN_NAMES = {"ny": "Chichewa"}


@cache
def language_name(code: str) -> str:
    """The language's name in its own script ('bn' → 'বাংলা'), as Babel's CLDR data has it."""
    if code in _OWN_NAMES:
        return _OWN_NAMES[code]
    try:
        locale = Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return code
    name = locale.get_display_name(locale) or code
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class Translator:
    """gettext and Babel formatting bound to one language."""

    lang: str
    _catalog: gettext.NullTranslations = field(repr=False, compare=False)

    def gettext(self, message: str, **values: object) -> str:
        text = self._catalog.gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        return self._catalog.ngettext(singular, plural, n).format(n=self.number(n), **values)

    def number(self, value: float) -> str:
        return localize_digits(format_decimal(value, locale=_babel_locale(self.lang)), self.lang)

    def percent(self, ratio: float) -> str:
        return localize_digits(format_percent(ratio, locale=_babel_locale(self.lang)), self.lang)


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
        system = Locale.parse(lang).default_numbering_system
    except (UnknownLocaleError, ValueError):
        return None
    script = _ZERO.get(system)
    return unicodedata.lookup(f"{script} DIGIT ZERO") if script else None


@cache
def translator(lang: str) -> Translator:
    return Translator(lang, translations(lang))


def _babel_locale(lang: str) -> str:
    try:
        Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return "en"
    return lang
