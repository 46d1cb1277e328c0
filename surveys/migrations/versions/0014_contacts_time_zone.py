"""contacts.time_zone: a person's own time zone, for quiet hours

Where the import gives one; else their community's (HEARD_COMMUNITY_TIME_ZONES), else their
number's.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("contacts", "time_zone")
