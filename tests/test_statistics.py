"""Planner statistics kept fresh after bulk writes: an import or a launch of many contacts
ANALYZEs the tables it wrote (PostgreSQL's autovacuum would only come round later)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from surveys import catalog
from surveys.database import ANALYZE_AFTER_ROWS, analyze, get_engine, session_scope
from surveys.sql import bulk_insert
from surveys.tables import Contact, utcnow
from surveys.tokens import create_token
from tests.pipeline import client_for
from worker import rounds

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _analyzed(url: str, table: str) -> tuple[datetime | None, float]:
    """When `table` (of this test's schema) was last ANALYZEd by hand, and the rows the
    planner believes it has."""
    with get_engine(url).connect() as connection:
        return connection.execute(text(
            "SELECT s.last_analyze, c.reltuples FROM pg_stat_user_tables s "
            "JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.schemaname = current_schema() AND s.relname = :table"),
            {"table": table}).one()  # type: ignore[return-value]


def _csv(rows: int) -> str:
    return "phone,language,community,consent\n" + "".join(
        f"+2547{number:08d},sw,kibera,yes\n" for number in range(rows))


def _import(client, token: str, rows: int) -> dict:
    response = client.post("/api/v1/contacts/import", content=_csv(rows).encode(),
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    return response.json()


@ON_POSTGRESQL
def test_an_import_of_many_contacts_refreshes_their_statistics(runtime):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "facilitator", "field team")
    before, _ = _analyzed(runtime.database_url, "contacts")

    assert _import(client, token, 10)["created"] == 10  # a few: left to autovacuum
    assert _analyzed(runtime.database_url, "contacts")[0] == before

    started = datetime.now(before.tzinfo if before else None).astimezone()
    assert _import(client, token, ANALYZE_AFTER_ROWS)["rows"] == ANALYZE_AFTER_ROWS
    analyzed_at, believed = _analyzed(runtime.database_url, "contacts")
    assert analyzed_at is not None and analyzed_at >= started
    assert believed == ANALYZE_AFTER_ROWS  # the 10 were updated again, not added


@ON_POSTGRESQL
def test_a_launch_to_many_contacts_refreshes_its_sessions_and_outbox(runtime):
    client_for(runtime)  # registers the test surveys
    with session_scope(runtime.database_url) as db:
        round_id = rounds.create_round(db, catalog.latest(db, "test-water"), "kibera").id
        bulk_insert(db, Contact.__table__, [
            {"channel": "sms", "address": f"+2547{number:08d}", "language": "sw",
             "community": "kibera", "consent": True, "opted_out": False, "profile": {},
             "created_at": utcnow()} for number in range(ANALYZE_AFTER_ROWS)])
    started = datetime.now().astimezone()

    invited = rounds.launch(runtime.database_url, runtime.redis, round_id,
                            lambda redis, ids, **_: True)

    assert invited == ANALYZE_AFTER_ROWS
    sessions_at, sessions = _analyzed(runtime.database_url, "sessions")
    outbox_at, messages = _analyzed(runtime.database_url, "outbox")
    assert sessions_at is not None and sessions_at >= started and sessions == invited
    assert outbox_at is not None and outbox_at >= started and messages == 2 * invited


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_keeps_statistics_of_a_bulk_write_too(database_url):
    with session_scope(database_url) as db:
        bulk_insert(db, Contact.__table__, [
            {"channel": "sms", "address": f"+2547{number:08d}", "consent": True, "profile": {},
             "opted_out": False, "created_at": utcnow()} for number in range(3)])
    assert not analyze(database_url, ["contacts"], ANALYZE_AFTER_ROWS - 1)
    with get_engine(database_url).connect() as connection:
        assert not connection.execute(text(
            "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")).all()

    assert analyze(database_url, ["contacts"], ANALYZE_AFTER_ROWS)
    with get_engine(database_url).connect() as connection:
        assert connection.execute(text(
            "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'contacts'")).scalar_one() > 0
