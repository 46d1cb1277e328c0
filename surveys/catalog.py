"""Survey definitions in the database: registered from YAML, loaded back by the worker."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys import media
from surveys.model import Survey
from surveys.sql import insert_ignore
from surveys.tables import Round, SurveyVersion, utcnow
from surveys.validation import SurveyError, load_survey

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).resolve().parent / "examples"


def register(db: Session, survey: Survey) -> SurveyVersion:
    """Store `survey`; the same content is a no-op.

    A changed definition whose (id, version) a round already used is stored as a new version,
    so answers always refer to the text people saw. The recordings read with it are stored
    too (by their sha256, which the definition keeps).
    """
    for recording in survey.recordings():
        if recording.media is not None:
            media.store(db, recording.media)
    current = db.scalars(select(SurveyVersion).where(
        SurveyVersion.survey_id == survey.id, SurveyVersion.version == survey.version)).first()
    if current is not None and current.content_hash == survey.content_hash:
        return current
    if current is not None and not _used(db, current):
        current.definition = survey.model_dump(mode="json")
        current.content_hash = survey.content_hash
        return current
    version = survey.version
    if current is not None:
        stored = _stored_before(db, survey)
        if stored is not None:  # this very edit was stored already: not a version per round
            return stored
        top = db.scalar(select(func.max(SurveyVersion.version)).where(
            SurveyVersion.survey_id == survey.id)) or 0
        version = top + 1
        survey = _as_version(survey, version)
        log.warning("survey %s changed after a round used it, under the same version: stored "
                    "as version %s (raise `version:` in the file to say so)", survey.id, version)
    # two processes registering the same survey at once (two `heard round create`): the
    # second finds the first's row instead of failing on the unique (survey_id, version)
    insert_ignore(db, SurveyVersion.__table__,
                  {"survey_id": survey.id, "version": version,
                   "content_hash": survey.content_hash,
                   "definition": survey.model_dump(mode="json"), "created_at": utcnow()},
                  conflict=["survey_id", "version"])
    row = db.scalars(select(SurveyVersion).where(SurveyVersion.survey_id == survey.id,
                                                 SurveyVersion.version == version)).one()
    if row.content_hash != survey.content_hash:  # the other process stored another edit
        return register(db, survey)
    return row


def _as_version(survey: Survey, version: int) -> Survey:
    return Survey.model_validate(survey.model_dump() | {"version": version})


def _stored_before(db: Session, survey: Survey) -> SurveyVersion | None:
    """The later version heard minted for this same edit, if it did."""
    for row in db.scalars(select(SurveyVersion).where(SurveyVersion.survey_id == survey.id,
                                                      SurveyVersion.version > survey.version)
                          .order_by(SurveyVersion.version)):
        if _as_version(survey, row.version).content_hash == row.content_hash:
            return row
    return None


def register_folder(db: Session, folder: Path) -> list[SurveyVersion]:
    """Register every valid survey file of `folder`; invalid ones are logged, not fatal."""
    stored = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            stored.append(register(db, load_survey(path)))
        except SurveyError as error:
            log.error("survey file skipped:\n%s", error)
    return stored


def latest(db: Session, survey_id: str) -> SurveyVersion | None:
    return db.scalars(select(SurveyVersion).where(SurveyVersion.survey_id == survey_id)
                      .order_by(SurveyVersion.version.desc()).limit(1)).first()


def survey_of(row: SurveyVersion) -> Survey:
    return _parse(row.content_hash, row)


def survey_at(db: Session, survey_pk: int) -> Survey | None:
    """Survey version `survey_pk`; its definition (kilobytes of JSON) is read only the first
    time this process meets its hash (a call asks on every key press)."""
    content_hash = db.scalar(select(SurveyVersion.content_hash)
                             .where(SurveyVersion.id == survey_pk))
    if content_hash is None:
        return None
    return _BY_HASH.get(content_hash) or survey_of(db.get_one(SurveyVersion, survey_pk))


def survey_of_round(db: Session, round_: Round) -> Survey:
    """The survey version a round runs (rounds keep the version they were created with)."""
    return survey_of(db.get_one(SurveyVersion, round_.survey_pk))



_BY_HASH: dict[str, Survey] = {}


def _parse(content_hash: str, row: SurveyVersion) -> Survey:
    """Parse a snapshot once per process: definitions with the same hash are identical."""
    cached = _BY_HASH.get(content_hash)
    if cached is None:
        cached = _BY_HASH[content_hash] = Survey.model_validate(row.definition)
    return cached


def _used(db: Session, row: SurveyVersion) -> bool:
    from surveys.tables import SurveySession as SessionRow

    used_by_round = db.scalar(select(func.count()).select_from(Round).where(
        Round.survey_pk == row.id))
    used_by_session = db.scalar(select(func.count()).select_from(SessionRow).where(
        SessionRow.survey_pk == row.id))
    return bool(used_by_round or used_by_session)
