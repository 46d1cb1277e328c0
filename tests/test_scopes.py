"""Community scopes on every route: a token (like a console user) of Kibera sees and acts on
Kibera's rounds only, through the API and the dashboard alike."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from heard.cli import app as cli
from surveys import catalog
from surveys.database import session_scope
from surveys.tables import ApiToken
from surveys.tokens import create_token
from tests.pipeline import client_for
from worker import rounds


@pytest.fixture
def world(runtime):
    """Rounds in Kibera, in Mathare and for everyone; tokens of Kibera, and an admin's."""
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        survey = catalog.latest(db, "test-water")
        made = {community: rounds.create_round(db, survey, community).id
                for community in ("kibera", "mathare", None)}
        tokens = {role: create_token(db, role, role, ["Kibera"])
                  for role in ("facilitator", "analyst")}
        tokens["admin"] = create_token(db, "admin", "admin", ["kibera"])  # (admins see all)
    return client, made, tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _round_routes(client) -> list[tuple[str, str]]:
    """Every API route of one round, as the API's own schema lists them: (method, path)."""
    return sorted((method.upper(), path) for path, operations in client.app.openapi()[
        "paths"].items() if "{round_id}" in path for method in operations)


def test_no_route_of_a_round_outside_the_tokens_communities_answers(world):
    client, made, tokens = world
    routes = _round_routes(client)
    assert len(routes) >= 9  # status, launch, remind, close, share, publish, unpublish, ...
    for method, path in routes:
        for outside in (made["mathare"], made[None], 999999):
            answers = {role: client.request(method, path.format(round_id=outside),
                                            headers=_auth(tokens[role])).status_code
                       for role in ("facilitator", "analyst")}
            assert set(answers.values()) <= {403, 404}, (method, path, answers)
            assert 404 in answers.values(), (method, path, answers)  # the role it is for


def test_a_tokens_own_community_and_an_admin_get_through(world):
    client, made, tokens = world
    own = client.get(f"/api/v1/rounds/{made['kibera']}", headers=_auth(tokens["facilitator"]))
    assert own.status_code == 200 and own.json()["community"] == "kibera"
    for round_id in made.values():  # an admin's token is never limited
        assert client.get(f"/api/v1/rounds/{round_id}",
                          headers=_auth(tokens["admin"])).status_code == 200
    listed = client.get("/api/v1/rounds", headers=_auth(tokens["facilitator"])).json()
    assert [row["id"] for row in listed] == [made["kibera"]]
    assert len(client.get("/api/v1/rounds", headers=_auth(tokens["admin"])).json()) == 3


def test_a_token_creates_rounds_only_in_its_communities(world):
    client, _, tokens = world
    headers = _auth(tokens["facilitator"])
    elsewhere = client.post("/api/v1/rounds", headers=headers,
                            json={"survey": "test-water", "community": "mathare"})
    assert elsewhere.status_code == 403 and "kibera" in elsewhere.text
    everyone = client.post("/api/v1/rounds", headers=headers, json={"survey": "test-water"})
    assert everyone.status_code == 403
    own = client.post("/api/v1/rounds", headers=headers,
                      json={"survey": "test-water", "community": "kibera"})
    assert own.status_code == 201


def test_the_analysts_dashboard_of_another_community_is_not_there(world):
    client, made, tokens = world
    analyst = _auth(tokens["analyst"])
    assert client.get(f"/rounds/{made['kibera']}", headers=analyst).status_code == 200
    assert client.get(f"/rounds/{made['mathare']}", headers=analyst).status_code == 404


def test_tokens_are_made_for_communities_by_the_cli_and_the_api(world, runtime):
    client, _, tokens = world
    made = CliRunner().invoke(cli, ["token", "create", "--role", "analyst", "--name", "m",
                                    "--community", "Mathare"])
    assert made.exit_code == 0, made.output
    by_api = client.post("/api/v1/tokens", headers=_auth(tokens["admin"]),
                         json={"role": "facilitator", "name": "k", "communities": ["kibera"]})
    assert by_api.status_code == 201
    with session_scope(runtime.database_url) as db:
        stored = {row.name: row.communities for row in db.query(ApiToken)}
    assert stored["m"] == ["mathare"] and stored["k"] == ["kibera"]
    assert stored["admin"] is None  # an admin's token is for every community


def test_the_api_does_not_queue_the_launch_of_a_round_not_open(world, runtime):
    from rq import Queue

    from worker.queues import DEFAULT

    client, made, tokens = world
    with session_scope(runtime.database_url) as db:
        rounds.close_round(db, made["kibera"])
    refused = client.post(f"/api/v1/rounds/{made['kibera']}/launch",
                          headers=_auth(tokens["facilitator"]))
    assert refused.status_code == 409 and "only open rounds launch" in refused.text
    assert len(Queue(DEFAULT, connection=runtime.redis)) == 0
