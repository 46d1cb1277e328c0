"""early_statuses, outbox.next_attempt_at, facts: nothing a fault drops or changes

A delivery report that arrives before the send's provider id is committed (Twilio calls back
within milliseconds) waits in `early_statuses` until its message is known. A send being
retried records when its next attempt is due, so the sweeper re-queues one whose rq retry was
lost with Redis. `facts` keeps what a deployment must remember about itself: the pseudonym
key's fingerprint, so a process without the key stops instead of renaming every contact.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True),
                                      nullable=True))
    op.create_table(
        "early_statuses",
        sa.Column("id", Id, primary_key=True),
        sa.Column("provider_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.Column("unreachable", sa.String(32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_early_statuses_provider_id", "early_statuses", ["provider_id"])
    op.create_table(
        "facts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("facts")
    op.drop_index("ix_early_statuses_provider_id", table_name="early_statuses")
    op.drop_table("early_statuses")
    op.drop_column("outbox", "next_attempt_at")
