"""Portable bulk writes: INSERT ... ON CONFLICT (both databases speak it) and COPY."""

from __future__ import annotations

import json
from collections.abc import Sequence
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

    Rows go as executemany parameters, not into the statement, so its compiled form is cached.
    """
    statement = _insert(db, table).on_conflict_do_nothing(index_elements=conflict)
    if returning is not None:
        statement = statement.returning(returning, sort_by_parameter_order=True)
    return db.execute(statement, rows if isinstance(rows, list) else [rows])


def upsert(db: Session, table: Any, rows: dict | list[dict], conflict: Sequence[str],
           update: Sequence[str]) -> None:
    statement = _insert(db, table)
    statement = statement.on_conflict_do_update(
        index_elements=conflict, set_={name: statement.excluded[name] for name in update})
    db.execute(statement, rows if isinstance(rows, list) else [rows])


def bulk_insert(db: Session, table: Any, rows: list[dict], ids: bool = False) -> list[int]:
    """Insert many rows at once: COPY on PostgreSQL (ids reserved from the table's sequence
    first), executemany elsewhere. Returns the new ids, in row order, when `ids` is set."""
    if not rows:
        return []
    if db.get_bind().dialect.name != "postgresql":
        statement = sa_insert(table)
        if ids:
            statement = statement.returning(table.c.id, sort_by_parameter_order=True)
            return [row_id for (row_id,) in db.execute(statement, rows)]
        db.execute(statement, rows)
        return []
    connection = db.connection().connection.driver_connection
    columns = list(rows[0])
    new_ids: list[int] = []
    if ids:
        new_ids = [row_id for (row_id,) in connection.execute(
            f"SELECT nextval('{table.name}_id_seq') FROM generate_series(1, %s)",
            (len(rows),))]
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
