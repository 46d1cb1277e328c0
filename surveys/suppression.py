"""Small-cell suppression: no published count may single anybody out.

A table maps (row, column) → count and carries its margins under ``TOTAL``: ``(row, TOTAL)`` is
a row's total, ``(TOTAL, column)`` a column's, ``(TOTAL, TOTAL)`` the grand total. A *line* is
one row or one column together with its margin.

1. Primary suppression hides every count from 1 to k-1 (a 0 identifies nobody and stays shown).
   A margin below k hides its whole line, zeros included: "0 of the 3 women" says what the
   other women answered.
2. Secondary suppression: a line with exactly one hidden cell gives that cell away by
   subtraction from the margin, so the smallest other cell of the line (an inner, non-zero one
   if there is one) is hidden too, over and over until every line has none or at least two.

This stops subtraction within a line, the attack a reader can do with a pencil; it is not a
linear-programming-proof audit across many published tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

TOTAL = "*"
Key = tuple[str, str]


def suppress(counts: Mapping[Key, int], k: int, hidden: Iterable[Key] = ()) -> frozenset[Key]:
    """The keys of `counts` that must not be published (`hidden`: already hidden elsewhere)."""
    lines = _lines(counts)
    small = {key for key, count in counts.items() if 0 < count < k}
    if (TOTAL, TOTAL) in small:
        return frozenset(counts)
    secret = small | {key for key in hidden if key in counts}
    for margin, line in lines:
        if margin in small:
            secret.update(line)
    changed = True
    while changed:
        changed = False
        for margin, line in lines:
            if sum(key in secret for key in line) != 1:
                continue
            shown = [key for key in line if key not in secret]
            if shown:
                secret.add(min(shown, key=lambda key: _cost(key, margin, counts)))
                changed = True
    return frozenset(secret)


def suppress_linked(tables: Mapping[str, Mapping[Key, int]], k: int
                    ) -> dict[str, frozenset[Key]]:
    """Suppress tables that share their TOTAL row (one question by several dimensions).

    A margin hidden in one table is hidden in all of them, or the others would publish it.
    """
    shared: set[Key] = set()
    while True:
        hidden = {name: suppress(table, k, shared) for name, table in tables.items()}
        total_row = {key for keys in hidden.values() for key in keys if key[0] == TOTAL}
        if total_row <= shared:
            return hidden
        shared |= total_row


def _lines(counts: Mapping[Key, int]) -> list[tuple[Key, list[Key]]]:
    """Every row and column (each with its margin first) that has a margin in `counts`."""
    rows: dict[str, list[Key]] = {}
    columns: dict[str, list[Key]] = {}
    for key in counts:
        rows.setdefault(key[0], []).append(key)
        columns.setdefault(key[1], []).append(key)
    lines = []
    for name, keys in rows.items():
        if (name, TOTAL) in counts and len(keys) > 1:
            lines.append(((name, TOTAL), sorted(keys)))
    for name, keys in columns.items():
        if (TOTAL, name) in counts and len(keys) > 1:
            lines.append(((TOTAL, name), sorted(keys)))
    return lines


def _cost(key: Key, margin: Key, counts: Mapping[Key, int]) -> tuple[bool, bool, int, Key]:
    """Order of preference for a secondary cell: inner before margin, non-zero, smallest."""
    count = counts[key]
    return (key == margin or TOTAL in key, count == 0, count, key)
