"""Linked-table suppression with an audit: no hidden figure can be worked out from the others.

A release publishes *figures*, each the number of people in a set of *cells*: the unknown
counts of a model of the round's people (surveys/release.py builds it: every question crossed
with every group, linked through the groups and through skip logic). A reader who knows the
survey and every published figure knows, for the cells, the equations of the shown figures,
the model's own equations (*links*: the same people counted by two questions), that no count
is negative, and what each hidden figure's label says: "fewer than k people" bounds it to
0..k-1. Zeros are hidden too: a label that said 1..k-1 would itself tell that two small cells
add up to at least 2, and "none of the women" tells every woman's answer. Linear programs over
exactly that knowledge (scipy's HiGHS, as statistical offices' tau-Argus and sdcTable do) give
each hidden figure's smallest and largest possible value.

The release passes when every hidden figure can still take at least k values: a figure hidden
for being small, every value from 0 to k-1 (nothing beyond its label); any other, a range at
least k-1 wide. Until then more figures are hidden: for a figure that fails, the shown figure
that pins it (a non-zero dual of its linear program) with the fewest people, inner cells
before margins. Hiding only removes equations, so a figure that passed keeps passing, and only
the failing ones are solved again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog
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
        failing: dict[int, set[int]] = {}
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
            if pinning & chosen_now:  # one hidden now may free both: solve it again first
                continue
            candidates = [found for found in pinning if found not in hidden]
            if not candidates:  # pinned by the model alone: nothing left to hide
                pending.discard(index)
                continue
            chosen = min(candidates, key=lambda found: (  # the one that frees the most
                figures[found].level, -pins[found], figures[found].value, found))
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
    """The linear programs of one release: the equations are built once, a hidden figure
    only drops its row."""

    def __init__(self, model: Model, figures: Sequence[Figure]):
        self.figures = figures
        self.solved = 0
        self.figure_rows = _rows([(figure.cells, ()) for figure in figures], model.unknowns)
        self.link_rows = _rows(model.links, model.unknowns)
        self.at_most_rows = _rows(model.at_most, model.unknowns)
        self.values = np.array([figure.value for figure in figures], dtype=float)
        self._system: tuple[frozenset[tuple[int, str]], Any] | None = None
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

    def system(self, hidden: Mapping[int, str]) -> Any:
        """The reader's equations and bounds while `hidden` is hidden (built once per state:
        every figure of an audit round shares them)."""
        state = frozenset(hidden.items())
        if self._system is None or self._system[0] != state:
            shown = np.array([i for i in range(len(self.figures)) if i not in hidden], dtype=int)
            few = [i for i, reason in hidden.items()
                   if reason == FEW and self.figures[i].label_bounds]
            equations = _stack(self.figure_rows[shown], self.link_rows)
            targets = np.concatenate([self.values[shown], np.zeros(self.link_rows.shape[0])])
            bounds_rows = _stack(self.at_most_rows, self.figure_rows[few])
            bounds_targets = np.concatenate([np.zeros(self.at_most_rows.shape[0]),
                                             [self.figures[i].k - 1 for i in few]])
            self._system = (state, (shown, equations, targets, bounds_rows, bounds_targets))
        return self._system[1]

    def range_of(self, index: int, hidden: Mapping[int, str], reason: str
                 ) -> tuple[float, float, set[int]]:
        """(least, most) the figure can be, as far as needed to tell whether it is protected
        (a range seen in solutions already found is enough), and the shown figures that bind
        an end that had to be solved for."""
        figure = self.figures[index]
        pinning: set[int] = set()
        objective = self.figure_rows[index].toarray().ravel()
        for sign in (1.0, -1.0):
            if _protected(figure, reason, self.lowest[index], self.highest[index]):
                break
            if reason == FEW and figure.label_bounds and (
                    self.lowest[index] <= TOLERANCE if sign > 0
                    else self.highest[index] >= figure.k - 1 - TOLERANCE):
                continue  # this end is already as far as the label allows
            pinning |= self._solve(sign * objective, hidden, unbounded=index)
        return float(self.lowest[index]), float(self.highest[index]), pinning

    def _solve(self, objective: np.ndarray, hidden: Mapping[int, str],
               unbounded: int | None = None) -> set[int]:
        """Minimise `objective`; note the solution; the shown figures that bind it.
        `unbounded`: the figure that grows without end if the program has no minimum."""
        shown, equations, targets, bounds_rows, bounds_targets = self.system(hidden)
        result = linprog(objective, A_eq=equations, b_eq=targets,
                         A_ub=bounds_rows if bounds_rows.shape[0] else None,
                         b_ub=bounds_targets if bounds_rows.shape[0] else None,
                         bounds=(0, None), method="highs")
        self.solved += 1
        if result.status == 3:
            if unbounded is not None:
                self.highest[unbounded] = np.inf
            return set()
        if result.status != 0:
            raise RuntimeError(f"disclosure audit: linear program failed: {result.message}")
        seen = self.figure_rows @ result.x
        np.minimum(self.lowest, seen, out=self.lowest)
        np.maximum(self.highest, seen, out=self.highest)
        duals = result.eqlin.marginals[:len(shown)]
        return {int(shown[i]) for i in np.flatnonzero(np.abs(duals) > TOLERANCE)}


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
    return coo_matrix((data, (rows, columns)), shape=(len(pairs), width)).tocsr()


def _stack(*parts: csr_matrix) -> csr_matrix:
    return vstack(parts, format="csr")
