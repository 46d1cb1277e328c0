"""A round's target: only people of some languages, channels and profile values are invited
(with its community), by the CLI, the API and the console alike; the dry run's full cost."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from heard.commands.rounds import app as round_cli
from surveys import catalog
from surveys.contact_import import parse_contacts, store_contacts
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.settings import get_settings
from surveys.tables import Contact, Round, SurveySession
from surveys.tokens import create_token
from surveys.users import create_user
from tests.conftest import HERE
from tests.pipeline import client_for
from worker import rounds

CONTACTS = """channel,phone,language,community,consent,gender,village
sms,+254712000001,sw,kibera,yes,female,Kibera
sms,+254712000002,en,kibera,yes,female,soweto
sms,+254712000003,sw,kibera,yes,male,kibera
sms,+254712000004,sw,kibera,yes,female,makina
telegram,4242,sw,kibera,yes,female,kibera
sms,+254712000005,sw,mathare,yes,female,kibera
sms,+254712000006,sw,kibera,yes,,kibera
"""
PASSWORD = "correct horse battery"


@pytest.fixture
def contacts(runtime):
    """Seven contacts with a gender and a village; the app (its surveys) ready."""
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS, region="KE",
                                           profile=["gender", "village"]))
    return client


def _invited(runtime, round_id: int) -> set[str]:
    with session_scope(runtime.database_url) as db:
        return set(db.scalars(select(Contact.address).join(
            SurveySession, SurveySession.contact_id == Contact.id)
            .where(SurveySession.round_id == round_id)))


def _round(runtime, community: str | None = "kibera", **target) -> int:
    with session_scope(runtime.database_url) as db:
        row = catalog.latest(db, "test-water")
        made = rounds.target_for(db, catalog.survey_of(row), **target)
        return rounds.create_round(db, row, community, target=made).id


def _launch(runtime, round_id: int) -> int:
    return rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)


@pytest.mark.parametrize(("community", "target", "invited"), [
    ("kibera", {"languages": ["Swahili"]},
     {"+254712000001", "+254712000003", "+254712000004", "4242", "+254712000006"}),
    ("kibera", {"channels": ["sms"], "profile": {"gender": ["female"]}},
     {"+254712000001", "+254712000002", "+254712000004"}),
    # two villages, as typed in any case; with the community (mathare's +…05 is left out)
    ("kibera", {"languages": ["sw"], "profile": {"gender": ["female"],
                                                 "village": ["kibera", "Soweto"]}},
     {"+254712000001", "4242"}),
    (None, {"profile": {"village": ["KIBERA"]}, "channels": ["sms"]},
     {"+254712000001", "+254712000003", "+254712000005", "+254712000006"}),
])
def test_a_launch_invites_exactly_the_targeted_contacts_and_the_dry_run_counts_them(
        runtime, contacts, community, target, invited):
    round_id = _round(runtime, community, **target)
    with session_scope(runtime.database_url) as db:
        plan = rounds.plan_launch(db, round_id)
    assert plan.total("contacts") == len(invited)
    assert _launch(runtime, round_id) == len(invited)
    assert _invited(runtime, round_id) == invited
    assert _launch(runtime, round_id) == 0  # again: nobody twice


def test_the_dry_run_says_how_many_the_target_leaves_out(runtime, contacts):
    round_id = _round(runtime, "kibera", channels=["sms"], profile={"gender": ["male"]})
    with session_scope(runtime.database_url) as db:
        plan = rounds.plan_launch(db, round_id)
    assert dict(plan.left_out) == {"in another community": 1, "outside the round's target": 5}
    assert plan.left_out_notice() == ("not invited: 1 in another community, "
                                      "5 outside the round's target")
    assert plan.left_out_notice(translator("fr")).startswith("non invités")


@pytest.mark.parametrize(("target", "problem"), [
    ({"languages": ["xx"]}, "target language: unknown language 'xx'"),
    ({"channels": ["fax"]}, "target channel: unknown channel 'fax' (one of sms, whatsapp, "
                            "telegram, voice)"),
    ({"profile": {"gendre": ["female"]}}, "target profile: unknown profile field 'gendre' "
                                          "(declared: gender, litres, village"),
    ({"profile": {"gender": [" "]}}, "give 'gender' a value"),
])
def test_an_unknown_target_is_refused_naming_what_is_wrong(runtime, contacts, target, problem):
    with pytest.raises(rounds.RoundError) as refused:
        _round(runtime, **target)
    assert problem in str(refused.value)


def test_the_cli_creates_a_targeted_round_and_refuses_an_unknown_part(runtime, contacts):
    survey = str(HERE / "data" / "water.yaml")
    made = CliRunner().invoke(round_cli, [
        "create", "--survey", survey, "--community", "kibera", "--language", "sw",
        "--channel", "sms", "--profile", "gender=female", "--profile", "village=kibera,soweto"])
    assert made.exit_code == 0, made.output
    assert "only speaking Swahili; on sms; whose gender is female; whose village is kibera, " \
           "soweto" in made.output
    round_id = int(re.search(r"round (\d+):", made.output)[1])
    with session_scope(runtime.database_url) as db:
        assert db.get(Round, round_id).target == {
            "languages": ["sw"], "channels": ["sms"],
            "profile": {"gender": ["female"], "village": ["kibera", "soweto"]}}
    assert _launch(runtime, round_id) == 1 and _invited(runtime, round_id) == {"+254712000001"}
    for option, problem in ((["--channel", "fax"], "unknown channel 'fax'"),
                            (["--language", "xx"], "unknown language 'xx'"),
                            (["--profile", "age=30"], "unknown profile field 'age'"),
                            (["--profile", "gender"], "'gender' is not FIELD=VALUE")):
        refused = CliRunner().invoke(round_cli, ["create", "--survey", survey, *option])
        assert refused.exit_code == 1 and problem in refused.output, refused.output


def test_the_api_creates_a_targeted_round_shows_its_target_and_refuses_unknown_parts(
        runtime, contacts):
    with session_scope(runtime.database_url) as db:
        headers = {"Authorization": f"Bearer {create_token(db, 'facilitator', 'f')}"}
    created = contacts.post("/api/v1/rounds", headers=headers, json={
        "survey": "test-water", "community": "kibera", "languages": ["sw"],
        "channels": ["telegram"]})
    assert created.status_code == 201, created.text
    assert created.json()["target"] == {"languages": ["sw"], "channels": ["telegram"]}
    round_id = created.json()["id"]
    dry = contacts.post(f"/api/v1/rounds/{round_id}/launch?dry_run=true", headers=headers)
    assert [(row["channel"], row["contacts"]) for row in dry.json()["plan"]] == [("telegram", 1)]
    untargeted = contacts.post("/api/v1/rounds", headers=headers, json={"survey": "test-water"})
    assert untargeted.json()["target"] is None
    for body, problem in (({"channels": ["fax"]}, "unknown channel 'fax'"),
                          ({"languages": ["xx"]}, "unknown language 'xx'"),
                          ({"profile": {"age": ["30"]}}, "unknown profile field 'age'")):
        refused = contacts.post("/api/v1/rounds", headers=headers,
                                json={"survey": "test-water"} | body)
        assert refused.status_code == 422 and problem in refused.text, refused.text


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found[1]


def _signed_in(client, runtime, name: str = "wanjiru", language: str = "en"):
    with session_scope(runtime.database_url) as db:
        create_user(db, name, PASSWORD, "facilitator", ["kibera"], language)
    form = client.get("/console/sign-in")
    client.post("/console/sign-in", data={"name": name, "password": PASSWORD,
                                          "csrf": _csrf(form.text)})
    return client


def test_the_console_creates_a_targeted_round_shows_it_and_refuses_unknown_parts(
        runtime, contacts):
    client = _signed_in(contacts, runtime)
    home = client.get("/console").text
    assert 'name="languages" value="sw"' in home and 'name="channels" value="sms"' in home
    assert '<label for="profile">' in home and "gender, village" in home
    csrf = _csrf(home)
    form = {"csrf": csrf, "survey": "test-water", "community": "kibera"}
    created = client.post("/console/rounds", follow_redirects=False, data=form | {
        "languages": ["sw", "en"], "channels": ["sms"],
        "profile": "gender=female\r\nvillage=kibera,soweto\r\n"})
    assert created.status_code == 303, created.text
    round_id = int(created.headers["location"].rsplit("/", 1)[1])
    with session_scope(runtime.database_url) as db:
        assert db.get(Round, round_id).target == {
            "languages": ["sw", "en"], "channels": ["sms"],
            "profile": {"gender": ["female"], "village": ["kibera", "soweto"]}}
    page = client.get(f"/console/rounds/{round_id}").text
    assert ("Invites only people speaking Swahili, English; on sms; whose gender is female; "
            "whose village is kibera, soweto.") in page
    assert 'data-plan="en:sms"' in page and 'data-plan="sw:sms"' in page
    for data, problem in (({"channels": "fax"}, "unknown channel &#39;fax&#39;"),
                          ({"languages": "xx"}, "unknown language &#39;xx&#39;"),
                          ({"profile": "age=30"}, "unknown profile field &#39;age&#39;")):
        refused = client.post("/console/rounds", data=form | data)
        assert refused.status_code == 422 and problem in refused.text, refused.text


def test_the_console_and_the_cli_show_the_same_cost_from_the_plan(runtime, contacts,
                                                                   monkeypatch):
    monkeypatch.setenv("HEARD_PRICE_PER_SEGMENT", "0.05")
    monkeypatch.setenv("HEARD_CURRENCY", "KES")
    round_id = _round(runtime, "kibera")
    with session_scope(runtime.database_url) as db:
        plan = rounds.plan_launch(db, round_id)
    prices = rounds.prices_of(get_settings())
    assert prices["segments"] == 0.05
    low, high = plan.cost(prices)
    assert (low, high) == (pytest.approx(plan.total("typical_segments") * 0.05),
                           pytest.approx(plan.total("longest_segments") * 0.05))
    assert low > 0 and high > low
    line = next(line for line in plan.lines(prices) if line.channel == "sms")
    assert (line.unit, line.cost_typical) == ("segments", pytest.approx(line.typical * 0.05))
    assert next(line for line in plan.lines(prices) if line.channel == "telegram"
                ).cost_typical is None  # no money off SMS
    from heard.commands import rounds as round_commands

    monkeypatch.setattr(round_commands.console, "width", 200)  # the table's rows unwrapped
    dry = CliRunner().invoke(round_cli, ["launch", str(round_id), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{low:.2f}–{high:.2f}" in dry.output
    assert f"invitation cost {plan.invitation_cost(prices):.2f} KES" in dry.output
    client = _signed_in(contacts, runtime, "amina", "fr")
    page = client.get(f"/console/rounds/{round_id}").text
    t = translator("fr")
    assert f"{t.money(low, 'KES')} à {t.money(high, 'KES')}" in page  # the total, in French
    assert t.money(plan.invitation_cost(prices), "KES") in page
    assert t.money(0.05, "KES", exact=True) in page  # the price per segment
    assert t.span(plan.quickest(get_settings().sms_per_second)) in page
    assert 'data-plan="sw:telegram"' in page and "<td data-cost>-</td>" in page
    assert "non invités" in page  # mathare's contact, in French
