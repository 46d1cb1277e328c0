"""Portable bulk writes: INSERT ... ON CONFLICT (both databases speak it) and COPY."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(db: Session, table: Any) -> Any:
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_ignore(db: Session, table: Any, rows: dict | list[dict],
                  conflict: Sequence[str], returning: Any = None) -> Any:
    """Insert rows, silently keeping any existing row with the same `conflict` key.

    `returning` is a column (its values come back in row order, skipped rows left out) or a
    tuple of columns (in any order: cheaper, and enough when they identify the row).

    Rows go as executemany parameters, not into the statement, so its compiled form is cached.
    """
    statement = _insert(db, table).on_conflict_do_nothing(index_elements=conflict)
    if isinstance(returning, tuple):  # several columns: the caller matches rows by them
        statement = statement.returning(*returning)
    elif returning is not None:
        statement = statement.returning(returning, sort_by_parameter_order=True)
    return db.execute(statement, rows if isinstance(rows, list) else [rows])


def upsert(db: Session, table: Any, rows: dict | list[dict], conflict: Sequence[str],
           update: Sequence[str]) -> None:
    statement = _insert(db, table)
    statement = statement.on_conflict_do_update(
        index_elements=conflict, set_={name: statement.excluded[name] for name in update})
    db.execute(statement, rows if isinstance(rows, list) else [rows])


COPY_FROM_ROWS = 20  # fewer rows go in one INSERT: COPY's ids and protocol cost more round trips


def bulk_insert(db: Session, table: Any, rows: list[dict], ids: bool = False) -> list[int]:
    """Insert many rows at once: COPY on PostgreSQL (ids reserved from the table's sequence
    first) from COPY_FROM_ROWS rows, one multi-row INSERT otherwise. Returns the new ids, in
    row order, when `ids` is set."""
    if not rows:
        return []
    if db.get_bind().dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        statement = sa_insert(table)
        if ids:
            statement = statement.returning(table.c.id, sort_by_parameter_order=True)
            return [row_id for (row_id,) in db.execute(statement, rows)]
        db.execute(statement, rows)
        return []
    connection = _driver_connection(db)
    columns = list(rows[0])
    new_ids = _reserve_ids(connection, table, len(rows)) if ids else []
    names = (["id"] if ids else []) + columns
    json_columns = [index for index, name in enumerate(columns)
                    if isinstance(rows[0][name], dict | list)]
    dumped: dict[int, str] = {}  # rows often share one JSON object (a state, a reply)
    with connection.cursor().copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for index, row in enumerate(rows):
            values = [row[name] for name in columns]
            for position in json_columns:
                value = values[position]
                text = dumped.get(id(value))
                if text is None:
                    text = dumped[id(value)] = json.dumps(value)
                values[position] = text
            copy.write_row([new_ids[index], *values] if ids else values)
    return new_ids


def _driver_connection(db: Session) -> Any:
    return db.connection().connection.driver_connection


def _reserve_ids(connection: Any, table: Any, count: int) -> list[int]:
    """`count` new ids from the table's sequence, so rows can be copied with their ids."""
    rows = connection.execute(f"SELECT nextval('{table.name}_id_seq') FROM generate_series(1, %s)",
                              (count,)).fetchall()
    return [row_id for (row_id,) in rows]


Shared = tuple[tuple[Any, ...], dict[str, Any]]  # a row: its own values, the values it shares


def bulk_insert_shared(db: Session, table: Any, columns: Sequence[str], rows: Sequence[Shared],
                       ids: bool = False) -> list[int]:
    """`bulk_insert` for rows that differ only in a few `columns`.

    Each row is (its values of `columns`, a dict of the values it shares with other rows, the
    same object for all of them, with the same keys in every row). COPY encodes each shared
    dict once and only the differing values per row: a launch's 300,000 rows share a handful.
    (Rows that share nothing go faster through `bulk_insert`: psycopg's write_row encodes in C,
    about 10% of a drain's time saved against this function's Python encoding.)
    """
    if not rows:
        return []
    if db.get_bind().dialect.name != "postgresql":
        return bulk_insert(db, table, [dict(zip(columns, values, strict=True)) | shared
                                       for values, shared in rows], ids)
    connection = _driver_connection(db)
    shared_names = list(rows[0][1])
    tails: dict[int, str] = {}
    for _, shared in rows:
        if id(shared) not in tails:
            tails[id(shared)] = _copy_text(shared[name] for name in shared_names)
    names = list(columns) + shared_names
    new_ids = _reserve_ids(connection, table, len(rows)) if ids else []
    if ids:
        names.insert(0, "id")
        lines = [f"{row_id}\t{_copy_text(values)}\t{tails[id(shared)]}\n"
                 for row_id, (values, shared) in zip(new_ids, rows, strict=True)]
    else:
        lines = [f"{_copy_text(values)}\t{tails[id(shared)]}\n" for values, shared in rows]
    with connection.cursor().copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        copy.write("".join(lines))
    return new_ids


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(values: Any) -> str:
    """Values as tab-separated fields of one row in COPY's text format."""
    return "\t".join(map(_copy_field, values))


def _copy_field(value: Any) -> str:
    kind = type(value)
    if kind is int:  # the common cases first: ids and addresses
        return str(value)
    if kind is str:
        return value.translate(_COPY_ESCAPES)
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict | list):
        value = json.dumps(value)
    elif isinstance(value, datetime | date):
        value = value.isoformat()
    return str(value).translate(_COPY_ESCAPES)
