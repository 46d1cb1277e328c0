"""Migration 0024: contacts indexed by (community, id), the order a launch reads a community in."""

from __future__ import annotations

import sqlalchemy as sa

from surveys.database import get_engine, migrate
from surveys.tables import Contact


def contact_indexes(url: str) -> dict[str, list[str]]:
    return {index["name"]: index["column_names"]
            for index in sa.inspect(get_engine(url)).get_indexes("contacts")}


def test_contacts_are_indexed_by_community_then_id(database_url):
    found = contact_indexes(database_url)
    assert found["ix_contacts_community_id"] == ["community", "id"]
    assert "ix_contacts_community" not in found  # the new one serves its lookups too
    declared = {index.name: [column.name for column in index.columns]
                for index in Contact.__table__.indexes}
    assert declared["ix_contacts_community_id"] == ["community", "id"]  # tables.py in step


def test_migration_0024_goes_down_and_up_again(unmigrated_url):
    migrate(unmigrated_url, "0021")
    assert contact_indexes(unmigrated_url)["ix_contacts_community"] == ["community"]
    migrate(unmigrated_url, "0024")
    assert "ix_contacts_community" not in contact_indexes(unmigrated_url)
    migrate(unmigrated_url, "0021", downgrade=True)
    found = contact_indexes(unmigrated_url)
    assert found["ix_contacts_community"] == ["community"]
    assert "ix_contacts_community_id" not in found
