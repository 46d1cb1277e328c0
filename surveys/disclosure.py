"""Linked-table suppression with an audit: no hidden figure can be worked out from the others.

A release publishes *figures*, each the number of people in a set of *cells*: the unknown
counts of a model of the round's people (surveys/release.py builds it: every question crossed
with every group, linked through the groups and through skip logic). A reader who knows the
survey and every published figure knows, for the cells, the equations of the shown figures,
the model's own equations (*links*: the same people counted by two questions), that no count
is negative, and what each hidden figure's label says: "fewer than k people" bounds it to
0..k-1. Zeros are hidden too: a label that said 1..k-1 would itself tell that two small cells
add up to at least 2, and "none of the women" tells every woman's answer. Linear programs over
exactly that knowledge give each hidden figure's smallest and largest possible value, as
statistical offices' tau-Argus and sdcTable do. They are solved with HiGHS through highspy, one
model kept warm: each program starts from the last one's basis (primal simplex, ~3-40 ms
each where scipy's linprog, which starts afresh every time, took ~130 ms).

The release passes when every hidden figure can still take at least k values: a figure hidden
for being small, every value from 0 to k-1 (nothing beyond its label); any other, a range at
least k-1 wide. Until then more figures are hidden: for a figure that fails, among the shown
figures that pin it (non-zero duals of its linear program), the one whose hiding frees it most
(a ratio test along the final basis), then inner cells before margins, then the fewest people.
Hiding only removes equations, so a figure that passed keeps passing, and only
the failing ones are solved again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix, vstack

FEW = "few"  # fewer than k people: the label says so (k is on the page)
PROTECTS = "protects"  # hidden so that another hidden figure cannot be worked out
SENSITIVE = "sensitive"  # a sensitive question's figure: the label gives no reason away
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Figure:
    """A count that may be published: the people in `cells`, `value` of them."""

    cells: tuple[int, ...]
    value: int
    k: int  # the fewest people it may stand for (higher for sensitive questions)
    label_bounds: bool = True  # False: its label does not tell a hidden figure is small
    level: int = 0  # which to hide first to protect another: inner cells (0), then margins


@dataclass
class Model:
    """The unknowns and what a reader knows of them before any figure is published."""

    unknowns: int = 0
    links: list[tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    at_most: list[tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    def new(self, how_many: int) -> range:
        """`how_many` new unknowns."""
        first = self.unknowns
        self.unknowns += how_many
        return range(first, self.unknowns)

    def link(self, left: Iterable[int], right: Iterable[int]) -> None:
        """Σ left = Σ right: the same people, counted two ways."""
        self.links.append((tuple(left), tuple(right)))

    def bound(self, left: Iterable[int], right: Iterable[int]) -> None:
        """Σ left ≤ Σ right."""
        self.at_most.append((tuple(left), tuple(right)))


@dataclass(frozen=True)
class Audit:
    """What the reader can tell of each hidden figure, and what the audit cost."""

    ranges: dict[int, tuple[float, float]]
    rounds: int
    linear_programs: int
    seconds: float


def protect(model: Model, figures: Sequence[Figure], hidden: Mapping[int, str],
            lines: Sequence[tuple[int, Sequence[int]]] = ()) -> tuple[dict[int, str], Audit]:
    """More hidden figures (index → reason) until the audit passes, and the audit.

    `hidden`: the primary ones with their reasons; `lines`: (margin, members) of each table
    row and column, for the cheap pass that runs before the linear programs.
    """
    began = time.perf_counter()
    hidden = dict(hidden)
    _hide_lone_cells(figures, hidden, lines)
    solver = _Solver(model, figures)
    solver.explore(hidden)
    pending = set(hidden)
    ranges: dict[int, tuple[float, float]] = {}
    rounds = 0
    while pending:
        rounds += 1
        failing: dict[int, dict[int, float]] = {}
        for index in sorted(pending):
            low, high, pinning = solver.range_of(index, hidden, reason=hidden[index])
            ranges[index] = (low, high)
            if not _protected(figures[index], hidden[index], low, high):
                failing[index] = pinning
        pending = set()
        chosen_now: set[int] = set()
        pins = Counter(found for pinning in failing.values() for found in pinning
                       if found not in hidden)
        for index, pinning in failing.items():
            pending.add(index)
            if chosen_now.intersection(pinning):  # one hidden now may free both: solve again
                continue
            candidates = [found for found in pinning if found not in hidden]
            if not candidates:  # pinned by the model alone: nothing left to hide
                pending.discard(index)
                continue
            chosen = min(candidates, key=lambda found: (  # the one that frees the most
                -min(pinning[found], figures[found].k), figures[found].level, -pins[found],
                figures[found].value, found))
            hidden[chosen] = _secondary(figures[chosen])
            chosen_now.add(chosen)
            pending.add(chosen)
    return hidden, Audit(ranges, rounds, solver.solved, time.perf_counter() - began)


def _secondary(figure: Figure) -> str:
    """The label of a figure hidden to protect another: a sensitive one says only that."""
    return PROTECTS if figure.label_bounds else SENSITIVE


def _protected(figure: Figure, reason: str, low: float, high: float) -> bool:
    if reason == FEW and figure.label_bounds:
        return low <= TOLERANCE and high >= figure.k - 1 - TOLERANCE
    return high - low >= figure.k - 1 - TOLERANCE


def _hide_lone_cells(figures: Sequence[Figure], hidden: dict[int, str],
                     lines: Sequence[tuple[int, Sequence[int]]]) -> None:
    """A line with one hidden figure gives it away by subtraction: hide one more, the
    smallest inner figure (else the margin), until no line has exactly one."""
    changed = True
    while changed:
        changed = False
        for margin, members in lines:
            line = [margin, *members]
            if sum(index in hidden for index in line) != 1:
                continue
            shown = [index for index in members if index not in hidden] or [margin]
            chosen = min(shown, key=lambda index: (
                figures[index].level, figures[index].value, index))
            hidden[chosen] = _secondary(figures[chosen])
            changed = True


class _Solver:
    """The linear programs of one release, as one HiGHS model kept warm: every figure is a
    row (shown: fixed to its value; hidden: free, or at most k-1 for a small one), so hiding
    a figure only loosens a row's bounds and each program starts from the last one's basis."""

    def __init__(self, model: Model, figures: Sequence[Figure]):
        self.figures = figures
        self.solved = 0
        self.figure_rows = _rows([(figure.cells, ()) for figure in figures], model.unknowns)
        links = _rows(model.links, model.unknowns)
        at_most = _rows(model.at_most, model.unknowns)
        self.values = np.array([figure.value for figure in figures], dtype=float)
        matrix = _stack(self.figure_rows, links, at_most).tocsc()
        lower = np.concatenate([self.values, np.zeros(links.shape[0]),
                                np.full(at_most.shape[0], -highspy.kHighsInf)])
        upper = np.concatenate([self.values, np.zeros(links.shape[0] + at_most.shape[0])])
        self.columns = np.arange(model.unknowns, dtype=np.int32)
        # changeRowsBounds, getBasicVariables and getBasisSolve are highspy's (1.15) but not
        # in its stubs: each call is `type: ignore[attr-defined]`
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("simplex_strategy", 4)  # primal: a new objective keeps
        # the last basis feasible, so each program starts where the last one ended
        lp = highspy.HighsLp()
        lp.num_col_ = model.unknowns
        lp.num_row_ = matrix.shape[0]
        lp.col_cost_ = np.zeros(model.unknowns)
        lp.col_lower_ = np.zeros(model.unknowns)
        lp.col_upper_ = np.full(model.unknowns, highspy.kHighsInf)
        lp.row_lower_ = lower
        lp.row_upper_ = upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = model.unknowns
        lp.a_matrix_.num_row_ = matrix.shape[0]
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        self.highs.passModel(lp)
        self.row_lower = lower
        self.row_upper = upper
        self.hidden: dict[int, str] = {}
        # the least and most each figure was in any solution found so far: every one stays
        # feasible (hiding only relaxes), so a figure seen spanning enough needs no program
        self.lowest = np.full(len(figures), np.inf)
        self.highest = np.full(len(figures), -np.inf)

    def explore(self, hidden: Mapping[int, str]) -> None:
        """Two solutions to start from: all hidden figures as small, and as large, as they
        can be together; between them most hidden figures are seen at both ends."""
        together = np.asarray(self.figure_rows[sorted(hidden)].sum(axis=0)).ravel()
        for sign in (1.0, -1.0):
            self._solve(sign * together, hidden)

    def _hide(self, hidden: Mapping[int, str]) -> None:
        """Loosen the rows of the figures hidden since the last program."""
        new = [index for index in hidden if index not in self.hidden]
        if not new:
            return
        rows = np.array(new, dtype=np.int32)
        small = [hidden[index] == FEW and self.figures[index].label_bounds for index in new]
        lower = np.where(small, 0.0, -highspy.kHighsInf)
        upper = np.array([self.figures[index].k - 1 if few else highspy.kHighsInf
                          for index, few in zip(new, small, strict=True)], dtype=float)
        self.highs.changeRowsBounds(len(new), rows, lower, upper)  # type: ignore[attr-defined]
        self.row_lower[rows] = lower
        self.row_upper[rows] = upper
        self.hidden.update((index, hidden[index]) for index in new)

    def range_of(self, index: int, hidden: Mapping[int, str], reason: str
                 ) -> tuple[float, float, dict[int, float]]:
        """(least, most) the figure can be, as far as needed to tell whether it is protected
        (a range seen in solutions already found is enough), and the shown figures that bind
        an end that had to be solved for."""
        figure = self.figures[index]
        pinning: dict[int, float] = {}
        objective = self.figure_rows[index].toarray().ravel()
        for sign in (1.0, -1.0):
            if _protected(figure, reason, self.lowest[index], self.highest[index]):
                break
            if reason == FEW and figure.label_bounds and (
                    self.lowest[index] <= TOLERANCE if sign > 0
                    else self.highest[index] >= figure.k - 1 - TOLERANCE):
                continue  # this end is already as far as the label allows
            for found, gain in self._solve(sign * objective, hidden, unbounded=index).items():
                pinning[found] = max(gain, pinning.get(found, 0.0))
        return float(self.lowest[index]), float(self.highest[index]), pinning

    def _solve(self, objective: np.ndarray, hidden: Mapping[int, str],
               unbounded: int | None = None) -> dict[int, float]:
        """Minimise `objective`; note the solution; the shown figures that bind it.
        `unbounded`: the figure that grows without end if the program has no minimum."""
        self._hide(hidden)
        self.highs.changeColsCost(len(self.columns), self.columns, objective)
        self.highs.run()
        self.solved += 1
        status = self.highs.getModelStatus()
        if status in (highspy.HighsModelStatus.kUnbounded,
                      highspy.HighsModelStatus.kUnboundedOrInfeasible):
            if unbounded is not None:
                self.highest[unbounded] = np.inf
            return {}
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError("disclosure audit: linear program failed: "
                               f"{self.highs.modelStatusToString(status)}")
        solution = self.highs.getSolution()
        seen = self.figure_rows @ np.asarray(solution.col_value)
        np.minimum(self.lowest, seen, out=self.lowest)
        np.maximum(self.highest, seen, out=self.highest)
        duals = np.asarray(solution.row_dual)[:len(self.figures)]
        binding = [int(i) for i in np.flatnonzero(np.abs(duals) > TOLERANCE)
                   if int(i) not in self.hidden]
        if unbounded is None or not binding:
            return dict.fromkeys(binding, 0.0)
        return self._gains(binding, objective, solution)

    def _gains(self, binding: list[int], objective: np.ndarray, solution: Any
               ) -> dict[int, float]:
        """How much the objective improves if each binding figure may move, until the basis
        changes (a ratio test along the basis' own direction): what hiding it gains, at
        least. Degenerate programs give 0 for many; ties go to the other criteria."""
        _, basic = self.highs.getBasicVariables()  # type: ignore[attr-defined]
        is_column = basic >= 0
        columns = basic[is_column]
        rows = -basic[~is_column] - 1
        value = np.empty(len(basic))
        lower = np.zeros(len(basic))
        upper = np.full(len(basic), np.inf)
        value[is_column] = np.asarray(solution.col_value)[columns]
        value[~is_column] = np.asarray(solution.row_value)[rows]
        lower[~is_column] = self.row_lower[rows]
        upper[~is_column] = self.row_upper[rows]
        cost = np.zeros(len(basic))
        cost[is_column] = objective[columns]
        gains = {}
        for row in binding:
            unit = np.zeros(len(basic))
            unit[row] = 1.0
            _, direction = self.highs.getBasisSolve(unit)  # type: ignore[attr-defined]
            best = 0.0
            for step in (direction, -direction):
                change = float(cost @ step)
                if change >= -TOLERANCE:
                    continue  # this way the objective does not improve
                falling, rising = step < -TOLERANCE, step > TOLERANCE
                room = np.concatenate([(value - lower)[falling] / -step[falling],
                                       (upper - value)[rising] / step[rising]])
                best = max(best, -change * (float(room.min()) if room.size else np.inf))
            gains[row] = best
        return gains


def _rows(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], width: int) -> csr_matrix:
    """One sparse row per (plus, minus) pair: Σ plus − Σ minus."""
    rows, columns, data = [], [], []
    for row, (plus, minus) in enumerate(pairs):
        for column in plus:
            rows.append(row)
            columns.append(column)
            data.append(1.0)
        for column in minus:
            rows.append(row)
            columns.append(column)
            data.append(-1.0)
    # scipy takes any array_like here; scipy-stubs asks for ndarrays
    return coo_matrix((data, (rows, columns)),  # type: ignore[arg-type]
                      shape=(len(pairs), width)).tocsr()


def _stack(*parts: csr_matrix) -> csr_matrix:
    return vstack(parts, format="csr")
