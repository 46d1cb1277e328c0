"""contacts.last_inbound_at: WhatsApp's 24-hour window

WhatsApp refuses free-form messages a business starts more than 24 hours after the person's
last message (Twilio error 63016). A contact now records when they last wrote, so invitations,
reminders and results outside that window go as templates.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("last_inbound_at", sa.DateTime(timezone=True),
                                        nullable=True))


def downgrade() -> None:
    op.drop_column("contacts", "last_inbound_at")
