"""The web console's door: users, sign-in and sign-out, CSRF, sign-in limits, community scopes."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from heard.cli import app as cli
from heard.routes import console
from surveys import catalog
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.tables import ConsoleSession, Round, User
from surveys.users import UserError, create_user
from tests import test_dashboard
from tests.pipeline import client_for
from worker import rounds

PASSWORD = "correct horse battery"
browser = test_dashboard.browser  # the fixtures: Debian's Chromium, the app under uvicorn
server = test_dashboard.server


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found[1]


def _sign_in(client, name: str, password: str = PASSWORD, **headers: str):
    form = client.get("/console/sign-in", headers=headers)
    return client.post("/console/sign-in", headers=headers, follow_redirects=False,
                       data={"name": name, "password": password, "csrf": _csrf(form.text)})


@pytest.fixture
def people(runtime):
    """A Kibera facilitator, an admin, and a round in Kibera, one in Mathare, one for all."""
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        create_user(db, "Wanjiru", PASSWORD, "facilitator", ["Kibera"], "sw")
        create_user(db, "admin", PASSWORD, "admin", ["kibera"])
        survey = catalog.latest(db, "test-water")
        made = {community: rounds.create_round(db, survey, community).id
                for community in ("kibera", "mathare", None)}
    return client, made


def test_heard_user_create_stores_only_an_argon2_hash(runtime):
    result = CliRunner().invoke(cli, ["user", "create", "Amina", "--role", "facilitator",
                                      "--community", "kibera", "--community", "Mathare"],
                                input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "user amina: facilitator, kibera, mathare" in result.output
    with session_scope(runtime.database_url) as db:
        user = db.scalars(select(User)).one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    again = CliRunner().invoke(cli, ["user", "create", "AMINA", "--role", "admin"],
                               input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1 and "there is a user 'amina' already" in again.output
    short = CliRunner().invoke(cli, ["user", "create", "b", "--role", "admin"],
                               input="short\nshort\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output


def test_a_user_needs_a_known_role(runtime):
    with session_scope(runtime.database_url) as db, pytest.raises(UserError, match="role"):
        create_user(db, "x", PASSWORD, "owner")


def test_the_front_page_is_the_console_and_asks_for_a_sign_in(runtime):
    client = client_for(runtime)
    first = client.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/console"
    page = client.get("/console")
    assert page.url.path == "/console/sign-in" and "Sign in to heard" in page.text
    swahili = client.get("/console/sign-in", headers={"Accept-Language": "sw-KE,sw;q=0.9"})
    assert 'lang="sw"' in swahili.text


def test_a_facilitator_signs_in_sees_only_their_communitys_rounds_and_signs_out(people):
    client, made = people
    signed = _sign_in(client, " WANJIRU ")
    assert signed.status_code == 303 and signed.headers["location"] == "/console"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = client.get("/console")
    assert page.status_code == 200 and 'lang="sw"' in page.text
    shown = {int(found) for found in re.findall(r'data-round="(\d+)"', page.text)}
    assert shown == {made["kibera"]}  # not Mathare's, nor the round for everyone
    refused = client.post("/console/sign-out", data={"csrf": "forged"},
                          follow_redirects=False)
    assert refused.status_code == 403  # a form without the session's token does nothing
    assert client.get("/console", follow_redirects=False).status_code == 200
    out = client.post("/console/sign-out", data={"csrf": _csrf(page.text)},
                      follow_redirects=False)
    assert out.status_code == 303
    with session_scope(client.app.state.runtime.database_url) as db:
        assert db.scalars(select(ConsoleSession)).all() == []  # the session is gone for good
    client.cookies.set(console.SESSION_COOKIE, cookie.split(";")[0].split("=", 1)[1])
    assert client.get("/console", follow_redirects=False).status_code == 303  # replayed


def test_an_admin_sees_every_round(people):
    client, made = people
    assert _sign_in(client, "admin").status_code == 303
    page = client.get("/console").text
    assert {int(found) for found in re.findall(r'data-round="(\d+)"', page)} == set(
        made.values())


def test_a_sign_in_without_the_forms_token_is_refused(people):
    client, _ = people
    client.get("/console/sign-in")
    forged = client.post("/console/sign-in", follow_redirects=False,
                         data={"name": "admin", "password": PASSWORD, "csrf": "forged"})
    assert forged.status_code == 403 and "This form has expired" in forged.text
    assert console.SESSION_COOKIE not in forged.headers.get("set-cookie", "")


def test_failed_sign_ins_are_limited_whatever_the_password_then(people):
    client, _ = people
    for _ in range(console.SIGN_IN_ATTEMPTS):
        wrong = _sign_in(client, "admin", "not the password")
        assert wrong.status_code == 401 and "Wrong name or password." in wrong.text
    locked = _sign_in(client, "admin")  # the right password, too late
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert _sign_in(client, "nobody", "whatever else").status_code == 429  # the address too


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(people):
    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    result = CliRunner().invoke(cli, ["user", "disable", "Wanjiru"])
    assert result.exit_code == 0, result.output
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert _sign_in(client, "wanjiru").status_code == 401
    listed = CliRunner().invoke(cli, ["user", "list"])
    assert "wanjiru\tfacilitator\tkibera\tdisabled" in listed.output


def test_the_api_reference_is_served_by_heard_itself(runtime):
    client = client_for(runtime)
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(asset.startswith("/vendor/swagger-ui/") for asset in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 500, asset
    assert "https://" not in page.text  # nothing from a CDN
    assert client.get("/redoc").status_code == 404  # (ReDoc would load from one)


def test_the_api_reference_renders_offline_in_chromium(server, browser):
    """Every request the page makes stays on heard; Swagger UI lists the API's operations."""
    page = browser.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server)
               else route.abort())
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock", timeout=15000)
    assert page.locator(".opblock").count() > 10
    assert all(url.startswith(server) for url in asked)


CONTACTS = """phone,language,community,consent
+254712000001,sw,kibera,yes
+254712000002,en,kibera,yes
+254712000003,en,mathare,yes
"""


def _round_page(client, round_id: int):
    page = client.get(f"/console/rounds/{round_id}")
    assert page.status_code == 200, page.text
    return page


def test_a_facilitator_launches_reminds_closes_and_shares_their_round(people, runtime):
    from rq import Queue

    from surveys.contact_import import parse_contacts, store_contacts
    from tests.pipeline import drain
    from worker.queues import DEFAULT

    client, made = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS))
    assert _sign_in(client, "wanjiru").status_code == 303
    page = _round_page(client, made["kibera"])
    assert 'data-plan="sw:sms"' in page.text and 'data-plan="en:sms"' in page.text
    csrf = _csrf(page.text)
    forged = client.post(f"/console/rounds/{made['kibera']}/launch", data={"csrf": "x"})
    assert forged.status_code == 403 and len(Queue(DEFAULT, connection=runtime.redis)) == 0
    launched = client.post(f"/console/rounds/{made['kibera']}/launch",
                           data={"csrf": csrf, "over": "2h"}, follow_redirects=False)
    assert launched.status_code == 303
    assert launched.headers["location"].endswith("?done=launched")
    assert Queue(DEFAULT, connection=runtime.redis).jobs[-1].args == (made["kibera"], 7200.0)
    drain(runtime)  # the launch job writes the invitations
    page = _round_page(client, made["kibera"])
    assert 'data-total="invited">2<' in page.text
    reminded = client.post(f"/console/rounds/{made['kibera']}/remind",
                           data={"csrf": csrf, "who": "not-started"})
    assert reminded.status_code == 200 and "Vikumbusho vimepangwa." in reminded.text
    closed = client.post(f"/console/rounds/{made['kibera']}/close", data={"csrf": csrf})
    assert closed.status_code == 200 and 'data-status="closed"' in closed.text
    assert f'action="/console/rounds/{made["kibera"]}/share"' in closed.text
    assert f'action="/console/rounds/{made["kibera"]}/launch"' not in closed.text
    queued = len(Queue(DEFAULT, connection=runtime.redis))
    again = client.post(f"/console/rounds/{made['kibera']}/launch", data={"csrf": csrf})
    t = translator("sw")  # the facilitator's language, not the CLI's English
    assert again.status_code == 409 and t.gettext(
        "This round is {status}: only an open round can do this.",
        status=t.gettext("closed")) in again.text
    assert len(Queue(DEFAULT, connection=runtime.redis)) == queued  # no doomed job


def test_nobody_sees_or_acts_on_a_round_outside_their_communities(people, runtime):
    from rq import Queue

    from worker.queues import DEFAULT

    client, made = people
    assert _sign_in(client, "wanjiru").status_code == 303
    csrf = _csrf(client.get("/console").text)
    for round_id in (made["mathare"], made[None], 999999):
        assert client.get(f"/console/rounds/{round_id}").status_code == 404
        acted = client.post(f"/console/rounds/{round_id}/launch", data={"csrf": csrf})
        assert acted.status_code == 404
    assert len(Queue(DEFAULT, connection=runtime.redis)) == 0


def test_an_analyst_sees_a_round_but_cannot_act_on_it(people, runtime):
    client, made = people
    with session_scope(runtime.database_url) as db:
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    assert _sign_in(client, "otieno").status_code == 303
    page = _round_page(client, made["kibera"])
    assert "/launch" not in page.text  # no action forms
    refused = client.post(f"/console/rounds/{made['kibera']}/close",
                          data={"csrf": _csrf(page.text)})
    assert refused.status_code == 403 and "Your role cannot do this." in refused.text
    assert 'data-status="open"' in _round_page(client, made["kibera"]).text


@pytest.mark.parametrize("width", [375, 1280])
def test_the_console_fits_a_phone_and_a_projector(people, runtime, server, browser, width):
    """No page is wider than the screen (tables scroll in their own box); screenshots kept."""
    from surveys.contact_import import parse_contacts, store_contacts

    _, made = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS))
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(f"{server}/console")
    page.fill("#name", "wanjiru")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/console")
    def fits(path: str, shot: str) -> None:
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        smallest = page.evaluate("Math.min(...[...document.querySelectorAll('body *')]"
                                 ".filter(e => e.childNodes.length && e.innerText)"
                                 ".map(e => parseFloat(getComputedStyle(e).fontSize)))")
        assert smallest >= 14, (path, smallest)  # readable on a phone
        page.screenshot(path=test_dashboard.ARTIFACTS / f"console-{shot}-{width}.png",
                        full_page=True)

    for path, shot in ((f"/console/rounds/{made['kibera']}", "round"), ("/console", "home"),
                       ("/console/surveys", "surveys"),
                       ("/console/contacts?phone=%2B254712000001", "contacts")):
        page.goto(f"{server}{path}")
        fits(path, shot)
    page.set_input_files("#file", files=[{  # the import's mapping page, then its preview
        "name": "people.csv", "mimeType": "text/csv", "buffer": (
            b"Mobile Number,Lugha,Jina kamili la mshiriki,Gender,Village,Time zone\n"
            b"0712 000 011,Kiswahili,Asha Wanjiku Mwangi,female,Kibera,Africa/Nairobi\n"
            b"not a number,sw,Baraka,male,Mathare,\n")}])
    page.click("form[action='/console/contacts/imports'] button[type=submit]")
    page.wait_for_url("**/console/contacts/imports/*")
    fits("import mapping", "import-mapping")
    page.fill("#region", "KE")
    page.click("form[action$='/preview'] button[type=submit]")
    page.wait_for_selector("[data-preview]")
    fits("import preview", "import-preview")


def test_a_facilitator_creates_a_round_only_for_their_communities(people, runtime):
    client, made = people
    assert _sign_in(client, "wanjiru").status_code == 303
    home = client.get("/console").text
    assert '<select id="community" name="community"><option>kibera</option></select>' in home
    csrf = _csrf(home)
    elsewhere = client.post("/console/rounds", data={"csrf": csrf, "survey": "test-water",
                                                     "community": "mathare"})
    assert elsewhere.status_code == 422 and "Chagua mojawapo ya jamii zako." in elsewhere.text
    bad = client.post("/console/rounds", data={"csrf": csrf, "survey": "test-water",
                                               "community": "kibera", "remind_after": "soon"})
    assert bad.status_code == 422 and "saa kamili zilizotenganishwa kwa koma" in bad.text  # sw
    created = client.post("/console/rounds", follow_redirects=False, data={
        "csrf": csrf, "survey": "test-water", "community": "Kibera",
        "opens": "2099-01-05T06:00", "closes": "2099-01-19T18:00", "remind_after": "72, 24"})
    assert created.status_code == 303
    round_id = int(created.headers["location"].rsplit("/", 1)[1])
    with session_scope(runtime.database_url) as db:
        stored = db.get(Round, round_id)
        assert (stored.community, stored.status, stored.reminder_hours) == (
            "kibera", "scheduled", [24, 72])
        assert stored.opens_at.isoformat().startswith("2099-01-05T06:00")


def test_a_facilitator_uploads_a_survey_and_sees_its_problems_at_line_and_column(people):
    from tests.conftest import HERE

    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    page = client.get("/console/surveys")
    assert page.status_code == 200 and 'data-survey="test-water"' in page.text
    csrf = _csrf(page.text)
    text = (HERE / "data" / "water.yaml").read_text(encoding="utf-8")
    changed = text.replace("Where do you get water?", "Where do you get drinking water?")
    stored = client.post("/console/surveys", data={"csrf": csrf},
                         files={"file": ("water.yaml", changed.encode(), "application/yaml")})
    assert stored.status_code == 200 and 'data-stored="test-water:2"' in stored.text
    assert 'data-segments="bn"' in stored.text and "(UCS-2)" in stored.text
    per_person = re.search(r'data-cost="bn">([^<]+)<', stored.text)[1]  # a whole conversation
    assert re.fullmatch(r"US\$[\d.]+( to US\$[\d.]+)?|[^<]*\d[^<]*", per_person), per_person
    broken = client.post("/console/surveys", data={"csrf": csrf},
                         files={"file": ("mine.yaml", b"id: [", "application/yaml")})
    assert broken.status_code == 422
    assert re.search(r"<li data-problem>mine\.yaml:1:6: YAML", broken.text), broken.text
    latin1 = client.post("/console/surveys", data={"csrf": csrf},
                         files={"file": ("old.yaml", "id: café".encode("cp1252"), "text/plain")})
    assert latin1.status_code == 422 and "old.yaml" in latin1.text
    forged = client.post("/console/surveys", data={"csrf": "x"},
                         files={"file": ("water.yaml", changed.encode(), "application/yaml")})
    assert forged.status_code == 403


def test_results_are_every_figure_for_analysts_and_the_release_for_facilitators(people,
                                                                                 runtime):
    client, made = people
    with session_scope(runtime.database_url) as db:
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    assert _sign_in(client, "otieno").status_code == 303
    analyst = client.get(f"/console/rounds/{made['kibera']}/results")
    assert analyst.status_code == 200 and 'class="badge public"' not in analyst.text
    assert 'class="badge"' in analyst.text  # the analyst view
    assert client.get(f"/console/rounds/{made['mathare']}/results").status_code == 404
    client.cookies.clear()
    assert _sign_in(client, "wanjiru").status_code == 303
    early = client.get(f"/console/rounds/{made['kibera']}/results")  # open: no release yet
    assert early.status_code == 409 and 'class="badge' not in early.text
    _closed(runtime, made["kibera"])
    facilitator = client.get(f"/console/rounds/{made['kibera']}/results")
    assert facilitator.status_code == 200 and 'class="badge public"' in facilitator.text
    assert 'lang="sw"' in facilitator.text


def _closed(runtime, round_id: int) -> None:
    """The round closed (as its close does, without sharing): its release may be cut."""
    with session_scope(runtime.database_url) as db:
        db.get_one(Round, round_id).status = "closed"


def test_a_facilitator_opts_out_and_erases_a_person_of_their_community_on_request(people,
                                                                                   runtime):
    from surveys.contact_import import parse_contacts, store_contacts
    from surveys.tables import AuditEntry, Contact

    client, _ = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS))
    assert _sign_in(client, "wanjiru").status_code == 303
    found = client.get("/console/contacts", params={"phone": "0712 000 001", "region": "ke"})
    assert found.status_code == 200 and found.text.count("data-contact=") == 1
    contact_id = int(re.search(r'data-contact="(\d+)"', found.text)[1])
    other = client.get("/console/contacts", params={"phone": "+254712000003"})  # Mathare's
    assert "data-contact=" not in other.text
    csrf = _csrf(found.text)
    out = client.post(f"/console/contacts/{contact_id}/opt-out", data={"csrf": csrf})
    assert out.status_code == 200
    asked = client.post(f"/console/contacts/{contact_id}/erase", data={"csrf": csrf})
    assert 'name="confirm" value="yes"' in asked.text  # asked first, nothing done yet
    with session_scope(runtime.database_url) as db:
        assert db.get_one(Contact, contact_id).address == "+254712000001"
        assert db.get_one(Contact, contact_id).opted_out is True
    erased = client.post(f"/console/contacts/{contact_id}/erase",
                         data={"csrf": csrf, "confirm": "yes"})
    assert erased.status_code == 200 and "data-contact=" not in erased.text
    with session_scope(runtime.database_url) as db:
        assert db.get_one(Contact, contact_id).address.startswith("erased:")
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.actor == "console:wanjiru" and entry.action == "erase"
    mathare = client.post(f"/console/contacts/{contact_id + 2}/erase",
                          data={"csrf": csrf, "confirm": "yes"})
    assert mathare.status_code == 404  # not theirs to erase


def test_a_user_chooses_the_consoles_language(people):
    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    page = client.get("/console")
    assert 'lang="sw"' in page.text and '<option value="bn">বাংলা</option>' in page.text
    csrf = _csrf(page.text)
    assert client.post("/console/language", data={"csrf": csrf, "lang": "xx"}).status_code \
        == 403
    assert client.post("/console/language", data={"csrf": "x", "lang": "en"}).status_code \
        == 403
    chosen = client.post("/console/language", data={"csrf": csrf, "lang": "bn"})
    assert chosen.status_code == 200 and 'lang="bn"' in chosen.text  # from now on
    assert "রাউন্ড" in client.get("/console").text


def test_an_admin_makes_lists_and_revokes_api_tokens(people, runtime):
    client, made = people
    assert _sign_in(client, "wanjiru").status_code == 303
    assert client.get("/console/tokens").status_code == 403  # admins only
    client.cookies.clear()
    assert _sign_in(client, "admin").status_code == 303
    page = client.get("/console/tokens")
    csrf = _csrf(page.text)
    made_one = client.post("/console/tokens", data={"csrf": csrf, "name": "kobo sync",
                                                    "role": "analyst",
                                                    "communities": "Kibera, "})
    token = re.search(r"<code data-token>([^<]+)</code>", made_one.text)[1]
    headers = {"Authorization": f"Bearer {token}"}
    _closed(runtime, made["kibera"])  # its release: what an analyst's token reads
    assert client.get(f"/api/v1/rounds/{made['kibera']}/summary", headers=headers
                      ).status_code == 200
    assert client.get(f"/api/v1/rounds/{made['mathare']}/summary", headers=headers
                      ).status_code == 404  # made for Kibera only
    token_id = int(re.search(r'data-api-token="(\d+)"', made_one.text)[1])
    revoked = client.post(f"/console/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 200 and token not in revoked.text  # never shown again
    assert client.get(f"/api/v1/rounds/{made['kibera']}/summary", headers=headers
                      ).status_code == 401


def test_an_analyst_downloads_pseudonymous_answers_and_it_is_logged(people, runtime):
    from surveys.contact_import import parse_contacts, store_contacts
    from surveys.messages import Inbound
    from surveys.tables import AuditEntry
    from tests.pipeline import drain
    from worker.ingest import ingest
    from worker.queues import enqueue_outbound

    client, made = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS))
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    rounds.launch(runtime.database_url, runtime.redis, made["kibera"], enqueue_outbound)
    for number, text in enumerate(["1", "2"]):  # yes, then the first answer
        ingest(runtime.database_url, runtime.redis,
               Inbound("sms", "+254712000002", text, f"x-{number}"))
        drain(runtime)
    assert _sign_in(client, "otieno").status_code == 303
    page = _round_page(client, made["kibera"])
    assert f'/console/rounds/{made["kibera"]}/export.csv' in page.text
    csv_file = client.get(f"/console/rounds/{made['kibera']}/export.csv")
    assert csv_file.status_code == 200 and "attachment" in csv_file.headers["content-disposition"]
    header, *rows = csv_file.text.splitlines()
    assert "source" in header.split(",") and len(rows) == 2
    assert "+2547" not in csv_file.text and "712000002" not in csv_file.text  # pseudonymous
    xlsx = client.get(f"/console/rounds/{made['kibera']}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get(f"/console/rounds/{made['mathare']}/export.csv").status_code == 404
    with session_scope(runtime.database_url) as db:
        actors = {entry.actor for entry in db.scalars(select(AuditEntry))}
    assert "console:otieno" in actors
    client.cookies.clear()
    assert _sign_in(client, "wanjiru").status_code == 303
    assert client.get(f"/console/rounds/{made['kibera']}/export.csv").status_code == 403


def test_a_facilitator_publishes_and_withdraws_a_rounds_public_page(people, runtime):
    client, made = people
    assert _sign_in(client, "wanjiru").status_code == 303
    csrf = _csrf(_round_page(client, made["kibera"]).text)
    early = client.post(f"/console/rounds/{made['kibera']}/publish", data={"csrf": csrf})
    assert early.status_code == 409  # an open round's release is cut when it closes
    assert "/publish" not in _round_page(client, made["kibera"]).text
    _closed(runtime, made["kibera"])
    published = client.post(f"/console/rounds/{made['kibera']}/publish", data={"csrf": csrf})
    assert published.status_code == 200 and "?done=published" in str(published.url)
    address = re.search(r'<a href="(/results/[^"]+)" data-public>', published.text)[1]
    assert client.get(address).status_code == 200  # anyone may see it
    withdrawn = client.post(f"/console/rounds/{made['kibera']}/unpublish", data={"csrf": csrf})
    assert withdrawn.status_code == 200 and "data-public" not in withdrawn.text
    assert client.get(address).status_code == 404  # for good


def test_a_rounds_figures_change_on_its_page_without_a_reload(people, runtime, server,
                                                             browser):
    """The round page fetches its live figures again while it is open: a launch shows up."""
    from surveys.contact_import import parse_contacts, store_contacts
    from worker.queues import enqueue_outbound

    client, made = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS))
    assert _sign_in(client, "wanjiru").status_code == 303
    fragment = client.get(f"/console/rounds/{made['kibera']}/live")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert re.search(r'data-total="invited">0<', fragment.text)
    assert client.get(f"/console/rounds/{made['mathare']}/live").status_code == 404
    page = browser.new_page()
    page.goto(f"{server}/console")
    page.fill("#name", "wanjiru")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/console")
    page.goto(f"{server}/console/rounds/{made['kibera']}")
    invited = page.locator('[data-total="invited"]')
    assert invited.inner_text() == "0"
    page.evaluate("window.notReloaded = true")
    rounds.launch(runtime.database_url, runtime.redis, made["kibera"], enqueue_outbound)
    page.wait_for_function("document.querySelector('[data-total=\"invited\"]').innerText"
                           " === '2'", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True  # the same page, its figures new


def test_a_facilitator_tries_a_survey_in_the_simulator_from_the_console(people, runtime,
                                                                         monkeypatch):
    """The surveys page links each survey to the simulator, which a signed-in facilitator
    uses without a token (in production, where it needs one); an analyst's session does not
    open it."""
    client, _ = people
    monkeypatch.setenv("HEARD_SIMULATOR", "token")  # as in production
    message = {"survey": "test-water", "address": "try-1", "text": "hello"}
    assert client.post("/api/v1/simulate", json=message).status_code == 401  # production
    assert _sign_in(client, "wanjiru").status_code == 303
    surveys = client.get("/console/surveys").text
    assert 'href="/simulator?survey=test-water" data-try="test-water"' in surveys
    tried = client.post("/api/v1/simulate", json=message)
    assert tried.status_code == 202 and tried.json()["inbox_id"] is not None
    with session_scope(runtime.database_url) as db:
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    client.cookies.clear()
    assert _sign_in(client, "otieno").status_code == 303
    assert "data-try" not in client.get("/console/surveys").text
    assert client.post("/api/v1/simulate", json={**message, "text": "x"}).status_code == 401


def test_no_console_route_shows_or_acts_on_another_communitys_round_or_contact(people,
                                                                              runtime):
    """Every console route with a round or a contact in its path, walked from the console's
    own parts (a new route is walked too): Mathare's answer 404 to a Kibera facilitator (and
    to an analyst, who may not act anywhere: 403 there), and nothing is queued or changed."""
    from fastapi.routing import APIRoute
    from rq import Queue

    from surveys.contact_import import parse_contacts, store_contacts
    from surveys.tables import Contact
    from worker.queues import DEFAULT

    client, made = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS))
        mathare = db.scalars(select(Contact.id).where(Contact.community == "mathare")).one()
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    values = {"round_id": [made["mathare"], made[None]], "contact_id": [mathare],
              "action": [*console.round_pages.DONE, "opt-out", "erase"],
              "kind": list(console.round_pages.EXPORTED)}
    walked = []
    for name in ("wanjiru", "otieno"):
        client.cookies.clear()
        assert _sign_in(client, name).status_code == 303
        csrf = _csrf(client.get("/console").text)
        for route in (route for part in console.PARTS for route in part.router.routes):
            params = re.findall(r"{(\w+)}", getattr(route, "path", ""))
            if not isinstance(route, APIRoute) or not route.path.startswith("/console/") \
                    or not {"round_id", "contact_id"} & set(params):
                continue
            assert set(params) <= set(values), f"{route.path}: what to walk it with?"
            paths = [route.path]
            for param in params:
                paths = [path.replace(f"{{{param}}}", str(value)) for path in paths
                         for value in values[param]]
            for path, method in ((path, method) for path in paths for method in route.methods):
                answer = client.request(method, path, data={"csrf": csrf, "confirm": "yes"})
                refused = {404} if name == "wanjiru" or method == "GET" else {403, 404}
                assert answer.status_code in refused, (name, method, path, answer.status_code)
                walked.append((method, route.path))
    assert len({path for _, path in walked}) >= 6  # rounds: page, live, results, actions...
    assert len(Queue(DEFAULT, connection=runtime.redis)) == 0
    with session_scope(runtime.database_url) as db:
        contact = db.get_one(Contact, mathare)
        assert contact.opted_out is False and contact.address == "+254712000003"


def test_results_show_one_community_of_the_release_to_those_who_may_see_it(runtime):
    """A round for everyone: the public page and the console offer each community of its
    release; a Kibera analyst does not see a round for everyone, nor its Dhaka part."""
    from surveys.release import publish
    from tests.test_release import CHOICES, make_round, survey_of

    people = [{"source": CHOICES["source"][i % 3]} for i in range(60)]
    round_id = make_round(runtime.database_url, survey_of([], conditional=False), people,
                          ["kibera"] * 45 + ["dhaka"] * 15)
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        public = publish(db, round_id)
        create_user(db, "admin", PASSWORD, "admin")
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    whole = client.get(public).text
    assert re.findall(r"<option>(\w+)</option>", whole) == ["dhaka", "kibera"]
    assert 'data-participants="60"' in whole
    kibera = client.get(public, params={"community": "kibera", "lang": "en"}).text
    assert 'data-participants="45"' in kibera and "<option selected>kibera</option>" in kibera
    assert '<input type="hidden" name="lang" value="en">' in kibera  # kept by the form
    assert _sign_in(client, "admin").status_code == 303
    page = client.get(f"/console/rounds/{round_id}/results", params={"community": "dhaka"})
    assert page.status_code == 200 and 'data-participants="15"' in page.text
    client.cookies.clear()
    assert _sign_in(client, "otieno").status_code == 303
    for community in ("dhaka", "kibera", ""):
        assert client.get(f"/console/rounds/{round_id}/results",
                          params={"community": community}).status_code == 404


def test_anyone_who_sees_a_round_downloads_its_release_as_a_spreadsheet(runtime):
    """The figures the public page shows (hidden ones empty with their reason, the sensitive
    question left out), for facilitators to share; text is defused; none before the close."""
    import csv
    import io

    from tests.test_release import SENSITIVE_QUESTION, make_round, survey_of

    people = ([{"gender": "woman", "source": "tap", "violence": "yes"}] * 44
              + [{"gender": "man", "source": "well", "violence": "no"}] * 33
              + [{"gender": "=cmd()", "source": "river", "violence": "no"}] * 2)
    survey = survey_of(["gender"], conditional=False, more=SENSITIVE_QUESTION)
    round_id = make_round(runtime.database_url, survey, people, community="kibera")
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        create_user(db, "wanjiru", PASSWORD, "facilitator", ["kibera"])
        db.get_one(Round, round_id).status = "open"
    assert _sign_in(client, "wanjiru").status_code == 303
    assert client.get(f"/console/rounds/{round_id}/results.csv").status_code == 409
    assert "results.csv" not in client.get(f"/console/rounds/{round_id}").text
    _closed(runtime, round_id)
    assert "results.csv" in client.get(f"/console/rounds/{round_id}").text
    answer = client.get(f"/console/rounds/{round_id}/results.csv")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {row["question"] for row in rows} == {"gender", "source"}  # not "violence"
    total = [row for row in rows if row["question"] == "source" and not row["by"]
             and not row["answer"] and not row["community"]]
    assert total[0]["people"] == "79"
    few = [row for row in rows if row["question"] == "source" and row["answer"] == "river"
           and not row["by"]]
    assert few[0]["people"] == "" and few[0]["hidden"] == "few"  # 2 people: hidden, and why
    assert not any(cell.startswith("=") for row in rows for cell in row.values())


def test_after_a_launch_the_round_page_says_nobody_is_left_to_invite(people, runtime):
    """The plan is what a launch would send now: none while the launch is being queued, and
    'nobody is left' once everyone it could reach was invited."""
    from surveys.contact_import import parse_contacts, store_contacts
    from worker.queues import enqueue_outbound

    client, made = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(CONTACTS))
    assert _sign_in(client, "wanjiru").status_code == 303
    assert "data-plan=" in _round_page(client, made["kibera"]).text
    launching = client.get(f"/console/rounds/{made['kibera']}", params={"done": "launched"})
    assert "data-plan=" not in launching.text and "data-nobody-left" not in launching.text
    rounds.launch(runtime.database_url, runtime.redis, made["kibera"], enqueue_outbound)
    after = _round_page(client, made["kibera"]).text
    assert "data-nobody-left" in after and "data-plan=" not in after
    assert "data-left-out" in after  # who was left out (already invited), and why


def test_a_facilitator_uploads_a_survey_with_its_recordings(people, runtime):
    """The recordings a survey names come in the same form (several files): stored by their
    sha256, served to calls; one missing is a problem naming question, language and file."""
    from tests.test_voice_audio import BENGALI, RECORDINGS, sha

    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    page = client.get("/console/surveys")
    assert 'name="audio"' in page.text and "multiple" in page.text
    csrf = _csrf(page.text)
    survey = ("file", ("bengali.yaml", BENGALI.encode(), "application/yaml"))
    recordings = [("audio", (name, data, "audio/mpeg" if name.endswith(".mp3") else "audio/wav"))
                  for name, data in RECORDINGS.items()]
    stored = client.post("/console/surveys", data={"csrf": csrf}, files=[survey, *recordings])
    assert stored.status_code == 200 and 'data-stored="test-bn-audio:1"' in stored.text
    played = client.get(f"/voice/audio/{sha(RECORDINGS['source_bn.wav'])}")
    assert played.content == RECORDINGS["source_bn.wav"]
    missing = client.post("/console/surveys", data={"csrf": csrf},
                          files=[survey, *recordings[:-1]])
    assert missing.status_code == 422
    assert ("bengali.yaml:9:17: audio: closing (bn): closing_bn.mp3: not uploaded with the "
            "survey") in html.unescape(missing.text)
