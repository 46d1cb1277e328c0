"""contacts by (community, id): a launch's next chunk of a community read in order, not scanned

A launch reads a community's contacts a chunk at a time in id order (keyset). With an index on
community alone, PostgreSQL either walks every contact by id and drops those of other
communities (a read that grows with the whole table: bench/growth.py), or reads the whole rest
of the community and sorts it for each chunk. (community, id) gives the chunk directly, and
serves every lookup by community the old index served.

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_contacts_community_id", "contacts", ["community", "id"])
    op.drop_index("ix_contacts_community", table_name="contacts")


def downgrade() -> None:
    op.create_index("ix_contacts_community", "contacts", ["community"])
    op.drop_index("ix_contacts_community_id", table_name="contacts")
