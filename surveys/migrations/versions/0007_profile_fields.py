"""profile_fields: the declared profile fields; undeclared profile keys (personal data) removed

Until now an import kept every unknown CSV column (`name`, `नाम`, ...) in `contacts.profile`,
and exports printed them all. From here on only declared fields are kept and exported. This
migration declares every key of a contact's profile that is the id of a `profile: true`
question of a stored survey, and removes every other key: it came from an undeclared import
column. Done in Python, in batches, so it works the same on SQLite and PostgreSQL. The removed
values cannot come back: the downgrade only drops the table.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 1000
Json = sa.JSON().with_variant(JSONB(), "postgresql")
contacts = sa.table("contacts", sa.column("id", sa.BigInteger), sa.column("profile", Json))
surveys = sa.table("surveys", sa.column("id", sa.BigInteger), sa.column("definition", Json))
profile_fields = sa.table("profile_fields", sa.column("name", sa.String),
                          sa.column("declared_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    op.create_table(
        "profile_fields",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
    )
    connection = op.get_bind()
    questions = _profile_question_ids(connection)
    found: set[str] = set()
    rewrite = contacts.update().where(contacts.c.id == sa.bindparam("contact_id")).values(
        profile=sa.bindparam("kept"))
    for batch in _batches(connection, contacts):
        changed = []
        for contact_id, profile in batch:
            kept = ({key: value for key, value in profile.items() if key in questions}
                    if isinstance(profile, dict) else {})
            found.update(kept)
            if kept != profile:
                changed.append({"contact_id": contact_id, "kept": kept})
        if changed:
            connection.execute(rewrite, changed)
    if found:
        now = datetime.now(UTC)
        connection.execute(profile_fields.insert(),
                           [{"name": name, "declared_at": now} for name in sorted(found)])


def downgrade() -> None:
    op.drop_table("profile_fields")


def _profile_question_ids(connection: sa.Connection) -> set[str]:
    """Ids of the `profile: true` questions of every stored survey version."""
    found = set()
    for batch in _batches(connection, surveys):
        for _, definition in batch:
            questions = definition.get("questions") if isinstance(definition, dict) else None
            for question in questions if isinstance(questions, list) else []:
                if (isinstance(question, dict) and question.get("profile") is True
                        and isinstance(question.get("id"), str)):
                    found.add(question["id"])
    return found


def _batches(connection: sa.Connection, table: Any) -> Iterator[Sequence[Any]]:
    """(id, JSON column) rows of `table` by id, BATCH at a time, so memory stays flat."""
    id_column, json_column = table.c
    last = 0
    while True:
        batch = connection.execute(sa.select(id_column, json_column).where(id_column > last)
                                   .order_by(id_column).limit(BATCH)).all()
        if not batch:
            return
        yield batch
        last = batch[-1][0]
