"""outbox indexes a launch can afford: a contact's rows by contact id, provider ids once sent

A launch writes 200,000 outbox rows at once and pays for every index on each. The index on
(channel, address, id) served only the simulator's view, which now finds the contact first;
(contact_id, id) serves it, sending (a contact's pending rows) and erasure. Unsent rows have
no provider id, so its index skips them.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HAS_PROVIDER_ID = text("provider_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_outbox_address", table_name="outbox")
    op.create_index("ix_outbox_contact", "outbox", ["contact_id", "id"])
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
    op.create_index("ix_outbox_provider_id", "outbox", ["provider_id"],
                    postgresql_where=HAS_PROVIDER_ID, sqlite_where=HAS_PROVIDER_ID)


def downgrade() -> None:
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
    op.create_index("ix_outbox_provider_id", "outbox", ["provider_id"])
    op.drop_index("ix_outbox_contact", table_name="outbox")
    op.create_index("ix_outbox_address", "outbox", ["channel", "address", "id"])
