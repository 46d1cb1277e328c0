"""Invite a contact into a survey: open their session and write its first messages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from surveys.tables import Contact, SurveyVersion
from worker.inbound import Batch


def invite(db: Session, contact: Contact, survey_row: SurveyVersion,
           round_id: int | None = None) -> list[int]:
    """Outbox ids of the invitation (intro + consent or first question), to queue on commit."""
    batch = Batch(db)
    _, result = batch.open_session(contact, survey_row, round_id)
    batch.write_outbox(contact, None, result.replies)
    return batch.write()
