"""voice_prompts: heard's own phrases recorded per language (a prompt pack, voice.pack)

A call in a language Twilio has no voice for plays these; their audio is in survey_media.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_prompts",
        sa.Column("lang", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(16), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("voice_prompts")
