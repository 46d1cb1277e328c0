"""rounds.reminder_hours, sessions.reminders: reminders as a round's policy

A round may say when its unfinished people are reminded, in hours after they were invited
(e.g. [24, 72]); the cron sends each reminder of the policy at most once per person.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rounds", sa.Column("reminder_hours", sa.JSON().with_variant(
        postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True))
    op.add_column("sessions", sa.Column("reminders", sa.Integer(), nullable=False,
                                        server_default="0"))


def downgrade() -> None:
    op.drop_column("sessions", "reminders")
    op.drop_column("rounds", "reminder_hours")
