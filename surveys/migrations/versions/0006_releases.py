"""releases: one audited set of published figures per round; rounds private until published

A round's release is computed once, suppressed jointly and stored; every outlet (public page,
results messages, charts, the summary API for non-admins) renders it. `rounds.public_token` is
the unguessable part of the public URL: NULL while the round is private (the default), a new
one each time it is published.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(sa.Column("public_token", sa.String(64), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_rounds_public_token", ["public_token"])
    op.create_table(
        "releases",
        sa.Column("id", Id, primary_key=True),
        sa.Column("round_id", Id, sa.ForeignKey("rounds.id"), nullable=False, unique=True),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("figures", Json, nullable=False),
        sa.Column("audit", Json, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("releases")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_constraint("uq_rounds_public_token", type_="unique")
        batch.drop_column("published_at")
        batch.drop_column("public_token")
