"""The console's whole journey in Chromium, as a facilitator and as an analyst would take it.

A Kibera facilitator signs in, uploads a survey, imports contacts through the column mapping,
creates a round, reads its dry run, launches it, watches its figures change (without a reload)
as people answer by SMS through signed Twilio webhooks, reminds those part-way, closes it,
shares the results and downloads them; an analyst signs in, reads the results and downloads
the answers. The rq jobs run in this process (tests.pipeline.drain) as a worker would run
them; Twilio is the local fake. Every page passes axe-core, and each step is kept as a
screenshot at 1280 px and 375 px (tests/artifacts/journey-*.png).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from surveys.database import session_scope
from surveys.tables import Contact, SurveySession
from surveys.users import create_user
from tests import test_dashboard
from tests.accessibility import assert_accessible
from tests.pipeline import drain

browser = test_dashboard.browser  # Debian's Chromium through Playwright
server = test_dashboard.server  # the real app under uvicorn
PASSWORD = "correct horse battery"
PUBLIC = "https://heard.example.org"  # PUBLIC_BASE_URL as the twilio fixture sets it
SURVEY = """id: journey-water
version: 1
languages: [en, sw]
title: {en: Water in Kibera, sw: Maji Kibera}
consent: {en: Do you agree to answer?, sw: Unakubali kujibu?}
closing: {en: Thank you!, sw: Asante!}
questions:
  - id: source
    type: choice
    text: {en: Where do you get water?, sw: Unapata maji wapi?}
    choices:
      - {value: tap, text: {en: Tap at home, sw: Bomba nyumbani}}
      - {value: kiosk, text: {en: Water kiosk, sw: Kioski cha maji}}
  - id: treated
    type: yesno
    text: {en: Do you treat your water?, sw: "Je, unatibu maji yako?"}
"""
CONTACTS = """Mobile No,Lugha,Jina,Gender,Agreed
0712000001,Kiswahili,Achieng Otieno,female,yes
0712000002,English,Baraka Mwangi,male,yes
0712000003,sw,Chebet Kiprop,female,ndiyo
not a number,sw,Dan,male,yes
"""
PEOPLE = ["+254712000001", "+254712000002", "+254712000003"]


@pytest.fixture
def journey(runtime, twilio, server, browser, tmp_path):
    """The app and fake Twilio, a Kibera facilitator and analyst, and the files they bring."""
    with session_scope(runtime.database_url) as db:
        create_user(db, "wanjiru", PASSWORD, "facilitator", ["kibera"])
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    (tmp_path / "journey.yaml").write_text(SURVEY, encoding="utf-8")
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    return runtime, twilio, server, browser, tmp_path


class Walk:
    """A signed-in person's browser: every page it shows is checked by axe and kept as a
    screenshot at a projector's and a phone's width."""

    def __init__(self, browser, server: str, who: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900},
                                           accept_downloads=True)
        self.page, self.server, self.who, self.step = self.context.new_page(), server, who, 0
        self.page.goto(f"{server}/console")
        self.page.fill("#name", who)
        self.page.fill("#password", PASSWORD)
        self.page.click("form[action='/console/sign-in'] button[type=submit]")
        self.page.wait_for_url(f"{server}/console")

    def seen(self, name: str) -> None:
        """The page as it stands: accessible, and photographed at both widths."""
        assert_accessible(self.page, f"{self.who}: {name}")
        self.step += 1
        test_dashboard.ARTIFACTS.mkdir(exist_ok=True)
        for width in (1280, 375):
            self.page.set_viewport_size({"width": width, "height": 900})
            assert self.page.evaluate("document.documentElement.scrollWidth") <= width, name
            shot = f"journey-{self.who}-{self.step:02d}-{name}-{width}.png"
            self.page.screenshot(full_page=True, path=str(test_dashboard.ARTIFACTS / shot))
        self.page.set_viewport_size({"width": 1280, "height": 900})

    def press(self, action: str) -> None:
        """A button of the round page's forms, by where it posts."""
        with self.page.expect_navigation():
            self.page.click(f"form[action$='/{action}'] button[type=submit]")

    def total(self, key: str) -> str:
        return self.page.locator(f"[data-total='{key}']").first.inner_text()

    def waits_for_total(self, key: str, value: int) -> None:
        """The round page's live figure becomes `value` without a reload (its script)."""
        self.page.wait_for_function(
            "([key, value]) => document.querySelector(`[data-total='${key}']`).innerText"
            " === value", arg=[key, str(value)], timeout=20_000)

    def download(self, selector: str) -> bytes:
        with self.page.expect_download() as started:
            self.page.click(selector)
        return Path(started.value.path()).read_bytes()


def sms(server: str, sender: str, body: str, sid: str) -> None:
    """A person's SMS, as Twilio posts it to heard (signed with the account's token)."""
    form = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender,
            "To": "+15005550006", "Body": body, "NumMedia": "0"}
    signature = RequestValidator("t").compute_signature(PUBLIC + "/sms/twilio", form)
    answer = httpx.post(f"{server}/sms/twilio", data=form,
                        headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200, answer.text


def test_a_facilitator_and_an_analyst_take_a_round_from_start_to_end(journey):
    runtime, twilio, server, browser, files = journey
    facilitator = Walk(browser, server, "wanjiru")
    page = facilitator.page
    facilitator.seen("rounds")

    # a survey, uploaded and checked
    page.click("nav a[href='/console/surveys']")
    page.set_input_files("#file", str(files / "journey.yaml"))
    with page.expect_navigation():
        page.click("form[action='/console/surveys'] button[type=submit]")
    assert page.locator("[data-stored='journey-water:1']").count() == 1, page.inner_text("main")
    assert page.locator("[data-try='journey-water']").count() == 1  # Try it, in the simulator
    facilitator.seen("survey-uploaded")

    # contacts: the file, what each column is, a preview, the import and its report
    page.goto(f"{server}/console/contacts")
    page.set_input_files("form[action='/console/contacts/imports'] input[type=file]",
                         str(files / "contacts.csv"))
    with page.expect_navigation():
        page.click("form[action='/console/contacts/imports'] button[type=submit]")
    facilitator.seen("import-mapping")
    chosen = {name: page.locator(f"[data-column='{name}'] select").input_value()
              for name in ("Mobile No", "Lugha", "Jina", "Gender", "Agreed")}
    assert chosen == {"Mobile No": "phone", "Lugha": "language", "Jina": "drop",
                      "Gender": "drop", "Agreed": "consent"}  # a name is not kept
    page.select_option("[data-column='Gender'] select", "profile")
    page.fill("[data-column='Gender'] input[type=text]", "gender")
    page.fill("#region", "KE")  # numbers written without +254
    with page.expect_navigation():
        page.click("form[action$='/preview'] button[type=submit]")
    preview = page.locator("[data-preview]")
    assert preview.count() == 1, page.inner_text("main")
    assert preview.get_attribute("data-created") == "3" and preview.get_attribute(
        "data-bad") == "1"
    assert page.locator("[data-bad-line='5']").count() == 1  # "not a number", by its line
    facilitator.seen("import-preview")
    with page.expect_navigation():
        page.click("form[action$='/import'] button[type=submit]")
    drain(runtime)  # the import job, as a worker runs it
    page.reload()
    assert page.locator("[data-state='done']").get_attribute("data-created") == "3"
    facilitator.seen("import-report")
    with session_scope(runtime.database_url) as db:
        stored = {c.address: (c.language, c.community, c.profile) for c in db.query(Contact)}
    assert stored == {PEOPLE[0]: ("sw", "kibera", {"gender": "female"}),
                      PEOPLE[1]: ("en", "kibera", {"gender": "male"}),
                      PEOPLE[2]: ("sw", "kibera", {"gender": "female"})}

    # a round of the new survey for Kibera, and its dry run
    page.goto(f"{server}/console")
    page.select_option("#survey", "journey-water")
    with page.expect_navigation():
        page.click("form[action='/console/rounds'] button[type=submit]")
    round_url = page.url
    round_id = int(re.search(r"/console/rounds/(\d+)$", round_url)[1])
    assert facilitator.total("contacts") == "3"  # the dry run: whom a launch would invite
    assert page.locator("[data-total='cost']").inner_text().strip() not in ("", "-")
    facilitator.seen("round-dry-run")

    # the launch, then the figures change on the page while people answer
    page.fill("#over", "")
    facilitator.press("launch")
    assert "done=launched" in page.url
    page.evaluate("window.notReloaded = true")
    drain(runtime)  # the launch job writes and sends the invitations
    assert {message["To"] for message in twilio.sent} == set(PEOPLE)
    facilitator.waits_for_total("invited", 3)
    for person, answers in zip(PEOPLE, (["1", "1", "1"], ["1", "2", "2"], ["1", "2"]), strict=True):
        for number, text in enumerate(answers):
            sms(server, person, text, f"SM{person[-3:]}{number}")
            drain(runtime)
    facilitator.waits_for_total("started", 3)
    facilitator.waits_for_total("completed", 2)
    assert page.evaluate("window.notReloaded") is True  # the same page, its figures new
    facilitator.seen("round-answering")

    # a reminder to the one part-way, then the close, the results shared and downloaded
    page.select_option("#who", "part-way")
    sent_before = len(twilio.sent)
    facilitator.press("remind")
    assert "done=reminded" in page.url
    drain(runtime)
    reminded = {message["To"] for message in twilio.sent[sent_before:]}
    assert reminded == {PEOPLE[2]}
    facilitator.press("close")
    assert "done=closed" in page.url and page.locator("[data-status='closed']").count() == 1
    drain(runtime)  # the results go to those who took part
    facilitator.press("share")
    assert "done=shared" in page.url
    facilitator.seen("round-closed")
    shared = facilitator.download("a[href$='/results.csv']")
    rows = list(csv.DictReader(io.StringIO(shared.decode("utf-8"))))
    assert {row["question"] for row in rows} == {"source", "treated"}
    assert not any(person[1:] in shared.decode() for person in PEOPLE)
    page.click("a[href$='/results']")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Water in Kibera"
    facilitator.seen("results-release")
    assert page.context.request.get(f"{server}/console/rounds/{round_id}/export.csv"
                                    ).status == 403  # answers are the analysts'
    facilitator.context.close()

    # the analyst: the results, every figure, and the answers as a pseudonymous download
    analyst = Walk(browser, server, "otieno")
    analyst.page.goto(round_url)
    analyst.seen("round")
    analyst.page.click("a[href$='/results']")
    analyst.page.wait_for_load_state()
    assert analyst.page.locator("[data-participants]").first.get_attribute(
        "data-participants") == "3"
    analyst.seen("results-all")
    analyst.page.goto(round_url)
    answers = analyst.download("a[href$='/export.csv']").decode("utf-8")
    table = list(csv.DictReader(io.StringIO(answers)))
    assert sorted(row["source"] for row in table) == ["kiosk", "kiosk", "tap"]
    assert not any(person[1:] in answers for person in PEOPLE)  # pseudonymous
    with session_scope(runtime.database_url) as db:
        assert db.query(SurveySession).filter_by(status="completed").count() == 2
    analyst.context.close()
