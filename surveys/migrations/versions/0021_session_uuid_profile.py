"""sessions.uuid and sessions.profile: a stable id per response, and the profile it was given with

Analysts join exports on `_uuid` (an id that means the same in every export and on every
server, unlike the row id), and read `_profile.<field>` as it was when the person answered: a
later import or profile answer no longer rewrites old rounds. Existing sessions get a uuid
here; their profile stays empty (exports fall back to the contact's current profile).

Revision ID: 0021
Revises: 0020
"""

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.add_column("sessions", sa.Column("uuid", sa.String(36), nullable=True))
    op.add_column("sessions", sa.Column("profile", json, nullable=True))
    sessions = sa.table("sessions", sa.column("id", sa.BigInteger), sa.column("uuid", sa.String))
    connection = op.get_bind()
    last = 0
    while ids := connection.scalars(sa.select(sessions.c.id).where(sessions.c.id > last)
                                    .order_by(sessions.c.id).limit(BATCH)).all():
        connection.execute(sessions.update().where(sessions.c.id == sa.bindparam("row"))
                           .values(uuid=sa.bindparam("value")),
                           [{"row": row, "value": str(uuid.uuid4())} for row in ids])
        last = ids[-1]
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column("uuid", existing_type=sa.String(36), nullable=False)
        batch.create_unique_constraint("uq_sessions_uuid", ["uuid"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_constraint("uq_sessions_uuid", type_="unique")
        batch.drop_column("profile")
        batch.drop_column("uuid")
