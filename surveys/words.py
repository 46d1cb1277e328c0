"""How people type keywords and codes: one reader for the engine and the conversation.

'STOP.', 'stop!', 'Stop' and a native-script keyword are the same word; 'water৩৬৭.' and
' WATER 367 ' are the same round code. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata

from surveys.i18n import ascii_digits, keywords, normalize

MAX_CODE = 64


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


KEYPAD = {letter: key for key, letters in {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL",
                                          "6": "MNO", "7": "PQRS", "8": "TUV", "9": "WXYZ"}.items()
          for letter in letters}


def keypad_digits(code: str) -> str:
    """A round's code as typed on a phone's keys, each letter by the key it is printed on
    (ITU E.161): 'WATER367' is '92837367'."""
    return "".join(KEYPAD.get(character, character) for character in code.upper())


def looks_like_a_code(text: str) -> bool:
    """One word of letters and digits ('WATER376'): a mistyped code, not a greeting, and not
    a bare number (an answer, or a button, sent when no question is open)."""
    code = join_code(text)
    return (code is not None and " " not in text.strip() and any(ch.isdigit() for ch in code)
            and any(ch.isalpha() for ch in code))
