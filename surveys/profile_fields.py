"""Declared profile fields: the only keys of a contact's profile an export may show.

A key is declared by a `profile: true` question of the exported survey, or by the facilitator
at import (`heard contacts import --profile gender`). Every other import column (a name, a
second phone number) is personal data and is never stored, so it can never reach an export.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.model import Survey
from surveys.sql import insert_ignore
from surveys.tables import ProfileField, utcnow


def declare_profile_fields(db: Session, names: Iterable[str]) -> None:
    """Record `names` as declared; declaring a name again, even concurrently, is a no-op."""
    rows = [{"name": name, "declared_at": utcnow()} for name in dict.fromkeys(names)]
    if rows:
        insert_ignore(db, ProfileField.__table__, rows, conflict=["name"])


def declared_profile_fields(db: Session, surveys: Iterable[Survey] = ()) -> set[str]:
    """Names declared at import, plus the ids of the profile questions of `surveys`."""
    declared = set(db.scalars(select(ProfileField.name)))
    return declared | {question.id for survey in surveys for question in survey.questions
                       if question.profile}
