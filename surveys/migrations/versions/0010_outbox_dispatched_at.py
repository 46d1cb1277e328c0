"""outbox.dispatched_at: a send is recorded as begun before the provider is called

A worker killed, or a database that goes away, between the provider accepting a message and
heard recording it used to leave the row `pending`, and it was sent again. Now a send is
`dispatching` (with its time) first; whoever finds such a row later asks the provider whether
it went out, and sends it only if it did not.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("dispatched_at", sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "dispatched_at")
