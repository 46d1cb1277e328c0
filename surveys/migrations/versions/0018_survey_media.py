"""survey_media: recorded prompts' audio, by the sha256 of its bytes

A survey's definition names each recording by its sha256 (and seconds); the bytes are stored
once here, whatever number of surveys and versions play them, and served to Twilio's <Play> at
/voice/audio/<sha256>.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_media",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("bytes", sa.LargeBinary(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("survey_media")
