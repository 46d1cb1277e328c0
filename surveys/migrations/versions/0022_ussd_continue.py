"""rounds.ussd_continue: how a USSD session that timed out goes on (dialled again, or SMS)

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rounds", sa.Column("ussd_continue", sa.String(8), nullable=False,
                                      server_default="ussd"))


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("ussd_continue")
