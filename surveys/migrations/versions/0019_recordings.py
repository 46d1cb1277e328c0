"""recordings: spoken answers (a call's answer to a text question), personal data

One row per recording: heard's own id (a uuid4's hex, which the answer names as
`recording:<id>`), whose it is (contact, session, question, round), the provider's sid (unique:
a re-delivered request stores nothing twice) and URL, the audio once fetched, and when it was
fetched, deleted at the provider, and forgotten (erased or expired).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("contact_id", Id, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("session_id", Id, sa.ForeignKey("sessions.id"), nullable=True),
        sa.Column("question_id", sa.String(128), nullable=True),
        sa.Column("round_id", Id, sa.ForeignKey("rounds.id"), nullable=True),
        sa.Column("provider_sid", sa.String(64), nullable=False, unique=True),
        sa.Column("provider_url", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=True),
        sa.Column("audio", sa.LargeBinary(), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_recordings_contact_id", "recordings", ["contact_id"])
    op.create_index("ix_recordings_created_at", "recordings", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_recordings_created_at", table_name="recordings")
    op.drop_index("ix_recordings_contact_id", table_name="recordings")
    op.drop_table("recordings")
