"""sessions.reminded_at: a reminder goes to a person at most once in a while

`heard round remind` twice sent everyone two reminders. A session now records its last
reminder, and a manual remind skips those reminded within REMINDED_RECENTLY unless told
`--again`.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("reminded_at", sa.DateTime(timezone=True),
                                        nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "reminded_at")
