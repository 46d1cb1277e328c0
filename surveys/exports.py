"""A round's answers as one table: one row per session, one column per question.

Columns: metadata first (all named with a leading underscore), then the questions in the order
of the newest survey version, then questions only older versions asked. A multi question is one
cell of space-separated values plus one 0/1 column per choice named `question/choice`, the ODK
Central and Kobo convention; notes have no column. `_profile.<field>` columns are only for the
declared profile fields (surveys.profile_fields) the round's contacts have: an undeclared key is
never read out, whatever a contact's profile holds.

Rows are read in chunks of sessions (keyset on the session id, one short transaction per chunk,
each chunk's answers aggregated by the database), so memory stays flat however large the round,
and SQLite writers are never blocked for the length of an export.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import Text, bindparam, cast, func, select, text
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.database import get_engine
from surveys.i18n import translator
from surveys.model import Question, Survey
from surveys.profile_fields import declared_profile_fields
from surveys.pseudonym import pseudonymizer
from surveys.tables import Contact, Json, Round, StoredAnswer, SurveyVersion
from surveys.tables import SurveySession as SessionRow

CHUNK = 1000  # sessions per query: about ten thousand answers
XLSX_MAX_ROWS = 1_048_576
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


class ExportError(ValueError):
    """The export cannot be made as asked (unknown round or language); the message says why."""


class NoSuchRound(ExportError):
    """The round asked for does not exist."""


@dataclass(frozen=True)
class Column:
    name: str
    free_text: bool = False  # typed or imported by people: defused in spreadsheets


@dataclass(frozen=True)
class Asked:
    """One question's columns: the union of its versions, with labels when asked for."""

    id: str
    type: str
    choices: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # value → label; empty: values


@dataclass
class Export:
    """The columns of one round's export and the rows under them, read lazily."""

    database_url: str
    round_id: int
    key: bytes
    columns: list[Column]
    asked: list[Asked]
    profile_keys: list[str]
    versions: dict[int, int]  # survey row id → version number
    with_addresses: bool = False
    labels: str | None = None

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def rows(self, after: int = 0, limit: int | None = None,
             chunk: int = CHUNK) -> Iterator[list[Any]]:
        """Rows of sessions with id > `after`, by id; at most `limit` of them."""
        engine = get_engine(self.database_url)
        query = self._chunk_query(engine.dialect.name)
        row = self._row_maker()
        left = limit
        while left is None or left > 0:
            size = chunk if left is None else min(chunk, left)
            with engine.connect() as connection:
                batch = connection.execute(query, {"after": after, "size": size}).all()
            for record in batch:
                yield row(record)
            if len(batch) < size:
                return
            after = batch[-1][0]
            if left is not None:
                left -= len(batch)

    def records(self, after: int = 0, limit: int | None = None) -> Iterator[dict[str, Any]]:
        names = self.names
        for row in self.rows(after, limit):
            yield dict(zip(names, row, strict=True))

    def _chunk_query(self, dialect: str) -> Any:
        """One chunk of sessions with their contact and answers; JSON comes back as text,
        parsed here with json.loads (twice as fast as the driver's JSON loader)."""
        language = func.coalesce(SessionRow.state["lang"].as_string(), Contact.language)
        return (select(SessionRow.id, Contact.id, Contact.address, Contact.channel, language,
                       Contact.community, cast(Contact.profile, Text), SessionRow.survey_pk,
                       SessionRow.status, SessionRow.started_at, SessionRow.completed_at,
                       cast(_answers_object(dialect), Text))
                .join(Contact, Contact.id == SessionRow.contact_id)
                .where(SessionRow.round_id == self.round_id,
                       SessionRow.id > bindparam("after"))
                .order_by(SessionRow.id).limit(bindparam("size")))

    def _row_maker(self) -> Callable[[Any], list[Any]]:
        """The function turning one fetched record into one row, with everything that does not
        change from row to row looked up once: this loop runs once per session."""
        name_of = pseudonymizer(self.key)
        addresses, profile_keys, versions = self.with_addresses, self.profile_keys, self.versions
        plan = [(asked.id, asked.type == "multi", asked.labels, asked.choices)
                for asked in self.asked]
        joiner = "; " if self.labels else " "
        loads = json.loads

        def row(record: Any) -> list[Any]:
            (session, contact, address, channel, language, community, profile, survey_pk, status,
             started, completed, answers) = record
            cells = [session, name_of(contact), address] if addresses else [
                session, name_of(contact)]
            cells += (channel, language, community)
            if profile_keys:
                profile = loads(profile) if profile else None
                get = profile.get if isinstance(profile, dict) else {}.get
                cells += [get(name) for name in profile_keys]
            cells += (versions.get(survey_pk), status, _iso(started), _iso(completed))
            given = loads(answers) if answers else None
            get = given.get if isinstance(given, dict) else {}.get
            for question, multi, labels, choices in plan:
                value = get(question)
                if multi:
                    if value is None:
                        cells.append(None)
                        cells += [None] * len(choices)
                        continue
                    chosen = value if isinstance(value, list) else [value]
                    shown = [labels.get(item, item) for item in chosen] if labels else chosen
                    cells.append(joiner.join(str(item) for item in shown))
                    cells += [1 if choice in chosen else 0 for choice in choices]
                elif labels and isinstance(value, str):
                    cells.append(labels.get(value, value))
                else:
                    cells.append(value)
            return cells

        return row


def open_export(database_url: str, round_id: int, key: bytes, labels: str | None = None,
                with_addresses: bool = False) -> Export:
    """Plan the export of round `round_id`: its survey versions, questions and profile keys."""
    engine = get_engine(database_url)
    with Session(engine) as db:
        round_row = db.get(Round, round_id)
        if round_row is None:
            raise NoSuchRound(f"no round {round_id}")
        used = set(db.scalars(select(SessionRow.survey_pk).distinct()
                              .where(SessionRow.round_id == round_id)))
        rows = db.scalars(select(SurveyVersion).where(
            SurveyVersion.id.in_(used | {round_row.survey_pk}))).all()
        rows = sorted(rows, key=lambda row: (row.version, row.id), reverse=True)
        surveys = [catalog.survey_of(row) for row in rows]
        profile_keys = _profile_keys(db, round_id, declared_profile_fields(db, surveys))
    if labels is not None and not any(labels in survey.languages for survey in surveys):
        have = sorted({lang for survey in surveys for lang in survey.languages})
        raise ExportError(f"no survey of round {round_id} is in language {labels!r} "
                          f"(it has {', '.join(have)})")
    asked = questions_of(surveys, labels)
    columns = _metadata(profile_keys, with_addresses) + [
        column for question in asked for column in _columns(question)]
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ExportError(f"column name(s) used twice: {', '.join(twice)}")
    return Export(database_url, round_id, key, columns, asked, profile_keys,
                  {row.id: row.version for row in rows}, with_addresses, labels)


def find_round(db: Session, reference: str) -> Round | None:
    """A round by id ('12') or by code ('water-2024-06')."""
    if reference.isdigit():
        return db.get(Round, int(reference))
    return db.scalars(select(Round).where(Round.code == reference)).first()


def questions_of(surveys: list[Survey], labels: str | None = None) -> list[Asked]:
    """Answerable questions of every version, newest first: the newest's order, then any
    question only an older version asked; choices are the union the same way."""
    found: dict[str, list[Question]] = {}
    for survey in surveys:
        for question in survey.questions:
            if question.answerable:
                found.setdefault(question.id, []).append(question)
    return [_asked(versions, labels) for versions in found.values()]


def _asked(versions: list[Question], labels: str | None) -> Asked:
    newest = versions[0]
    if newest.type == "yesno":
        t = translator(labels or "en")
        named = {"yes": t.gettext("Yes"), "no": t.gettext("No")} if labels else {}
        return Asked(newest.id, newest.type, ("yes", "no"), named)
    values: list[str] = []
    named = {}
    for question in versions:
        for choice in question.choices or []:
            if choice.value not in values:
                values.append(choice.value)
            if labels and labels in choice.text:
                named.setdefault(choice.value, choice.text[labels])
    return Asked(newest.id, newest.type, tuple(values), named)


def _metadata(profile_keys: list[str], with_addresses: bool) -> list[Column]:
    names = ["_session", "_contact"] + (["_address"] if with_addresses else [])
    columns = [Column(name) for name in names]
    if with_addresses:
        columns[-1] = Column("_address", free_text=True)
    columns += [Column("_channel"), Column("_language"), Column("_community", free_text=True)]
    columns += [Column(f"_profile.{name}", free_text=True) for name in profile_keys]
    columns += [Column(name) for name in
                ("_survey_version", "_status", "_started_at", "_completed_at")]
    return columns


def _columns(asked: Asked) -> list[Column]:
    """StoredAnswer cells count as free text whatever the type: a question that was `text` in an
    older version keeps its typed answers. Only strings are ever defused, never numbers."""
    own = Column(asked.id, free_text=True)
    if asked.type == "multi":
        return [own] + [Column(f"{asked.id}/{value}") for value in asked.choices]
    return [own]


def _answers_object(dialect: str) -> Any:
    """A session's answers as one JSON object {question id: value}, built by the database."""
    if dialect == "postgresql":  # json, not jsonb: no key sorting, several times cheaper
        aggregate = func.json_object_agg(StoredAnswer.question_id, StoredAnswer.value, type_=Json)
    else:
        aggregate = func.json_group_object(StoredAnswer.question_id, func.json(StoredAnswer.value),
                                           type_=Json)
    return select(aggregate).where(StoredAnswer.session_id == SessionRow.id).scalar_subquery()


def _profile_keys(db: Session, round_id: int, declared: set[str]) -> list[str]:
    """The declared keys the round's contacts' profiles have, sorted: one column each."""
    contacts = "SELECT contact_id FROM sessions WHERE round_id = :round"
    if db.get_bind().dialect.name == "postgresql":
        query = ("SELECT DISTINCT jsonb_object_keys(profile) FROM contacts WHERE id IN "
                 f"({contacts}) AND jsonb_typeof(profile) = 'object'")
    else:
        query = ("SELECT DISTINCT j.key FROM contacts c, json_each(c.profile) j WHERE c.id IN "
                 f"({contacts}) AND json_type(c.profile) = 'object'")
    return sorted(key for key in db.scalars(text(query), {"round": round_id}) if key in declared)


def _iso(moment: datetime | None) -> str | None:
    """'2024-06-01T09:05:00Z': UTC, to the second."""
    if moment is None:
        return None
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def defuse(value: str) -> str:
    """'=HYPERLINK(...)' → "'=HYPERLINK(...)": a spreadsheet shows it instead of running it.

    A plain number ('-3', '+254700000001') cannot be a formula and is left as it is.
    """
    if value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _spreadsheet_rows(export: Export, text_cell: Any) -> Iterator[list[Any]]:
    """Rows with free text defused (and made fit for the format by `text_cell`)."""
    free = [index for index, column in enumerate(export.columns) if column.free_text]
    for row in export.rows():
        for index in free:
            value = row[index]
            if isinstance(value, str):
                row[index] = text_cell(defuse(value))
        yield row


def write_csv(export: Export, handle: IO[str]) -> int:
    """RFC 4180 CSV, row by row; returns the number of rows."""
    writer = csv.writer(handle)
    writer.writerow(export.names)
    count = 0
    for row in _spreadsheet_rows(export, str):
        writer.writerow(row)
        count += 1
    return count


def write_jsonl(export: Export, handle: IO[str]) -> int:
    """One JSON object per line, keys in column order, values typed (numbers stay numbers)."""
    count = 0
    for record in export.records():
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_xlsx(export: Export, handle: IO[bytes] | str) -> int:
    """An .xlsx workbook in openpyxl's write-only mode: rows go to disk as they come."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(f"round {export.round_id}")
    sheet.append(export.names)
    count = 0
    for row in _spreadsheet_rows(export, lambda value: ILLEGAL_CHARACTERS_RE.sub("", value)):
        count += 1
        if count >= XLSX_MAX_ROWS:
            raise ExportError(f"a sheet holds at most {XLSX_MAX_ROWS - 1:,} rows under its "
                              "header: export this round as csv or jsonl")
        sheet.append(row)
    workbook.save(handle)
    return count


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "xlsx": write_xlsx}
