"""Recorded prompts: audio files beside a survey's YAML, checked and stored by their sha256.

A prompt is read once, when its survey is loaded (`heard survey upload`, the console's upload,
HEARD_SURVEYS_DIR): it must be a WAV or an MP3 that really is one, at most MAX_BYTES and
MAX_SECONDS long. Its bytes go to the `survey_media` table under their sha256 (two surveys or
versions playing the same file share one row), and the survey's definition keeps the sha256
and the seconds, so a changed recording is a changed definition (another content hash).
"""

from __future__ import annotations

import hashlib
import io
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mutagen import MutagenError
from mutagen.mp3 import MP3
from sqlalchemy.orm import Session

from surveys.sql import insert_ignore
from surveys.tables import SurveyMedia, utcnow

MAX_BYTES = 5 * 1024 * 1024  # a minute of MP3 at 128 kbit/s is under 1 MB
MAX_SECONDS = 300  # a question read slowly with its choices takes under a minute
CONTENT_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg"}  # what Twilio's <Play> plays
SHA256 = r"^[0-9a-f]{64}$"


class MediaError(ValueError):
    """A prompt's file that cannot be played; the message says why (the caller says which
    file, of which prompt)."""


@dataclass(frozen=True)
class Media:
    """A prompt's audio as read and checked."""

    sha256: str
    content_type: str
    data: bytes
    seconds: float


Files = Callable[[str], bytes]
"""A prompt's bytes by its file name (a MediaError when there is no such file, or too big)."""


def folder_files(folder: Path) -> Files:
    """The files beside a survey's YAML, in `folder` or below it (never above it)."""

    def read(name: str) -> bytes:
        path = folder / _safe_name(name)
        if not path.is_file():
            raise MediaError(f"no such file in {folder}")
        _check_size(path.stat().st_size)
        return path.read_bytes()

    return read


def uploaded_files(files: Mapping[str, bytes]) -> Files:
    """Files uploaded with a survey (the console), by their names."""

    def read(name: str) -> bytes:
        found = files.get(PurePosixPath(_safe_name(name)).name)
        if found is None:
            raise MediaError("not uploaded with the survey (choose it with the YAML file)")
        _check_size(len(found))
        return found

    return read


def no_files(_name: str) -> bytes:
    """Where a survey comes without its folder (text pasted, a test): no recording is there."""
    raise MediaError("recordings are read from the survey file's folder, and this survey "
                     "came without one")


def read_media(name: str, files: Files) -> Media:
    """File `name`, checked to be a WAV or MP3 that plays, with its duration."""
    suffix = PurePosixPath(_safe_name(name)).suffix.lower()
    content_type = CONTENT_TYPES.get(suffix)
    if content_type is None:
        raise MediaError("a recording must be a .wav or .mp3 file")
    data = files(name)
    seconds = _wav_seconds(data) if suffix == ".wav" else _mp3_seconds(data)
    if not 0 < seconds <= MAX_SECONDS:
        raise MediaError(f"plays for {seconds:.1f} seconds; a recording plays for more than 0 "
                         f"and at most {MAX_SECONDS} seconds")
    return Media(hashlib.sha256(data).hexdigest(), content_type, data, round(seconds, 2))


def store(db: Session, media: Media) -> None:
    """Keep `media` by its sha256 (stored already: nothing changes)."""
    insert_ignore(db, SurveyMedia.__table__,
                  {"sha256": media.sha256, "content_type": media.content_type,
                   "bytes": media.data, "seconds": media.seconds, "created_at": utcnow()},
                  conflict=["sha256"])


def stored(db: Session, sha256: str) -> SurveyMedia | None:
    return db.get(SurveyMedia, sha256)


def _safe_name(name: str) -> str:
    """A name relative to the survey's folder: no absolute path, no way above it."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise MediaError("name a file in the survey file's folder (no / at the start, no ..)")
    return str(path)


def _check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise MediaError(f"too big: {size:,} bytes; a recording is at most {MAX_BYTES:,} bytes "
                         f"({MAX_BYTES // (1024 * 1024)} MB)")


def _wav_seconds(data: bytes) -> float:
    try:
        with wave.open(io.BytesIO(data)) as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError) as error:
        raise MediaError(f"not a WAV file that plays ({error})") from None
    if rate <= 0:
        raise MediaError("not a WAV file that plays (no sample rate)")
    return frames / rate


def _mp3_seconds(data: bytes) -> float:
    if not (data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF
                                          and data[1] & 0xE0 == 0xE0)):
        raise MediaError("not an MP3 file (it begins neither with an ID3 tag nor with an "
                         "MPEG frame)")
    try:
        info = MP3(io.BytesIO(data)).info
    except (MutagenError, ValueError) as error:
        raise MediaError(f"not an MP3 file that plays ({error})") from None
    if info is None:
        raise MediaError("not an MP3 file that plays (no MPEG frame)")
    return float(info.length)
