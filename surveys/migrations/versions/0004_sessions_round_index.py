"""sessions(round_id, id): exports, summaries and round status read a round's sessions

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sessions_round", "sessions", ["round_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_sessions_round", table_name="sessions")
