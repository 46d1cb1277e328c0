"""A round's one release: every figure any outlet publishes, suppressed jointly, audited, stored.

The public page, the results messages and their charts, and the summary API for non-admins all
render the stored release of their round and nothing else, so what one outlet shows no other
contradicts or completes. A round open to several communities has a *scope* per community
beside the round's own; all scopes are one release, audited together.

The model the audit reasons over (surveys/disclosure.py) is the one a careful reader of the
survey has: the people, by their group in every dimension (profile questions, community);
each question's answer (a category, or none) per group, its skip logic's parent answers
included, so that "asked only when the source is not a tap" is an equation too; each
multi-choice option chosen by at most the question's respondents; the days people started
on. Every published count is a sum of those unknowns.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.conditions import ConditionError
from surveys.disclosure import FEW, SENSITIVE, Audit, Figure, Model, protect
from surveys.model import Question, Survey
from surveys.summaries import (
    CHOICE_TYPES,
    COMMUNITY,
    NOT_GIVEN,
    NumberStats,
    QuestionSummary,
    RoundSummary,
    Table,
    responses_per_day,
    summarise,
)
from surveys.suppression import TOTAL, Key
from surveys.tables import Release, Round, utcnow

ROUND = ""  # the scope of the whole round (others are named by their community)
ANSWERED = "answered"
SENSITIVE_MIN_CELL_ENV = "HEARD_SENSITIVE_MIN_CELL"


def sensitive_min_cell(k: int) -> int:
    """The fewest people a sensitive question's figure may stand for (default 2k, at least k)."""
    configured = os.environ.get(SENSITIVE_MIN_CELL_ENV)
    try:
        return max(k, int(configured) if configured else 2 * k)
    except ValueError:
        raise ValueError(f"{SENSITIVE_MIN_CELL_ENV}={configured!r}: expected a whole number "
                         f"of people, e.g. 10") from None


def has_release(db: Session, round_id: int) -> bool:
    """Whether the round's one release was cut (published or shared rounds of old may have one
    while open)."""
    return db.scalar(select(Release.id).where(Release.round_id == round_id)) is not None


RELEASE_COLUMNS = ["community", "question", "by", "group", "answer", "people", "hidden"]


def release_rows(release: Release, survey: Survey) -> Iterator[list[str]]:
    """The release as a table (RELEASE_COLUMNS), its stored figures as the public page shows
    them: a hidden one empty with its reason, sensitive questions left out. "community" is
    empty for the whole round; "by", "group" and "answer" are empty for totals."""
    sensitive = {question.id for question in survey.questions if question.sensitive}
    for scope, data in release.figures["scopes"].items():
        for question_id, entry in data["questions"].items():
            if question_id in sensitive:
                continue
            for dimension, table in entry["tables"].items():
                for group, value, count, why in table["cells"]:
                    yield [scope, question_id, dimension,
                           "" if group == TOTAL else str(group),
                           "" if value == TOTAL else str(value),
                           "" if count is None else str(count), why or ""]


class NotYetReleased(Exception):
    """The round is still open: its one release is cut when it closes (a cut made earlier
    would leave out every later answer, and two cuts apart could be told apart)."""


def release_of(db: Session, round_id: int, k: int | None = None) -> Release:
    """The round's release: the stored one, else cut now if the round is closed (once: it is
    never recomputed); NotYetReleased while it is open."""
    found = db.scalars(select(Release).where(Release.round_id == round_id)).first()
    if found is not None:
        return found
    round_ = db.get(Round, round_id)
    if round_ is None:
        raise LookupError(f"no round {round_id}")
    if round_.status != "closed":
        raise NotYetReleased(f"round {round_id} is {round_.status}: its results are "
                             f"released when it closes")
    figures, audit = cut(summarise(db, round_id, k), responses_per_day(db, round_id))
    release = Release(round_id=round_id, k=figures["k"], figures=figures, audit=audit,
                      created_at=utcnow())
    db.add(release)
    db.flush()
    return release


def publish(db: Session, round_id: int) -> str:
    """Make the round's results public: cut its release if needed; the public path."""
    round_ = db.get(Round, round_id)
    if round_ is None:
        raise LookupError(f"no round {round_id}")
    release_of(db, round_id)
    if round_.public_token is None:
        round_.public_token = secrets.token_urlsafe(24)
        round_.published_at = utcnow()
    return f"/results/{round_.public_token}"


def unpublish(db: Session, round_id: int) -> bool:
    """Withdraw the public page (its address stops working for good); False if it was private."""
    round_ = db.get(Round, round_id)
    if round_ is None:
        raise LookupError(f"no round {round_id}")
    was_public = round_.public_token is not None
    round_.public_token = None
    round_.published_at = None
    return was_public


def public_path(round_: Round) -> str | None:
    """Where the round's public page is, or None while it is private."""
    return None if round_.public_token is None else f"/results/{round_.public_token}"


def scope_for(release: Release, community: str | None) -> str:
    """A person's scope: their community's when it has a release big enough, else the round."""
    scopes = release.figures["scopes"]
    if community and community in scopes and scopes[community]["participants"] is not None:
        return community
    return ROUND


def published(release: Release, survey: Survey, scope: str = ROUND) -> RoundSummary:
    """One scope of a release as the summaries the outlets render: hidden figures as 0 and
    marked hidden, their reasons kept; nothing else was stored, nothing else can leak."""
    figures = release.figures
    data = figures["scopes"][scope]
    questions = {}
    dimensions = tuple(name for name in figures["dimensions"]
                       if scope == ROUND or name != COMMUNITY)
    for question in survey.questions:  # in survey order: JSONB keeps no order of keys
        stored = data["questions"].get(question.id)
        if stored is None:
            continue
        tables = stored["tables"]
        questions[question.id] = QuestionSummary(
            question, _table(None, tables[ROUND]),
            {name: _table(name, tables[name]) for name in dimensions if name in tables})
    return RoundSummary(release.round_id, figures["community"] if scope == ROUND else scope,
                        survey, figures["k"], data["participants"] or 0, dimensions, questions)


def cut(summary: RoundSummary, starts: Sequence[tuple[str, int]]
        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The release's figures (hidden ones as None, with their reason) and its audit."""
    layout = _Layout(summary)
    built = layout.build(starts)
    hidden, audit = protect(layout.model, built.figures, built.primary, built.lines)
    return built.stored(summary, hidden), _audit_record(audit, built, hidden)


@dataclass
class _Built:
    """The release before suppression: figures, their places, their lines."""

    figures: list[Figure] = field(default_factory=list)
    index: dict[tuple[int, ...], int] = field(default_factory=dict)
    places: dict[tuple[str, str, str, str, str], int] = field(default_factory=dict)
    primary: dict[int, str] = field(default_factory=dict)
    lines: list[tuple[int, list[int]]] = field(default_factory=list)
    tables: dict[tuple[str, str, str], tuple[tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict)
    participants: dict[str, int] = field(default_factory=dict)
    unknowns: int = 0
    day_figures: list[tuple[str, int]] = field(default_factory=list)

    def figure(self, cells: Sequence[int], value: int, k: int, sensitive: bool,
               level: int) -> int:
        """The index of the figure that counts `cells` (one figure however many tables show
        it); `level`: 0 an inner cell, 1 a margin, 2 a table's total, 3 the participants."""
        key = tuple(sorted(cells))
        if key in self.index:
            found = self.index[key]
            old = self.figures[found]
            self.figures[found] = Figure(key, value, max(k, old.k),
                                         old.label_bounds and not sensitive, max(level, old.level))
            return found
        self.index[key] = len(self.figures)
        self.figures.append(Figure(key, value, k, not sensitive, level))
        if value < k:  # zeros too: see surveys/disclosure.py
            self.primary[len(self.figures) - 1] = SENSITIVE if sensitive else FEW
        return len(self.figures) - 1

    def stored(self, summary: RoundSummary, hidden: Mapping[int, str]) -> dict[str, Any]:
        def shown(index: int) -> tuple[int | None, str | None]:
            if index in hidden:
                return None, hidden[index]
            return self.figures[index].value, None

        scopes: dict[str, Any] = {}
        for scope, participants_index in self.participants.items():
            count, why = shown(participants_index)
            scopes[scope] = {"participants": count, "participants_why": why, "questions": {}}
        for (scope, question_id, dimension), (groups, values) in self.tables.items():
            cells = []
            for group in (TOTAL, *groups):
                for value in (TOTAL, *values):
                    count, why = shown(self.places[(scope, question_id, dimension, group, value)])
                    cells.append([group, value, count, why])
            entry = scopes[scope]["questions"].setdefault(question_id, {"tables": {}})
            entry["tables"][dimension] = {"groups": list(groups), "values": list(values),
                                          "cells": cells}
            if scope == ROUND:
                entry["tables"][dimension]["stats"] = self._stats(
                    summary, question_id, dimension, cells)
        return {"k": summary.k, "community": summary.community,
                "dimensions": list(summary.dimensions), "scopes": scopes,
                "days": [{"day": day, "count": shown(index)[0], "why": shown(index)[1]}
                         for day, index in self.day_figures]}

    def _stats(self, summary: RoundSummary, question_id: str, dimension: str,
               cells: list[list[Any]]) -> dict[str, Any]:
        """Number statistics of each shown group, without a lone person's extreme."""
        item = summary.questions[question_id]
        table = item.overall if dimension == ROUND else item.by.get(dimension)
        if table is None or not table.stats:
            return {}
        shown_groups = {group for group, value, count, _ in cells
                        if value == TOTAL and count is not None}
        k = self.figures[self.places[(ROUND, question_id, dimension, TOTAL, TOTAL)]].k
        return {group: _stats_json(stats.shareable(k)) for group, stats in table.stats.items()
                if group in shown_groups}


class _Layout:
    """The unknowns of one round's model, and the figures of its release as sums of them."""

    def __init__(self, summary: RoundSummary):
        self.summary = summary
        self.survey = summary.survey
        self.model = Model()
        self.k = summary.k
        self.k_sensitive = sensitive_min_cell(summary.k)
        self.sensitive = {question.id for question in self.survey.questions if question.sensitive}
        self.dimensions = summary.dimensions
        self.joint = summary.joint
        self.groups = [self._groups_of(name) for name in self.dimensions]
        self.communities = [group for group in self._community_groups() if group != NOT_GIVEN]
        self.published = self._tables_worth_publishing()
        self._keep_only({dimension for _, _, dimension, _ in self.published} | {COMMUNITY})
        self.people = list(product(*self.groups))
        self.everyone = dict(zip(self.people, self.model.new(len(self.people)), strict=True))
        self.blocks: dict[str, dict[tuple[str | None, tuple, tuple], int]] = {}
        self.categories: dict[str, list[str | None]] = {}
        self.elements: dict[str, dict[str, dict[tuple[tuple, tuple], int]]] = {}
        self.answers: dict[str, dict[tuple[str | None, tuple], list[int]]] = {}
        for question in self.survey.questions:
            if question.id in summary.questions:
                self._question(question)

    def build(self, starts: Sequence[tuple[str, int]]) -> _Built:
        built = _Built()
        for scope in (ROUND, *self.communities):
            only = self._only(scope)
            cells = [cell for people, cell in self.everyone.items()
                     if only is None or people[only[0]] == only[1]]
            built.participants[scope] = built.figure(cells, self._participants(only), self.k,
                                                     False, 3)
        for scope, question_id, dimension, groups in self.published:
            self._table(built, scope, question_id, dimension, groups)
        if self.communities:
            built.lines.append((built.participants[ROUND],
                                [index for scope, index in built.participants.items()
                                 if scope != ROUND]))
        self._days(built, starts)
        built.unknowns = self.model.unknowns
        return built

    def _community_groups(self) -> list[str]:
        if COMMUNITY not in self.dimensions:
            return []
        return self.groups[self.dimensions.index(COMMUNITY)]

    def _only(self, scope: str) -> tuple[int, str] | None:
        """A community scope as (position of the community dimension, community)."""
        return None if scope == ROUND else (self.dimensions.index(COMMUNITY), scope)

    def _tables_worth_publishing(self) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
        """(scope, question, dimension or None, groups) of every table the release shows."""
        found: list[tuple[str, str, str | None, tuple[str, ...]]] = []
        for scope in (ROUND, *self.communities):
            for question in self.survey.questions:
                item = self.summary.questions.get(question.id)
                if item is None:
                    continue
                found.append((scope, question.id, None, ()))
                for dimension in item.by:
                    if scope != ROUND and dimension == COMMUNITY:
                        continue
                    position = self.dimensions.index(dimension)  # groups with anybody in
                    groups = tuple(group for group in self.groups[position]
                                   if self._has(question.id, position, group))
                    if self._worth_publishing(question.id, dimension, position, groups,
                                              len(item.overall.values), self._only(scope)):
                        found.append((scope, question.id, dimension, groups))
        return found

    def _keep_only(self, dimensions: set[str | None]) -> None:
        """Model people by the dimensions some published table uses, and no others (each
        one more multiplies the unknowns)."""
        kept = [position for position, name in enumerate(self.dimensions) if name in dimensions]
        if len(kept) == len(self.dimensions):
            return
        joint: dict[tuple[str, str | None], dict[tuple[str, ...], int]] = {}
        for key, cells in self.joint.items():
            projected = joint.setdefault(key, {})
            for groups, count in cells.items():
                groups = tuple(groups[position] for position in kept)
                projected[groups] = projected.get(groups, 0) + count
        self.joint = joint
        self.groups = [self.groups[position] for position in kept]
        self.dimensions = tuple(self.dimensions[position] for position in kept)

    def _groups_of(self, dimension: str) -> list[str]:
        seen = {groups[self.dimensions.index(dimension)]
                for cells in self.joint.values() for groups in cells}
        if dimension in self.survey.question_index:
            order = [*self.survey.question(dimension).choice_values(), NOT_GIVEN]
            return order + sorted(seen - set(order))
        return sorted(seen - {NOT_GIVEN}) + ([NOT_GIVEN] if NOT_GIVEN in seen else [])

    def _question(self, question: Question) -> None:
        """The question's block: people by answer, parent answers and groups, linked.

        A combination the survey rules out (skip logic, a profile answer that is not the
        person's group) gets no unknown: it is 0, and the reader knows it.
        """
        if question.type in CHOICE_TYPES:
            extra = sorted({value for (qid, value) in self.joint
                            if qid == question.id and value is not None}
                           - set(question.choice_values()))
            categories: list[str | None] = [*question.choice_values(), *extra, None]
        else:
            categories = [ANSWERED, None]
        parents = self._enumerable_parents(question)
        classes = self._parent_classes(question, parents)
        parent_values = list(product(*(dict.fromkeys(found.values()) for found in classes)))
        keys = [(category, values, people)
                for category, values, people in product(categories, parent_values, self.people)
                if category is None or self._may_answer(question, parents, values, category,
                                                        people)]
        block = dict(zip(keys, self.model.new(len(keys)), strict=True))
        self.blocks[question.id] = block
        self.categories[question.id] = categories
        by_people: dict[tuple, list[int]] = {}
        by_parent: dict[tuple[int, str | None, tuple], list[int]] = {}
        answers = self.answers[question.id] = {}
        for (category, values, people), cell in block.items():
            by_people.setdefault(people, []).append(cell)
            answers.setdefault((category, people), []).append(cell)
            for position, value in enumerate(values):
                by_parent.setdefault((position, value, people), []).append(cell)
        for people, everyone in self.everyone.items():
            self.model.link(by_people.get(people, []), [everyone])
        for position, parent in enumerate(parents):
            own: dict[tuple[Any, tuple], list[int]] = {}
            for (category, _, people), cell in self.blocks[parent].items():
                own.setdefault((classes[position][category], people), []).append(cell)
            for label in dict.fromkeys(classes[position].values()):
                for people in self.people:
                    self.model.link(by_parent.get((position, label, people), []),
                                    own.get((label, people), []))
        if question.type == "multi":
            self._elements(question, block, parent_values)

    def _elements(self, question: Question, block: Mapping[tuple, int],
                  parent_values: list[tuple]) -> None:
        """Each option chosen by at most the question's respondents of the same cell."""
        elements: dict[str, dict[tuple[tuple, tuple], int]] = {}
        keys = [(values, people) for values, people in product(parent_values, self.people)
                if (ANSWERED, values, people) in block]
        for value in question.choice_values():
            elements[value] = dict(zip(keys, self.model.new(len(keys)), strict=True))
        for key in keys:
            answered = block[(ANSWERED, *key)]
            for cells in elements.values():
                self.model.bound([cells[key]], [answered])
        self.elements[question.id] = elements

    def _enumerable_parents(self, question: Question) -> list[str]:
        """The earlier choice questions its `when` names, if it names nothing else."""
        condition = question.condition
        if condition is None:
            return []
        names = sorted(condition.names)
        if all(name in self.blocks and self.survey.question(name).type in CHOICE_TYPES
               for name in names):
            return names
        return []

    def _parent_classes(self, question: Question, parents: list[str]
                        ) -> list[dict[str | None, Any]]:
        """Per parent, the class each of its answers falls in: with one parent only whether
        the question is asked matters (fewer unknowns, the same knowledge); with several,
        each answer is its own class."""
        if len(parents) == 1:
            return [{category: self._asks(question, {parents[0]: category})
                     for category in self.categories[parents[0]]}]
        return [{category: category for category in self.categories[parent]}
                for parent in parents]

    def _asks(self, question: Question, answers: Mapping[str, Any]) -> bool:
        """Whether the survey asks `question` after these answers (unsure: it may)."""
        if question.condition is None:
            return True
        try:
            return question.condition.evaluate(answers)
        except (ConditionError, TypeError):
            return True

    def _may_answer(self, question: Question, parents: list[str], values: tuple,
                    category: str, people: tuple) -> bool:
        """False where the survey itself rules an answer out: skip logic, or a profile
        answer that is not the person's group."""
        if question.id in self.dimensions and \
                people[self.dimensions.index(question.id)] != category:
            return False
        if not parents:
            return True
        if len(parents) == 1:  # the class is whether it is asked
            return bool(values[0])
        return self._asks(question, dict(zip(parents, values, strict=True)))

    def _table(self, built: _Built, scope: str, question_id: str, dimension: str | None,
               groups: tuple[str, ...]) -> None:
        """One table's figures (its cells and margins), where the other tables and the
        model can find them, and its rows and columns as lines."""
        values = tuple(self.summary.questions[question_id].overall.values)
        only = self._only(scope)
        position = None if dimension is None else self.dimensions.index(dimension)
        sensitive = question_id in self.sensitive or dimension in self.sensitive
        k = self.k_sensitive if sensitive else self.k
        name = dimension or ROUND
        built.tables[(scope, question_id, name)] = (groups, values)
        index: dict[tuple[str, str], int] = {}
        for group in (TOTAL, *groups):
            for value in (TOTAL, *values):
                cells = self._cells(question_id, value, position, group, only)
                level = (group == TOTAL) + (value == TOTAL)
                figure = built.figure(cells, self._count(question_id, value, position,
                                                         group, only), k, sensitive, level)
                built.places[(scope, question_id, name, group, value)] = figure
                index[(group, value)] = figure
        if sensitive:  # "all of a group answered x" tells each member's answer
            for group in (TOTAL, *groups):
                margin = built.figures[index[(group, TOTAL)]].value
                for value in values:
                    if margin and built.figures[index[(group, value)]].value == margin:
                        built.primary[index[(group, value)]] = SENSITIVE
        self._lines(built, index, groups, values, additive_rows=self._additive(question_id))

    def _worth_publishing(self, question_id: str, dimension: str, position: int,
                          groups: tuple[str, ...], values: int,
                          only: tuple[int, str] | None) -> bool:
        """A table by groups is published only where every group has 2k people per answer
        option: in a sparser one, half the cells are small and hidden, and protecting them
        through the tables linked to it costs the others many more (and the audit minutes)."""
        sensitive = question_id in self.sensitive or dimension in self.sensitive
        k = self.k_sensitive if sensitive else self.k
        return all(self._count(question_id, TOTAL, position, group, only)
                   >= 2 * k * max(1, values)
                   for group in groups)

    def _additive(self, question_id: str) -> bool:
        return self.survey.question(question_id).type in CHOICE_TYPES

    @staticmethod
    def _lines(built: _Built, index: Mapping[tuple[str, str], int], groups: tuple[str, ...],
               values: tuple[str, ...], additive_rows: bool) -> None:
        if groups:
            for value in (TOTAL, *values):
                built.lines.append((index[(TOTAL, value)],
                                    [index[(group, value)] for group in groups]))
        if additive_rows and values:
            for group in (TOTAL, *groups):
                built.lines.append((index[(group, TOTAL)],
                                    [index[(group, value)] for value in values]))

    def _has(self, question_id: str, position: int, group: str) -> bool:
        return any(groups[position] == group
                   for groups in self.joint.get((question_id, None), {}))

    def _selected(self, people: tuple, position: int | None, group: str,
                  only: tuple[int, str] | None) -> bool:
        if only is not None and people[only[0]] != only[1]:
            return False
        return position is None or group == TOTAL or people[position] == group

    def _cells(self, question_id: str, value: str, position: int | None, group: str,
               only: tuple[int, str] | None) -> list[int]:
        people = [p for p in self.people if self._selected(p, position, group, only)]
        if value != TOTAL and question_id in self.elements:
            selected = set(people)
            return [cell for (_, p), cell in self.elements[question_id][value].items()
                    if p in selected]
        answers = self.answers[question_id]
        categories = [c for c in self.categories[question_id] if c is not None] \
            if value == TOTAL else [value]
        return [cell for p in people for c in categories for cell in answers.get((c, p), ())]

    def _count(self, question_id: str, value: str, position: int | None, group: str,
               only: tuple[int, str] | None) -> int:
        cells = self.joint.get((question_id, None if value == TOTAL else value), {})
        return sum(count for groups, count in cells.items()
                   if self._selected(groups, position, group, only))

    def _participants(self, only: tuple[int, str] | None) -> int:
        if only is None:
            return self.summary.participants
        return self.summary.participants_by.get(only[1], 0)

    def _days(self, built: _Built, starts: Sequence[tuple[str, int]]) -> None:
        cells = self.model.new(len(starts))
        self.model.link(cells, self.everyone.values())
        for (day, count), cell in zip(starts, cells, strict=True):
            built.day_figures.append((day, built.figure([cell], count, self.k, False, 0)))
        if starts:
            built.lines.append((built.participants[ROUND],
                                [index for _, index in built.day_figures]))


def _table(dimension: str | None, stored: Mapping[str, Any]) -> Table:
    counts: dict[Key, int] = {}
    hidden: set[Key] = set()
    why: dict[Key, str] = {}
    for group, value, count, reason in stored["cells"]:
        counts[(group, value)] = 0 if count is None else count
        if count is None:
            hidden.add((group, value))
            why[(group, value)] = reason
    stats = {group: NumberStats(**found) for group, found in stored.get("stats", {}).items()}
    return Table(dimension, tuple(stored["groups"]), tuple(stored["values"]), counts,
                 frozenset(hidden), stats, why)


def _stats_json(stats: NumberStats) -> dict[str, Any]:
    return {"count": stats.count, "mean": stats.mean, "median": stats.median,
            "min": stats.min, "max": stats.max}


def _audit_record(audit: Audit, built: _Built, hidden: Mapping[int, str]) -> dict[str, Any]:
    """What the audit found: each hidden figure's range, how it was reached, what it cost."""
    widths = [high - low for low, high in audit.ranges.values()]

    def finite(value: float) -> float | None:  # JSON has no infinity: null is "unbounded"
        return None if value == float("inf") else value

    reasons: dict[str, int] = {}
    for reason in hidden.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    return {"figures": len(built.figures), "hidden": len(hidden), "reasons": reasons,
            "unknowns": built.unknowns, "rounds": audit.rounds,
            "linear_programs": audit.linear_programs,
            "seconds": round(audit.seconds, 4),
            "narrowest_range": finite(min(widths, default=float("inf"))),
            "ranges": {str(index): [low, finite(high), hidden[index]]
                       for index, (low, high) in audit.ranges.items()}}

