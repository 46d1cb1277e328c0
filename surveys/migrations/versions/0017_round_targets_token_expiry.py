"""rounds.target: whom a round invites beyond its community; api_tokens.expires_at

rounds.target: {"languages": [...], "channels": [...], "profile": {field: [values]}}, each
part optional (NULL: everyone of the community). api_tokens.expires_at: when the token stops
working (NULL: never), answered 401 like a revoked one.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rounds", sa.Column("target", sa.JSON().with_variant(
        JSONB(astext_type=sa.Text()), "postgresql"), nullable=True))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True),
                                          nullable=True))


def downgrade() -> None:
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("rounds", "target")
