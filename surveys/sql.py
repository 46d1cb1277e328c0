"""Portable INSERT ... ON CONFLICT for PostgreSQL and SQLite (both speak it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(db: Session, table: Any) -> Any:
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_ignore(db: Session, table: Any, rows: dict | list[dict],
                  conflict: Sequence[str], returning: Any = None) -> Any:
    """Insert rows, silently keeping any existing row with the same `conflict` key."""
    statement = _insert(db, table).values(rows).on_conflict_do_nothing(index_elements=conflict)
    if returning is not None:
        statement = statement.returning(returning)
    return db.execute(statement)


def upsert(db: Session, table: Any, rows: dict | list[dict], conflict: Sequence[str],
           update: Sequence[str]) -> None:
    statement = _insert(db, table).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=conflict, set_={name: statement.excluded[name] for name in update})
    db.execute(statement)
