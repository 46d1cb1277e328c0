"""A round's (or a whole survey's) answers as one table: one row per session, one column per
question, and the codebook (surveys.codebook) that says what each column means.

Columns: metadata first (all named with a leading underscore), then the questions in the order
of the newest survey version, then questions only older versions asked. A multi question is one
cell of space-separated values plus one 0/1 column per choice named `question/choice`, the ODK
Central and Kobo convention; notes have no column. `_profile.<field>` columns are only for the
declared profile fields (surveys.profile_fields) the sessions' profiles have: an undeclared key is
never read out, whatever a contact's profile holds. A profile is the one the session kept when
it was answered (sessions.profile), else, for sessions from before migration 0021, the
contact's current one.

Rows are read in chunks of sessions (keyset on the session id, one short transaction per chunk,
each chunk's answers aggregated by the database), so memory stays flat however large the round,
and SQLite writers are never blocked for the length of an export.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import ColumnElement, Text, bindparam, cast, func, select, true, union
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.codebook import Codebook, CodedQuestion, codebook, columns_of, header_of, table
from surveys.database import get_engine
from surveys.profile_fields import declared_profile_fields
from surveys.pseudonym import pseudonymizer
from surveys.tables import Contact, Json, Round, StoredAnswer, SurveyVersion
from surveys.tables import SurveySession as SessionRow

CHUNK = 1000  # sessions per query: about ten thousand answers
XLSX_MAX_ROWS = 1_048_576
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ExportError(ValueError):
    """The export cannot be made as asked (unknown round or language); the message says why."""


class NoSuchRound(ExportError):
    """The round asked for does not exist."""


class NoSuchSurvey(ExportError):
    """The survey (or version) asked for does not exist."""


@dataclass(frozen=True)
class Column:
    name: str
    free_text: bool = False  # typed or imported by people: defused in spreadsheets
    header: str | None = None  # its header with --labels (a question's text), else its name


@dataclass
class Export:
    """The columns of one round's (or survey's) export and the rows under them, read lazily."""

    database_url: str
    title: str  # 'round 12', 'survey water': the sheet's name, the files' subject
    sessions: ColumnElement[bool]  # which sessions are its rows
    key: bytes
    columns: list[Column]
    book: Codebook
    profile_keys: list[str]
    versions: dict[int, int]  # survey row id → version number
    with_addresses: bool = False
    labels: str | None = None

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def headers(self) -> list[str]:
        """The header row of a csv or xlsx export: names, or with --labels question texts."""
        return [column.header or column.name for column in self.columns]

    @property
    def codebook(self) -> Codebook:
        """The codebook of every column of this export, metadata included."""
        return self.book.model_copy(update={"columns": self.names})

    def codebook_table(self) -> list[list[str]]:
        return table(self.book, self.names)

    def rows(self, after: int = 0, limit: int | None = None, chunk: int = CHUNK,
             moment: Callable[[datetime | None], Any] | None = None) -> Iterator[list[Any]]:
        """Rows of sessions with id > `after`, by id; at most `limit` of them. Times are ISO
        text in UTC, or what `moment` makes of them."""
        engine = get_engine(self.database_url)
        query = self._chunk_query(engine.dialect.name)
        row = self._row_maker(moment or _iso)
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
        profiles = (cast(SessionRow.profile, Text), cast(Contact.profile, Text)) \
            if self.profile_keys else ()
        return (select(SessionRow.id, SessionRow.uuid, Contact.id, Contact.address,
                       Contact.channel, language, Contact.community, *profiles,
                       SessionRow.round_id, SessionRow.survey_pk, SessionRow.status,
                       SessionRow.started_at, SessionRow.completed_at,
                       cast(_answers_object(dialect), Text))
                .join(Contact, Contact.id == SessionRow.contact_id)
                .where(self.sessions, SessionRow.id > bindparam("after"))
                .order_by(SessionRow.id).limit(bindparam("size")))

    def _row_maker(self, moment: Callable[[datetime | None], Any]) -> Callable[[Any], list[Any]]:
        """The function turning one fetched record into one row, with everything that does not
        change from row to row looked up once: this loop runs once per session."""
        name_of = pseudonymizer(self.key)
        addresses, profile_keys, versions = self.with_addresses, self.profile_keys, self.versions
        lang = self.labels
        plan = [(question.id, question.type == "multi",
                 question.labels_in(lang) if lang else {},
                 [choice.value for choice in question.choices]
                 if question.type == "multi" else [])
                for question in self.book.questions]
        joiner = "; " if lang else " "
        loads = json.loads

        def row(record: Any) -> list[Any]:
            session, uuid, contact, address, channel, language, community = record[:7]
            cells = [session, uuid, name_of(contact), address] if addresses else [
                session, uuid, name_of(contact)]
            cells += (channel, language, community)
            if profile_keys:
                kept, current = record[7:9]
                profile = loads(kept) if kept else None
                if not isinstance(profile, dict):  # a session from before migration 0021
                    profile = loads(current) if current else None
                get = profile.get if isinstance(profile, dict) else {}.get
                cells += [get(name) for name in profile_keys]
            round_id, survey_pk, status, started, completed, answers = record[-6:]
            cells += (round_id, versions.get(survey_pk), status, moment(started),
                      moment(completed) if status == "completed" else None)
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
        return _plan(db, database_url, f"round {round_id}", SessionRow.round_id == round_id,
                     list(rows), key, labels, with_addresses)


def open_survey_export(database_url: str, survey_id: str, key: bytes,
                       labels: str | None = None, with_addresses: bool = False) -> Export:
    """Plan the export of every round of survey `survey_id`, whichever version each session
    answered: one table (`_round` and `_survey_version` tell the rows apart). Sessions outside
    a round (the simulator's) are not in it."""
    engine = get_engine(database_url)
    with Session(engine) as db:
        rows = db.scalars(select(SurveyVersion).where(SurveyVersion.survey_id == survey_id)).all()
        if not rows:
            raise NoSuchSurvey(f"no survey {survey_id!r}")
        sessions = SessionRow.survey_pk.in_([row.id for row in rows]) & \
            SessionRow.round_id.is_not(None)
        return _plan(db, database_url, f"survey {survey_id}", sessions, list(rows), key,
                     labels, with_addresses)


def _plan(db: Session, database_url: str, title: str, sessions: ColumnElement[bool],
          rows: list[SurveyVersion], key: bytes, labels: str | None,
          with_addresses: bool) -> Export:
    """The columns of an export of `sessions`, answering the survey versions `rows`."""
    rows = sorted(rows, key=lambda row: (row.version, row.id), reverse=True)
    surveys = [catalog.survey_of(row) for row in rows]
    profile_keys = _profile_keys(db, sessions, declared_profile_fields(db, surveys))
    book = codebook(surveys)
    if labels is not None and labels not in book.languages:
        raise ExportError(f"no survey of {title} is in language {labels!r} "
                          f"(it has {', '.join(sorted(book.languages))})")
    columns = _metadata(profile_keys, with_addresses) + [
        column for question in book.questions for column in _columns(question, labels)]
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ExportError(f"column name(s) used twice: {', '.join(twice)}")
    return Export(database_url, title, sessions, key, columns, book, profile_keys,
                  {row.id: row.version for row in rows}, with_addresses, labels)


def find_round(db: Session, reference: str) -> Round | None:
    """A round by id ('12') or by code ('water-2024-06')."""
    if reference.isdigit():
        return db.get(Round, int(reference))
    return db.scalars(select(Round).where(Round.code == reference)).first()


def _metadata(profile_keys: list[str], with_addresses: bool) -> list[Column]:
    names = ["_session", "_uuid", "_contact"] + (["_address"] if with_addresses else [])
    columns = [Column(name) for name in names]
    if with_addresses:
        columns[-1] = Column("_address", free_text=True)
    columns += [Column("_channel"), Column("_language"), Column("_community", free_text=True)]
    columns += [Column(f"_profile.{name}", free_text=True) for name in profile_keys]
    columns += [Column(name) for name in
                ("_round", "_survey_version", "_status", "_started_at", "_completed_at")]
    return columns


TIMES = ("_started_at", "_completed_at")


def _columns(question: CodedQuestion, labels: str | None) -> list[Column]:
    """StoredAnswer cells count as free text whatever the type: a question that was `text` in an
    older version keeps its typed answers. Only strings are ever defused, never numbers."""
    names = columns_of(question)
    choices = [None] + [choice.value for choice in question.choices][:len(names) - 1]
    return [Column(name, free_text=choice is None,
                   header=header_of(question, labels, choice) if labels else None)
            for name, choice in zip(names, choices, strict=True)]


def _answers_object(dialect: str) -> Any:
    """A session's answers as one JSON object {question id: value}, built by the database."""
    if dialect == "postgresql":  # json, not jsonb: no key sorting, several times cheaper
        aggregate = func.json_object_agg(StoredAnswer.question_id, StoredAnswer.value, type_=Json)
    else:
        aggregate = func.json_group_object(StoredAnswer.question_id, func.json(StoredAnswer.value),
                                           type_=Json)
    return select(aggregate).where(StoredAnswer.session_id == SessionRow.id).scalar_subquery()


def _profile_keys(db: Session, sessions: ColumnElement[bool], declared: set[str]) -> list[str]:
    """The declared keys the sessions' kept profiles and their contacts' profiles have, sorted:
    one column each."""
    if not declared:
        return []
    contacts = select(SessionRow.contact_id).where(sessions)
    if db.get_bind().dialect.name == "postgresql":
        def keys(profile: Any) -> Any:
            return func.jsonb_object_keys(profile).label("key")

        found = union(
            select(keys(Contact.profile)).where(Contact.id.in_(contacts),
                                                func.jsonb_typeof(Contact.profile) == "object"),
            select(keys(SessionRow.profile)).where(
                sessions, func.jsonb_typeof(SessionRow.profile) == "object"))
    else:
        of_contact = func.json_each(Contact.profile).table_valued("key")
        of_session = func.json_each(SessionRow.profile).table_valued("key")
        found = union(
            select(of_contact.c.key).select_from(Contact).join(of_contact, true())
            .where(Contact.id.in_(contacts), func.json_type(Contact.profile) == "object"),
            select(of_session.c.key).select_from(SessionRow).join(of_session, true())
            .where(sessions, func.json_type(SessionRow.profile) == "object"))
    return sorted(key for key in db.scalars(select(found.subquery().c.key)) if key in declared)


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


def _spreadsheet_rows(export: Export, text_cell: Callable[[str], Any],
                      moment: Callable[[datetime | None], Any] | None = None
                      ) -> Iterator[list[Any]]:
    """Rows with free text made fit for the format by `text_cell`."""
    free = [index for index, column in enumerate(export.columns) if column.free_text]
    for row in export.rows(moment=moment):
        for index in free:
            value = row[index]
            if isinstance(value, str):
                row[index] = text_cell(value)
        yield row


def write_csv(export: Export, handle: IO[str]) -> int:
    """RFC 4180 CSV, row by row, free text defused; returns the number of rows."""
    writer = csv.writer(handle)
    writer.writerow([defuse(header) for header in export.headers])
    count = 0
    for row in _spreadsheet_rows(export, defuse):
        writer.writerow(row)
        count += 1
    return count


def write_codebook_csv(export: Export, handle: IO[str]) -> None:
    """The codebook table (surveys.codebook.table) as CSV, beside a csv export."""
    csv.writer(handle).writerows([defuse(cell) for cell in row]
                                 for row in export.codebook_table())


def write_jsonl(export: Export, handle: IO[str]) -> int:
    """One JSON object per line, keys in column order (names, never --labels' texts: keys must
    be unique), values typed (numbers stay numbers)."""
    count = 0
    for record in export.records():
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_codebook_json(export: Export, handle: IO[str]) -> None:
    """The codebook (surveys.codebook.Codebook, every column of the export) as JSON."""
    handle.write(export.codebook.model_dump_json(indent=1) + "\n")


def write_xlsx(export: Export, handle: IO[bytes] | str) -> int:
    """An .xlsx workbook in XlsxWriter's constant-memory mode (rows go to a temporary file as
    they come; faster than openpyxl's write-only mode, bench/scale.py), then a `codebook`
    sheet. Text is a text cell, never a formula, link or number (so no leading '); times are
    datetimes in UTC; numbers are numbers."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(handle, {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd h:mm:ss"})
    sheet = workbook.add_worksheet(export.title[:31])
    sheet.write_row(0, 0, [_xml_text(header) for header in export.headers])
    count = 0
    for row in _spreadsheet_rows(export, _xml_text, _excel_time):
        count += 1
        if count >= XLSX_MAX_ROWS:
            workbook.close()
            raise ExportError(f"a sheet holds at most {XLSX_MAX_ROWS - 1:,} rows under its "
                              f"header: export this {export.title.split()[0]} as csv or jsonl")
        sheet.write_row(count, 0, row)
    book = workbook.add_worksheet("codebook")
    for number, line in enumerate(export.codebook_table()):
        book.write_row(number, 0, [_xml_text(cell) for cell in line])
    workbook.close()
    return count


def _xml_text(value: str) -> str:
    """The text without the control characters XML cannot hold."""
    return XML_ILLEGAL.sub("", value)


def _excel_time(moment: datetime | None) -> datetime | None:
    """A time as Excel holds it: no time zone (these are UTC), to the second."""
    if moment is None:
        return None
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None, microsecond=0)


WRITERS: dict[str, Callable[[Export, Any], int]] = {  # handle: text, or binary or a path for xlsx
    "csv": write_csv, "jsonl": write_jsonl, "xlsx": write_xlsx}
CODEBOOKS = {"csv": ("codebook.csv", write_codebook_csv),
             "jsonl": ("codebook.json", write_codebook_json)}
"""A csv or jsonl export's codebook file, beside it as <name>.<suffix>; xlsx has a sheet."""
