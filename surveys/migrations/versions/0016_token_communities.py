"""api_tokens.communities: a token, like a console user, may work in some communities only

NULL: every community (admins' always). A token of Kibera sees and acts on Kibera's rounds
only, through every route.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("communities", sa.JSON().with_variant(
        JSONB(astext_type=sa.Text()), "postgresql"), nullable=True))


def downgrade() -> None:
    op.drop_column("api_tokens", "communities")
