"""airtime: a round's optional thank-you top-up, and every one sent or tried

rounds.airtime_currency / airtime_amount / airtime_budget (amounts in hundredths of the
currency, as AT takes two decimals): unset, a round gives none. airtime_rewards: one row per
person and round (unique), whatever became of it: pending, sending, sent, failed, or
over_budget; its attempts, the provider's request id or the last error.

Revision ID: 0023
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("rounds", sa.Column("airtime_currency", sa.String(3), nullable=True))
    op.add_column("rounds", sa.Column("airtime_amount", sa.Integer(), nullable=True))
    op.add_column("rounds", sa.Column("airtime_budget", sa.Integer(), nullable=True))
    op.create_table(
        "airtime_rewards",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("round_id", Id, sa.ForeignKey("rounds.id"), nullable=False),
        sa.Column("contact_id", Id, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("error", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("round_id", "contact_id", name="uq_airtime_rewards_round_contact"),
    )
    op.create_index("ix_airtime_rewards_status", "airtime_rewards", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_airtime_rewards_status", table_name="airtime_rewards")
    op.drop_table("airtime_rewards")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("airtime_budget")
        batch.drop_column("airtime_amount")
        batch.drop_column("airtime_currency")
