"""Days as people type them, read in the contact's date order: pure (today is given).

'25/12/2024', '25-12-24', '25.12.2024', '25 12 2024' and, from a phone's keys, '25122024' are
Christmas 2024 where days come first (most of the world, and English as heard's people write
it); '12/25/2024' where CLDR says months come first (en_US, Filipino). A four-digit year first
('2024-12-25') is always ISO. Native digits count (২৫/১২/২০২৪), and so do the language's words
for today, yesterday and the day before (CLDR's: 'leo', 'jana', 'আজ', 'গতকাল'), English always.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache
from typing import Literal

from babel import Locale, UnknownLocaleError

from surveys.i18n import ascii_digits, babel_locale, canonical, localize_digits, normalize

Order = Literal["dmy", "mdy"]
SEPARATED = re.compile(r"^(\d{1,4})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{1,4})$")
KEYED = re.compile(r"^\d{6}$|^\d{8}$")  # ddmmyy, ddmmyyyy: typed on a call's keys
PAST_DAYS = (0, -1, -2)  # today, yesterday, the day before: survey answers look back


@cache
def date_order(lang: str) -> Order:
    """Day first, unless the language's own region writes the month first (en_US, fil)."""
    code = canonical(lang)
    if code == "en":  # heard's English readers are in Kenya, Bangladesh, Malawi: day first
        return "dmy"
    try:
        pattern = Locale.parse(babel_locale(code)).date_formats["short"].pattern
    except (UnknownLocaleError, ValueError, KeyError):
        return "dmy"
    letters = [letter for letter in pattern if letter in "dMy"]
    return "mdy" if letters and letters[0] == "M" else "dmy"


@cache
def relative_words(lang: str) -> dict[str, int]:
    """The language's words (and English's) for recent days → days from today."""
    words: dict[str, int] = {}
    for code in ("en", babel_locale(lang)):
        try:
            said = Locale.parse(code)._data["date_fields"]["day"]["relative"]
        except (UnknownLocaleError, ValueError, KeyError):
            continue
        for offset in PAST_DAYS:  # 'कल' is yesterday and tomorrow in Hindi: read as yesterday
            if offset in said:
                words[normalize(str(said[offset]))] = offset
    return words


def read_date(text: str, lang: str, today: date) -> date | None:
    """The day `text` means in `lang`, or None when it is not one day."""
    said = normalize(ascii_digits(text)).strip(" .!")
    if said in relative_words(lang):
        return today + timedelta(days=relative_words(lang)[said])
    if KEYED.match(said):
        parts = [said[:2], said[2:4], said[4:]]
    elif found := SEPARATED.match(said):
        parts = list(found.groups())
    else:
        return None
    if len(parts[0]) == 4:  # ISO: year first
        year, month, day = parts
    elif date_order(lang) == "mdy":
        month, day, year = parts
    else:
        day, month, year = parts
    if len(year) not in (2, 4) or len(day) > 2 or len(month) > 2:
        return None
    try:
        return date(_full_year(year, today), int(month), int(day))
    except ValueError:
        return None


def _full_year(year: str, today: date) -> int:
    if len(year) == 4:
        return int(year)
    short, century = int(year), today.year // 100 * 100  # '85' in 2025 is 1985, '24' is 2024
    return century + short if short <= today.year % 100 else century - 100 + short


def bound(value: float | str | None, today: date) -> date | None:
    """A date question's `min`/`max` (ISO or `today`) as a day."""
    if not isinstance(value, str):
        return None
    return today if value == "today" else date.fromisoformat(value)


def written(day: date, lang: str) -> str:
    """A day as the person types it: '25/12/2024' in their order and digits."""
    parts = (day.month, day.day) if date_order(lang) == "mdy" else (day.day, day.month)
    return localize_digits(f"{parts[0]:02d}/{parts[1]:02d}/{day.year}", lang)
