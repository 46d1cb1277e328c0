"""The audit log: exports, API pages, revealed addresses, erasures and purges each leave one
entry naming who, what and how much (never whom); `heard audit list` shows them."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from heard.cli import app
from heard.routes import responses
from surveys.audit import SWEEPER, cli_actor, token_actor
from surveys.database import session_scope
from surveys.retention import purge
from surveys.tables import AuditEntry, InboxMessage, Round, SurveyVersion, utcnow
from surveys.tables import SurveySession as SessionRow
from surveys.tokens import create_token
from tests.pipeline import client_for, count, drain, say
from worker.runtime import Runtime

ME = f"cli:{getpass.getuser()}"


def heard(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def entries(runtime: Runtime) -> list[tuple[str, str, int | None, dict[str, Any]]]:
    """(actor, action, round, detail) of every entry, oldest first."""
    with session_scope(runtime.database_url) as db:
        return [(entry.actor, entry.action, entry.round_id, entry.detail)
                for entry in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


@pytest.fixture
def round_id(runtime: Runtime) -> int:
    """A round of test-water that two people answered through the pipeline."""
    client = client_for(runtime)
    for address in ("amina", "bo"):
        for text in ("hi", "yes", "1", "4"):
            say(client, address, text)
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        survey = db.scalars(select(SurveyVersion).where(SurveyVersion.survey_id == "test-water")
                            ).one()
        found = Round(survey_pk=survey.id, status="open", code="audit-1")
        db.add(found)
        db.flush()
        db.execute(update(SessionRow).values(round_id=found.id))
        return found.id


def test_the_log_starts_empty(runtime):
    result = heard("audit", "list")
    assert result.exit_code == 0 and result.output == "the audit log is empty\n"


def test_an_export_is_logged_and_one_with_addresses_as_revealing_them(runtime, round_id,
                                                                      tmp_path: Path):
    out = tmp_path / "round.csv"
    assert heard("export", str(round_id), "--out", str(out)).exit_code == 0
    assert heard("export", str(round_id), "--out", str(out), "--with-addresses",
                 "--labels", "sw").exit_code == 0
    assert entries(runtime) == [
        (ME, "export", round_id, {"format": "csv", "rows": 2, "labels": None, "to": str(out)}),
        (ME, "reveal_address", round_id,
         {"format": "csv", "rows": 2, "labels": "sw", "to": str(out)})]
    assert heard("export", "999", "--out", str(out)).exit_code == 1
    assert len(entries(runtime)) == 2  # nothing left heard: nothing logged


def test_each_api_page_is_logged_with_the_tokens_name_and_role(runtime, round_id):
    client = client_for(runtime)
    if not any(getattr(route, "path", "").endswith("/responses") for route in client.app.routes):
        client.app.include_router(responses.router)
    with session_scope(runtime.database_url) as db:
        analyst = create_token(db, "analyst", "kobo sync")
        admin = create_token(db, "admin", "data protection officer")
    url = f"/api/v1/rounds/{round_id}/responses"
    page = client.get(url, params={"limit": 1}, headers={"Authorization": f"Bearer {analyst}"})
    assert page.status_code == 200 and page.json()["next"]
    assert client.get(url, params={"with_addresses": "true"},
                      headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    assert client.get(url, params={"with_addresses": "true"},
                      headers={"Authorization": f"Bearer {analyst}"}).status_code == 403
    assert entries(runtime) == [
        ("token:kobo sync (analyst)", "export", round_id,
         {"format": "json", "rows": 1, "after": 0, "limit": 1, "labels": None}),
        ("token:data protection officer (admin)", "reveal_address", round_id,
         {"format": "json", "rows": 2, "after": 0, "limit": 100, "labels": None})]
    text = repr(entries(runtime))
    assert analyst not in text and admin not in text  # tokens are never written down


def test_an_erasure_is_logged_by_contact_id_without_the_address(runtime, round_id):
    result = heard("contacts", "erase", "amina", "--channel", "simulator")
    assert result.exit_code == 0, result.output
    [(actor, action, round_, detail)] = entries(runtime)
    assert (actor, action, round_) == (ME, "erase", None)
    [erased] = detail["contacts"]
    assert erased["channel"] == "simulator" and erased["answers_kept"] == 2
    assert "amina" not in repr(detail) and "erased:" not in repr(detail)


def test_a_purge_is_logged_when_it_blanked_something_and_a_dry_run_never(runtime, round_id):
    with session_scope(runtime.database_url) as db:
        db.execute(update(InboxMessage).values(received_at=utcnow() - timedelta(days=10)))
    assert heard("data", "purge", "--days", "7", "--dry-run").exit_code == 0
    assert entries(runtime) == []
    blanked = count(runtime, InboxMessage)
    assert heard("data", "purge", "--days", "7").exit_code == 0
    [(actor, action, round_, detail)] = entries(runtime)
    assert (actor, action, round_) == (ME, "purge", None)
    assert (detail["days"], detail["inbox"], detail["outbox"]) == (7, blanked, 0)
    assert purge(runtime.database_url, 7, SWEEPER).messages == 0
    assert len(entries(runtime)) == 1  # nothing blanked: nothing to log


def test_audit_list_shows_who_when_and_what_newest_first(runtime, round_id, tmp_path):
    assert heard("export", str(round_id), "--out", str(tmp_path / "a.jsonl")).exit_code == 0
    assert heard("contacts", "erase", "bo").exit_code == 0
    result = heard("audit", "list")
    assert result.exit_code == 0, result.output
    erase_line, export_line = result.output.splitlines()
    today = f"{utcnow():%Y-%m-%d}"
    assert erase_line.startswith(today) and f"  {ME}  erase  contacts=" in erase_line
    assert export_line.startswith(today)
    assert f"  {ME}  export round {round_id}  format=jsonl labels=null rows=2 to=" in export_line
    assert heard("audit", "list", "--limit", "1").output.splitlines() == [erase_line]


def test_actors_name_the_cli_user_or_the_token_never_the_secret(runtime):
    assert cli_actor() == ME
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "analyst", "field team")
        assert token_actor(db, token, "analyst") == "token:field team (analyst)"
        assert token_actor(db, "hrd_revoked_or_unknown", "analyst") == "token:unknown (analyst)"
