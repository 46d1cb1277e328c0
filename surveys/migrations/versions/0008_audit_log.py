"""audit_log: who exported, revealed addresses, erased or purged personal data, and when

One row per export (CLI file or API page), per erasure request and per purge that blanked
anything. `actor` is an API token's name and role or `cli:<os user>`; `detail` holds formats,
counts and filters, never an address. `round_id` has no foreign key: an entry outlives what
it names.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("round_id", Id, nullable=True),
        sa.Column("detail", Json, nullable=False),
    )
    op.create_index("ix_audit_log_round", "audit_log", ["round_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_round", table_name="audit_log")
    op.drop_table("audit_log")
