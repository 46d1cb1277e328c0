"""Spoken answers: a call's answer to a text question is a recording, personal data kept once.

The answer's stored text is a reference, `recording:<id>`, to a row of `recordings` (heard's
own id, a uuid4's hex: it says nothing of the person nor of the provider). The audio is fetched
from the provider by a job (`voice.recordings`), kept in the row, then deleted there, so it
lives in one place. Erasure and retention forget a recording: its row goes, or, while the
provider still holds the audio, is emptied down to what deleting it there needs.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Delete, Update, delete, func, select, update
from sqlalchemy.orm import Session

from surveys.tables import Recording, utcnow

PREFIX = "recording:"
_REFERENCE = re.compile(PREFIX + r"([0-9a-f]{32})")


def new_id() -> str:
    """heard's own id of a new recording."""
    return uuid.uuid4().hex


def reference(recording_id: str) -> str:
    """What the answer stores: `recording:<id>`."""
    return PREFIX + recording_id


def referenced(text: str) -> str | None:
    """The recording id `text` refers to, if it is exactly a reference."""
    found = _REFERENCE.fullmatch(text.strip())
    return found.group(1) if found else None


def remembered() -> ColumnElement[bool]:
    """Recordings not forgotten: the ones an answer's reference still leads to."""
    return Recording.forgotten_at.is_(None)


def count_forgettable(db: Session, which: ColumnElement[bool]) -> int:
    return db.scalar(select(func.count()).select_from(Recording)
                     .where(which, remembered())) or 0


def forget(db: Session, which: ColumnElement[bool]) -> int:
    """Forget the recordings `which` selects, in the caller's transaction; how many. Those the
    provider no longer holds go; the others lose their audio and their link to an answer and
    wait, forgotten, for the job that deletes them at the provider (then their row goes)."""
    forgettable = which & remembered()
    gone = _changed(db, delete(Recording).where(forgettable,
                                                Recording.provider_deleted_at.is_not(None)))
    return gone + _changed(db, update(Recording).where(forgettable).values(
        audio=None, content_type=None, session_id=None, question_id=None, round_id=None,
        forgotten_at=utcnow()))


def _changed(db: Session, statement: Delete | Update) -> int:
    """How many rows `statement` deleted or updated."""
    result = db.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount
