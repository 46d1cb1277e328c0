"""API tokens may expire: made by the CLI, the API and the console; refused with 401 once
their time is up, saying so, like a revoked one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from heard.cli import app as cli
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.tables import ApiToken
from surveys.tokens import create_token, token_hash
from surveys.users import create_user
from tests.pipeline import client_for

PASSWORD = "correct horse battery"


def _expire(runtime, token: str) -> None:
    """The token's time runs out (as if its days had passed)."""
    with session_scope(runtime.database_url) as db:
        db.execute(update(ApiToken).where(ApiToken.token_hash == token_hash(token))
                   .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))


def _expires_at(runtime, token: str) -> datetime | None:
    with session_scope(runtime.database_url) as db:
        return db.scalars(select(ApiToken.expires_at).where(
            ApiToken.token_hash == token_hash(token))).one()


def test_an_expired_token_gets_401_saying_so_and_a_fresh_one_works(runtime):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        fresh = create_token(db, "facilitator", "fresh", expires_in=timedelta(days=90))
        old = create_token(db, "facilitator", "old", expires_in=timedelta(days=90))
        revoked = create_token(db, "facilitator", "revoked")
        db.execute(update(ApiToken).where(ApiToken.token_hash == token_hash(revoked))
                   .values(revoked_at=datetime.now(UTC)))
    _expire(runtime, old)
    assert client.get("/api/v1/rounds", headers={"Authorization": f"Bearer {fresh}"}
                      ).status_code == 200
    expired = client.get("/api/v1/rounds", headers={"Authorization": f"Bearer {old}"})
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"] == "Bearer"
    assert expired.json()["detail"].startswith("expired token (expired ")
    gone = client.get("/api/v1/rounds", headers={"Authorization": f"Bearer {revoked}"})
    assert gone.status_code == 401 and gone.json()["detail"].startswith("revoked token")
    unknown = client.get("/api/v1/rounds", headers={"Authorization": "Bearer hrd_nope"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == "invalid token"


def test_heard_token_create_expires_after_the_time_given(runtime):
    made = CliRunner().invoke(cli, ["token", "create", "--role", "analyst", "--expires", "90d"])
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    left = _expires_at(runtime, token) - datetime.now(UTC)
    assert timedelta(days=89, hours=23) < left <= timedelta(days=90)
    forever = CliRunner().invoke(cli, ["token", "create", "--role", "analyst"])
    assert _expires_at(runtime, forever.output.strip()) is None
    refused = CliRunner().invoke(cli, ["token", "create", "--role", "analyst",
                                       "--expires", "soon"])
    assert refused.exit_code == 2 and "not a length of time: 'soon'" in refused.output


def test_the_api_makes_a_token_that_expires(runtime):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        admin = {"Authorization": f"Bearer {create_token(db, 'admin', 'a')}"}
    made = client.post("/api/v1/tokens", json={"role": "facilitator", "expires": "12h"},
                       headers=admin)
    assert made.status_code == 201, made.text
    expires_at = datetime.fromisoformat(made.json()["expires_at"])
    assert timedelta(hours=11, minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=12)
    assert client.post("/api/v1/tokens", json={"role": "facilitator"}, headers=admin
                       ).json()["expires_at"] is None
    bad = client.post("/api/v1/tokens", json={"role": "facilitator", "expires": "-3d"},
                      headers=admin)
    assert bad.status_code == 422 and "expires: not a length of time: '-3d'" in bad.text


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found[1]


def test_the_console_token_form_sets_an_expiry_and_the_list_shows_it(runtime):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        create_user(db, "admin", PASSWORD, "admin", None, "en")
    form = client.get("/console/sign-in")
    client.post("/console/sign-in", data={"name": "admin", "password": PASSWORD,
                                          "csrf": _csrf(form.text)})
    page = client.get("/console/tokens").text
    assert '<label for="token-expires">' in page
    csrf = _csrf(page)
    made = client.post("/console/tokens", data={"csrf": csrf, "name": "kobo",
                                                "role": "facilitator", "expires_days": "30"})
    assert made.status_code == 200
    token = re.search(r"<code data-token>([^<]+)</code>", made.text)[1]
    expires_at = _expires_at(runtime, token)
    assert timedelta(days=29, hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=30)
    assert f"<td data-expires>{translator('en').day(expires_at.date())}</td>" in made.text
    assert client.get("/api/v1/rounds", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200
    never = client.post("/console/tokens", data={"csrf": csrf, "name": "sync", "role": "analyst"})
    assert "<td data-expires>never</td>" in never.text
    bad = client.post("/console/tokens", data={"csrf": csrf, "name": "x", "role": "analyst",
                                               "expires_days": "soon"})
    assert bad.status_code == 422
    assert "Expires after: a whole number of days above 0, or empty for never." in bad.text
    _expire(runtime, token)
    listed = client.get("/console/tokens").text
    assert "<td data-token-status>expired</td>" in listed
    assert client.get("/api/v1/rounds", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401
