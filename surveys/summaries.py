"""A round's results, counted in the database and suppressed so nobody can be singled out.

Every count is a GROUP BY in SQL, one pass over the round's answers by question, value and
groups; choice counts, multi-answer elements and each number's frequency are read from that
tally. Python adds the aggregated rows up into each table's margins, works the number
statistics (with the median) out of the frequencies, then :mod:`surveys.suppression` decides
which figures stay hidden.

Groups for disaggregation: the answer to the profile question *in the same session* (the worker
does not copy profile answers onto ``contacts.profile``), else the contact's profile field of
the same name (e.g. imported with the contacts), else :data:`NOT_GIVEN`. A round open to every
community is also broken down by ``contacts.community``.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from sqlalchemy import String, bindparam, exists, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import expression

from surveys import catalog
from surveys.model import Question, Survey
from surveys.suppression import TOTAL, Key, suppress_linked
from surveys.tables import Round, StoredAnswer, SurveySession

NOT_GIVEN = ""  # the group of people with no value for a dimension (choice values are never "")
COMMUNITY = "community"
CHOICE_TYPES = ("choice", "yesno")
MIN_CELL_ENV = "HEARD_SUMMARY_MIN_CELL"


def min_cell() -> int:
    """k: the fewest people a published figure may stand for (HEARD_SUMMARY_MIN_CELL, 5)."""
    return max(1, int(os.environ.get(MIN_CELL_ENV) or 5))


@dataclass(frozen=True)
class NumberStats:
    count: int
    mean: float
    median: float
    min: float | None  # None where it would be fewer than k people's own value
    max: float | None
    at_min: int = 0  # how many gave the smallest value
    at_max: int = 0

    def shareable(self, k: int) -> NumberStats:
        """These statistics without an extreme that fewer than k people share (one's own)."""
        return NumberStats(self.count, self.mean, self.median,
                           self.min if self.at_min >= k else None,
                           self.max if self.at_max >= k else None, self.at_min, self.at_max)


@dataclass(frozen=True)
class Table:
    """One question counted by the groups of one dimension (None: everybody, one TOTAL row)."""

    dimension: str | None
    groups: tuple[str, ...]
    values: tuple[str, ...]
    counts: Mapping[Key, int]
    hidden: frozenset[Key] = frozenset()
    stats: Mapping[str, NumberStats] = field(default_factory=dict)
    why: Mapping[Key, str] = field(default_factory=dict)  # hidden key → reason (a release's)

    def raw(self, group: str = TOTAL, value: str = TOTAL) -> int:
        return self.counts.get((group, value), 0)

    def count(self, group: str = TOTAL, value: str = TOTAL) -> int | None:
        """The count, or None where it must not be published."""
        return None if (group, value) in self.hidden else self.raw(group, value)

    def stat(self, group: str = TOTAL) -> NumberStats | None:
        """Number statistics of a group, or None when its count is hidden (or it has none)."""
        return None if (group, TOTAL) in self.hidden else self.stats.get(group)


@dataclass(frozen=True)
class QuestionSummary:
    question: Question
    overall: Table
    by: dict[str, Table]


@dataclass(frozen=True)
class RoundSummary:
    round_id: int
    community: str | None
    survey: Survey
    k: int
    participants: int
    dimensions: tuple[str, ...]
    questions: dict[str, QuestionSummary]
    # (question, value or None for respondents) → groups (one per dimension) → people
    joint: Mapping[tuple[str, str | None], Mapping[tuple[str, ...], int]] = field(
        default_factory=dict)
    participants_by: Mapping[str, int] = field(default_factory=dict)  # by community

    def shown_participants(self) -> int | None:
        return self.participants if self.participants == 0 or self.participants >= self.k \
            else None


def participating(round_id: int) -> Any:
    """Sessions of the round that answered at least one question or completed the survey."""
    answered = exists().where(StoredAnswer.session_id == SurveySession.id)
    return select(SurveySession).where(
        SurveySession.round_id == round_id,
        (SurveySession.status == "completed") | answered)


def summarise(db: Session, round_id: int, k: int | None = None) -> RoundSummary:
    """Every question of round `round_id` counted overall and by each dimension, suppressed."""
    k = min_cell() if k is None else k
    round_row = db.get(Round, round_id)
    if round_row is None:
        raise LookupError(f"no round {round_id}")
    survey = catalog.survey_of_round(db, round_row)
    dimensions = _dimensions(survey, round_row)
    sql = _Sql(db.get_bind().dialect.name, dimensions)
    answered = [q for q in survey.questions if q.answerable]
    ids = {kind: [q.id for q in answered if q.type in kinds] for kind, kinds in
           (("choice", CHOICE_TYPES), ("multi", ("multi",)), ("number", ("number",)))}
    with sql.tally(db, round_id, [*ids["choice"], *ids["multi"], *ids["number"]]):
        counts = db.execute(sql.counts(), {"choice_ids": ids["choice"]}).all()
        elements = db.execute(sql.elements(), {"multi_ids": ids["multi"]}).all() \
            if ids["multi"] else []
        numbers = db.execute(sql.numbers(), {"number_ids": ids["number"]}).all() \
            if ids["number"] else []
        participants = db.scalar(select(func.count()).select_from(
            participating(round_id).subquery())) or 0
        by_community: dict[str, int] = {}
        if COMMUNITY in dimensions:
            for community, count in db.execute(sql.participants_by(
                    dimensions.index(COMMUNITY), participating(round_id).subquery())):
                by_community[_group(community)] = by_community.get(_group(community), 0) + count
    stats = _number_stats(numbers, dimensions)
    tables = _tables(answered, dimensions, counts, elements, stats, survey)
    questions = {}
    for question in answered:
        linked = tables[question.id]
        hidden = suppress_linked({name or "": table.counts for name, table in linked.items()},
                                 k)
        done = {name: Table(table.dimension, table.groups, table.values, table.counts,
                            hidden[name or ""], table.stats) for name, table in linked.items()}
        questions[question.id] = QuestionSummary(
            question, done.pop(None), {name: done[name] for name in dimensions if name in done})
    return RoundSummary(round_id, round_row.community, survey, k, participants, dimensions,
                        questions, _joint(counts, elements, ids["choice"]), by_community)


def _joint(counts: Iterable[Any], elements: Iterable[Any], choice_ids: list[str]
           ) -> dict[tuple[str, str | None], dict[tuple[str, ...], int]]:
    """People per question, value (None: respondents) and groups of every dimension."""
    joint: dict[tuple[str, str | None], dict[tuple[str, ...], int]] = {}

    def add(key: tuple[str, str | None], groups: tuple[str, ...], count: int) -> None:
        cells = joint.setdefault(key, {})
        cells[groups] = cells.get(groups, 0) + count

    choices = set(choice_ids)
    for question_id, value, *rest in counts:
        *groups, count = rest
        key = tuple(_group(group) for group in groups)
        add((question_id, None), key, count)
        if question_id in choices and value is not None:
            add((question_id, str(value)), key, count)
    for question_id, value, *rest in elements:
        *groups, count = rest
        add((question_id, str(value)), tuple(_group(group) for group in groups), count)
    return joint


def responses_per_day(db: Session, round_id: int) -> list[tuple[str, int]]:
    """(YYYY-MM-DD, people whose first answer came that day, UTC), oldest first."""
    day = ("to_char(first AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
           if db.get_bind().dialect.name == "postgresql" else "substr(first, 1, 10)")
    rows = db.execute(text(
        f"SELECT {day} AS day, count(*) FROM ("
        "  SELECT min(a.answered_at) AS first FROM answers a"
        "  JOIN sessions s ON s.id = a.session_id WHERE s.round_id = :round_id"
        "  GROUP BY a.session_id) AS firsts "
        "GROUP BY 1 ORDER BY 1"), {"round_id": round_id})
    return [(str(row[0]), int(row[1])) for row in rows]


def text_answers(db: Session, round_id: int, limit: int = 200) -> dict[str, list[str]]:
    """The newest free-text answers per text question (for analysts only: never public)."""
    survey = catalog.survey_of_round(db, db.get_one(Round, round_id))
    found: dict[str, list[str]] = {}
    for question in survey.questions:
        if question.type != "text":
            continue
        rows = db.scalars(select(StoredAnswer.raw)
                          .join(SurveySession, SurveySession.id == StoredAnswer.session_id)
                          .where(SurveySession.round_id == round_id,
                                 StoredAnswer.question_id == question.id,
                                 StoredAnswer.skipped.is_(False))
                          .order_by(StoredAnswer.answered_at.desc(), StoredAnswer.id.desc())
                          .limit(limit))
        found[question.id] = [row for row in rows if row]
    return found


def as_dict(summary: RoundSummary, public: bool) -> dict[str, Any]:
    """JSON for the API and the dashboard; `public` leaves hidden figures out (as null)."""

    def figure(table: Table, group: str, value: str) -> int | None:
        return table.count(group, value) if public else table.raw(group, value)

    def stats(table: Table, group: str) -> dict[str, float | None] | None:
        found = table.stat(group) if public else table.stats.get(group)
        return None if found is None else {
            "count": found.count, "mean": found.mean, "median": found.median,
            "min": found.min, "max": found.max}

    def row(table: Table, group: str) -> dict[str, Any]:
        data: dict[str, Any] = {"respondents": figure(table, group, TOTAL)}
        if table.values:
            data["counts"] = {value: figure(table, group, value) for value in table.values}
        if table.stats:
            data["stats"] = stats(table, group)
        if not public:
            data["suppressed"] = sorted(v for g, v in table.hidden if g == group)
        elif table.why:  # a release: why each hidden figure is hidden, as its label says
            data["why"] = {v: why for (g, v), why in table.why.items() if g == group}
        return data

    questions = []
    for item in summary.questions.values():
        question = item.question
        entry: dict[str, Any] = {"id": question.id, "type": question.type,
                                 "text": question.text} | row(item.overall, TOTAL)
        entry["by"] = {name: {group or "not_given": row(table, group) for group in table.groups}
                       for name, table in item.by.items()}
        questions.append(entry)
    return {"round": summary.round_id, "survey": summary.survey.id,
            "version": summary.survey.version, "community": summary.community,
            "min_cell": summary.k, "public": public,
            "participants": summary.shown_participants() if public else summary.participants,
            "dimensions": list(summary.dimensions), "questions": questions}


def _dimensions(survey: Survey, round_row: Round) -> tuple[str, ...]:
    found = [q.id for q in survey.questions if q.profile and q.type in CHOICE_TYPES]
    if round_row.community is None and COMMUNITY not in found:
        found.append(COMMUNITY)
    return tuple(found)


def _group(value: object) -> str:
    return NOT_GIVEN if value is None else str(value)


@dataclass
class _Draft:
    dimension: str | None
    values: list[str]
    counts: dict[Key, int] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)

    def add(self, group: str, value: str | None, count: int) -> None:
        self.groups.add(group)
        for key in {(group, TOTAL), (TOTAL, TOTAL)} if value is None else \
                {(group, value), (TOTAL, value)}:
            self.counts[key] = self.counts.get(key, 0) + count
        if value is not None and value not in self.values:
            self.values.append(value)


def _tables(questions: list[Question], dimensions: tuple[str, ...], counts: Iterable[Any],
            elements: Iterable[Any], stats: Mapping[tuple[str, str | None, str], NumberStats],
            survey: Survey) -> dict[str, dict[str | None, Table]]:
    """Add the aggregated rows up into one table per question and dimension, zeros filled in."""
    drafts = {q.id: {name: _Draft(name, list(q.choice_values()))
                     for name in (None, *dimensions) if name != q.id}  # not gender by gender
              for q in questions}
    for rows, is_value in ((counts, False), (elements, True)):
        for question_id, value, *groups_and_count in rows:
            if question_id not in drafts:
                continue
            *groups, count = groups_and_count
            for name, draft in drafts[question_id].items():
                group = TOTAL if name is None else _group(groups[dimensions.index(name)])
                if value is not None:
                    draft.add(group, str(value), count)
                if not is_value:
                    draft.add(group, None, count)
    tables: dict[str, dict[str | None, Table]] = {}
    for question_id, by_name in drafts.items():
        tables[question_id] = {}
        for name, draft in by_name.items():
            groups = _ordered_groups(survey, name, draft.groups - {TOTAL})
            cells = {(group, value): draft.counts.get((group, value), 0)
                     for group in (TOTAL, *groups) for value in (TOTAL, *draft.values)}
            table_stats = {group: found for (qid, dimension, group), found in stats.items()
                           if qid == question_id and dimension == name}
            tables[question_id][name] = Table(name, groups, tuple(draft.values), cells,
                                              stats=table_stats)
    return tables


def _ordered_groups(survey: Survey, dimension: str | None, groups: set[str]) -> tuple[str, ...]:
    if dimension is None:
        return ()
    order: list[str] = []
    if dimension in survey.question_index:
        order = survey.question(dimension).choice_values()
    known = [group for group in order if group in groups]
    rest = sorted(group for group in groups if group not in order and group != NOT_GIVEN)
    return tuple(known + rest + ([NOT_GIVEN] if NOT_GIVEN in groups else []))


class _Sql:
    """The statements, with the few expressions where PostgreSQL and SQLite differ.

    Two temporary tables: summary_people, each session's groups (one row per session), and
    summary_tally, the round's answers counted by question, value and groups in the only pass
    over the answers table. Choice counts, multi elements and number values are then read from
    the tally, a few thousand rows, instead of from the answers once each.

    Answers are read within the round's range of session ids (its first to its last): on a
    database with years of other rounds, the planner then reads the round's stretch of the
    answers index instead of every answer ever given (bench/growth.py).
    """

    def __init__(self, dialect: str, dimensions: tuple[str, ...]):
        self.postgres = dialect == "postgresql"
        self.dimensions = dimensions
        self.schema = "pg_temp" if self.postgres else "temp"

    @contextmanager
    def tally(self, db: Session, round_id: int, valued_ids: list[str]) -> Iterator[None]:
        """summary_people and summary_tally for the round's sessions, while inside.

        `valued_ids`: the questions counted by value (choice, multi, number); any other answer
        (free text) is counted as a respondent only. On PostgreSQL, meanwhile: no JIT
        compilation (it costs more than these one-pass statements gain), more memory for sorts
        and hashes, a small ANALYZE sample (enough to see how few groups there are), and no
        sorting where hashing will do: within the round's span the planner expects few answers
        and would sort them by JSON value (2.6× slower than hashing at 100,000 answers among
        10,000,000). On an error nothing is undone here: the transaction's rollback undoes it.
        """
        settings = self._tune(db, {"jit": "off", "work_mem": "64MB",
                                   "default_statistics_target": "10", "enable_sort": "off"})
        first, last = db.execute(select(func.min(SurveySession.id), func.max(SurveySession.id))
                                 .where(SurveySession.round_id == round_id)).one()
        span = {"first": first or 0, "last": last or 0}
        self._create(db, "summary_people", *self._people(round_id, span))
        if self.postgres:  # true group counts, so the tally is hashed, not sorted
            db.execute(text(f"ANALYZE {self.schema}.summary_people"))
        self._create(db, "summary_tally", self._tally(), {"valued_ids": valued_ids, **span},
                     ("valued_ids",))
        yield
        for table in ("summary_tally", "summary_people"):
            db.execute(text(f"DROP TABLE {self.schema}.{table}"))
        self._tune(db, settings)

    def counts(self) -> Any:
        """Respondents per question and group; and per choice value for choice questions.

        Rows may repeat a (question, value, groups): values equal as text ("1" and 1) are
        added up by the caller.
        """
        return text(
            f"SELECT question_id, CASE WHEN question_id IN :choice_ids"
            f" THEN {self._text('value')} END{self._groups()}, n"
            f" FROM {self.schema}.summary_tally"  # no value: free text, already not null
            f" WHERE value IS NULL OR {self._type('value')} <> 'null'"
        ).bindparams(_ids("choice_ids"))

    def elements(self) -> Any:
        """How often each value was chosen in multi answers (JSON lists), per group."""
        if self.postgres:
            source = ("CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN"
                      " jsonb_typeof(t.value) = 'array' THEN t.value ELSE '[]'::jsonb END)"
                      " AS e(value)")
        else:
            source = ("JOIN json_each(CASE WHEN json_type(t.value) = 'array'"
                      " THEN t.value ELSE '[]' END) AS e")
        return text(
            f"SELECT t.question_id, e.value{self._groups('t.')}, t.n"
            f" FROM {self.schema}.summary_tally t {source} WHERE t.question_id IN :multi_ids"
        ).bindparams(_ids("multi_ids"))

    def numbers(self) -> Any:
        """Each number question's values with how many gave them, per group."""
        return text(
            f"SELECT question_id{self._groups()}, {self._number('value')}, n"
            f" FROM {self.schema}.summary_tally WHERE question_id IN :number_ids"
            f" AND {self._type('value')} IN ('number', 'integer', 'real')"
        ).bindparams(_ids("number_ids"))

    def participants_by(self, index: int, sessions: Any) -> Any:
        """Participants (of `sessions`) counted by their group in dimension `index`, read
        from summary_people (whose contacts are already looked up)."""
        people = expression.table("summary_people", expression.column("session_id"),
                                  expression.column(f"g{index}"), schema=self.schema)
        group = people.c[f"g{index}"]
        return (select(group, func.count()).join(sessions, sessions.c.id == people.c.session_id)
                .group_by(group))

    def _people(self, round_id: int, span: dict[str, int]) -> tuple[str, dict[str, Any]]:
        """Each session of the round with its group in every dimension: g0, g1, ..."""
        columns: list[str] = []
        joins: list[str] = []
        params: dict[str, Any] = {"round_id": round_id, **span}
        for index, name in enumerate(self.dimensions):
            if name == COMMUNITY:
                columns.append(f"c.community AS g{index}")
                continue
            params[f"d{index}"] = name
            params[f"p{index}"] = name if self.postgres else f'$."{name}"'
            profile = (f"(c.profile ->> :p{index})" if self.postgres
                       else f"CAST(json_extract(c.profile, :p{index}) AS TEXT)")
            columns.append(f"COALESCE({self._text(f'd{index}.value')}, {profile}) AS g{index}")
            joins.append(f"LEFT JOIN answers d{index} ON d{index}.session_id = s.id"
                         f" AND d{index}.question_id = :d{index} AND NOT d{index}.skipped"
                         f" AND d{index}.session_id BETWEEN :first AND :last")
        # each session's contact looked up by id (OFFSET 0 keeps PostgreSQL from making it a
        # hash join that reads every contact: the cost stays the round's, not the table's)
        contact = ("JOIN LATERAL (SELECT community, profile FROM contacts WHERE id = s.contact_id"
                   " OFFSET 0) AS c ON true" if self.postgres
                   else "JOIN contacts c ON c.id = s.contact_id")
        return ("SELECT s.id AS session_id" + "".join(f", {column}" for column in columns)
                + f" FROM sessions s {contact} "
                + " ".join(joins) + " WHERE s.round_id = :round_id"), params

    def _tally(self) -> str:
        """The one pass: answers counted by question, value (valued questions only), groups.

        Skipped answers and those with no value (SQL or JSON null) count nowhere; a free-text
        answer's value is left out so its rows stay one per group.
        """
        return ("SELECT a.question_id, CASE WHEN a.question_id IN :valued_ids THEN a.value END"
                f" AS value{self._groups('p.')}, count(*) AS n FROM {self.schema}.summary_people p"
                " JOIN answers a ON a.session_id = p.session_id"
                " WHERE a.session_id BETWEEN :first AND :last"
                " AND NOT a.skipped AND a.value IS NOT NULL AND (a.question_id IN :valued_ids"
                f" OR {self._type('a.value')} <> 'null') GROUP BY 1, 2"
                + "".join(f", {index + 3}" for index in range(len(self.dimensions))))

    def _create(self, db: Session, table: str, select_sql: str, params: dict[str, Any],
                lists: tuple[str, ...] = ()) -> None:
        """A temporary table from a SELECT; `lists`: the parameters that are lists (IN)."""
        db.execute(text(f"DROP TABLE IF EXISTS {self.schema}.{table}"))
        db.execute(text(f"CREATE TEMPORARY TABLE {table} AS {select_sql}").bindparams(
            *(_ids(name) for name in lists)), params)

    def _tune(self, db: Session, settings: Mapping[str, str]) -> dict[str, str]:
        """Set PostgreSQL settings for this transaction; returns the values they replace."""
        replaced: dict[str, str] = {}
        for name, value in settings.items() if self.postgres else ():
            replaced[name] = db.scalar(text("SELECT current_setting(:name)"), {"name": name})
            db.execute(text("SELECT set_config(:name, :value, true)"),
                       {"name": name, "value": value})
        return replaced

    def _groups(self, alias: str = "") -> str:
        """", g0, g1, ...": the group columns of both temporary tables."""
        return "".join(f", {alias}g{index}" for index in range(len(self.dimensions)))

    def _text(self, column: str) -> str:
        """A JSON scalar as text ('"tap"' → tap)."""
        if self.postgres:
            return f"({column} #>> '{{}}')"
        return f"CAST(json_extract({column}, '$') AS TEXT)"

    def _number(self, column: str) -> str:
        if self.postgres:
            return f"({column} #>> '{{}}')::float8"
        return f"CAST(json_extract({column}, '$') AS REAL)"

    def _type(self, column: str) -> str:
        return f"jsonb_typeof({column})" if self.postgres else f"json_type({column})"


def _number_stats(rows: Iterable[Any], dimensions: tuple[str, ...]
                  ) -> dict[tuple[str, str | None, str], NumberStats]:
    """count, mean, median, min, max per number question, overall and per group of each
    dimension, from (question, groups..., value, how many) rows: (question, dimension or None,
    group or TOTAL) → stats."""
    frequencies: dict[tuple[str, str | None, str], Counter[float]] = {}
    for question_id, *groups, value, count in rows:
        for index, dimension in enumerate((None, *dimensions)):
            group = TOTAL if dimension is None else _group(groups[index - 1])
            frequencies.setdefault((question_id, dimension, group), Counter())[value] += count
    return {key: _stats(found) for key, found in frequencies.items()}


def _stats(frequencies: Mapping[float, int]) -> NumberStats:
    """Statistics of values given with how often each occurs; the median as PostgreSQL's
    percentile_cont(0.5): the middle value, or between the middle two."""
    values = sorted(frequencies)
    running = list(accumulate(frequencies[value] for value in values))
    count = running[-1]
    middle = (count - 1) / 2
    low, high = (values[bisect_right(running, math.floor(middle))],
                 values[bisect_right(running, math.ceil(middle))])
    mean = math.fsum(value * frequencies[value] for value in values) / count
    return NumberStats(count, mean, low + (high - low) * (middle - math.floor(middle)),
                       values[0], values[-1], frequencies[values[0]], frequencies[values[-1]])


def _ids(name: str) -> Any:
    """A list of question ids for `IN :name`, typed: an empty list is then `IN (NULL::VARCHAR)`
    (no rows), not an integer NULL that PostgreSQL refuses to compare with text."""
    return bindparam(name, expanding=True, type_=String())
