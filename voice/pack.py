"""heard's own words on a call, recorded: a prompt pack, for languages Twilio has no voice for.

Twilio's text-to-speech has no voice for Swahili, Nepali or Chichewa, so a call in one says
heard's own words (the greeting, "press star", thanks) from recordings. PHRASES are the words a
call says with nothing filled in; a studio records each in a language (`heard voice prompts
--lang sw` lists them with their translations and keys) and `heard voice import DIR` stores
`DIR/<lang>/<key>.wav|mp3`, checked as a survey's recordings are (surveys.media) and kept in
`survey_media` by their sha256, so every web process can serve them. A call in a language
whose pack is complete and whose survey has every prompt recorded needs no voice; where a voice
exists, a recorded phrase is played instead of said (a person's voice, not a machine's). A
re-prompt's reason has numbers in it: such a call says REPROMPT instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys import media
from surveys.i18n import translator
from surveys.sql import upsert
from surveys.tables import VoicePrompt, utcnow
from voice.prompts import audio_url

REPROMPT = "Sorry, that answer could not be taken. Here is the question again."
PHRASES = (  # msgids, each said somewhere in voice/ or by the engine on a call
    "Answer with your phone's keys. Press star at any time to hear the question again, go "
    "back, get help or stop these calls.",
    "To hear the question again, press 1. To go back to the question before, press 2. For "
    "help, press 3. To get no more calls from us, press 4.",
    "heard asks short questions about your community. Answer with your phone's keys. Press "
    "star at any time for the menu.",
    "You will get no more calls from us. Goodbye.",
    "Welcome to heard. To answer a survey, type its code with your phone's keys, then press "
    "the hash key.",
    "That code is not for a survey that is open now. Type it again, then press the hash key.",
    "You asked us not to contact you, so we will not. To take part again, press 1. Otherwise, "
    "hang up.",
    "Speak your answer after the tone. Press the hash key when you have finished.",
    REPROMPT,
    "Let's move on to the next question.",
    "Thank you! Your answers have been recorded.",
    "This survey is finished. Thank you!",
    "A reminder: we would still like to hear from you.",
    "A reminder: you have not finished the survey. Here is where you stopped.",
)


def key_of(msgid: str) -> str:
    """A phrase's file name in a pack: stable while its English words are."""
    return hashlib.sha1(msgid.encode()).hexdigest()[:10]


KEYS = {key_of(msgid): msgid for msgid in PHRASES}


@dataclass(frozen=True)
class Phrase:
    """One phrase of a pack in a language: its key, English words, translation, recording."""

    key: str
    english: str
    translation: str
    recorded: bool


def phrases(db: Session, lang: str) -> list[Phrase]:
    """Every phrase in `lang`, in the order a studio records them, and whether it is."""
    have = set(db.scalars(select(VoicePrompt.key).where(VoicePrompt.lang == lang)))
    t = translator(lang)
    return [Phrase(key_of(msgid), msgid, t.gettext(msgid), key_of(msgid) in have)
            for msgid in PHRASES]


def recorded_phrases(db: Session, lang: str, base_url: str) -> dict[str, str]:
    """`lang`'s recorded phrases: their words (as translated) → the URL that plays them."""
    t = translator(lang)
    return {t.gettext(KEYS[key]): audio_url(base_url, sha256)
            for key, sha256 in db.execute(select(VoicePrompt.key, VoicePrompt.sha256)
                                          .where(VoicePrompt.lang == lang))
            if key in KEYS}


def complete(recorded: dict[str, str], lang: str) -> bool:
    """Whether every phrase is recorded in `lang` (`recorded`: recorded_phrases')."""
    t = translator(lang)
    return all(t.gettext(msgid) in recorded for msgid in PHRASES)


def recorded_in(db: Session, lang: str) -> bool:
    """Whether every phrase is recorded in `lang`: a call in it needs no voice."""
    have = set(db.scalars(select(VoicePrompt.key).where(VoicePrompt.lang == lang)))
    return all(key_of(msgid) in have for msgid in PHRASES)


def import_pack(db: Session, folder: Path) -> dict[str, int]:
    """Store every `<lang>/<key>.wav|mp3` under `folder`: how many per language. A file that is
    not a phrase's, or does not play, is a MediaError naming it (nothing is stored then)."""
    found: list[tuple[str, str, media.Media]] = []
    for lang, key, path in _files(folder):
        if key not in KEYS:
            raise media.MediaError(f"{path}: {key} is no phrase's key (heard voice prompts "
                                   f"--lang {lang} lists them)")
        try:
            found.append((lang, key, media.read_media(path.name,
                                                      media.folder_files(path.parent))))
        except media.MediaError as error:
            raise media.MediaError(f"{path}: {error}") from None
    counts: dict[str, int] = {}
    for lang, key, checked in found:
        media.store(db, checked)
        upsert(db, VoicePrompt.__table__, {"lang": lang, "key": key, "sha256": checked.sha256,
                                           "seconds": checked.seconds, "created_at": utcnow()},
               conflict=["lang", "key"], update=["sha256", "seconds", "created_at"])
        counts[lang] = counts.get(lang, 0) + 1
    return counts


def _files(folder: Path) -> Iterator[tuple[str, str, Path]]:
    if not folder.is_dir():
        raise media.MediaError(f"{folder}: no such folder")
    for lang_folder in sorted(path for path in folder.iterdir() if path.is_dir()):
        for path in sorted(lang_folder.iterdir()):
            if path.suffix.lower() in media.CONTENT_TYPES:
                yield lang_folder.name.lower(), path.stem, path

