"""Every page of heard passes axe-core (WCAG 2.x A and AA) in Chromium, at phone and projector
widths, in the states people meet: errors shown, forms open, confirmations asked.

The pages are reached as people reach them (signing in, clicking, uploading) in the real app
under uvicorn; tests/accessibility.py runs the vendored axe-core on each. One database (SQLite)
is enough: what is checked is the HTML the templates make.
"""

from __future__ import annotations

import pytest

from surveys.contact_import import parse_contacts, store_contacts
from surveys.database import session_scope
from surveys.users import create_user
from tests import test_console, test_dashboard
from tests.accessibility import accessibility_problems, keyboard_problems
from tests.test_summaries import build_round

PASSWORD = test_console.PASSWORD
people = test_console.people  # a Kibera facilitator, an admin, rounds in Kibera and elsewhere
browser = test_dashboard.browser
server = test_dashboard.server

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WIDTHS = pytest.mark.parametrize("width", [375, 1280])


def _sign_in(page, server: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{server}/console/sign-in")
    page.fill("#name", name)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def _checked(page, name: str, found: list[str]) -> None:
    """Collect this page's problems, so one run lists every page's."""
    found.extend(problem for problem in (accessibility_problems(page, name),
                                         keyboard_problems(page, name)) if problem)


@WIDTHS
def test_every_facilitator_page_passes_axe(people, runtime, server, browser, width):
    _, made = people
    with session_scope(runtime.database_url) as db:
        store_contacts(db, *parse_contacts(test_console.CONTACTS))
    results_round = build_round(runtime.database_url)  # closed, in Kibera, with answers
    public = test_dashboard.published_at(runtime, results_round)
    page = browser.new_page(viewport={"width": width, "height": 800})
    found: list[str] = []

    page.goto(f"{server}/console/sign-in")
    _checked(page, "sign-in", found)
    _sign_in(page, server, "wanjiru", "not the password")
    assert page.locator("[role=alert]").count() == 1
    _checked(page, "sign-in, refused", found)

    _sign_in(page, server, "wanjiru")
    assert page.locator("form[action='/console/rounds']").count() == 1
    _checked(page, "rounds, with the new-round form", found)

    page.goto(f"{server}/console/rounds/{made['kibera']}")
    assert page.locator("[data-plan]").count() == 2
    _checked(page, "round, open, with a launch plan", found)

    page.goto(f"{server}/console/rounds/{results_round}")
    assert page.locator("[data-status=closed]").count() == 1
    _checked(page, "round, closed", found)

    page.goto(f"{server}/console/rounds/{results_round}/results")
    assert page.locator(".badge.public").count() == 1
    _checked(page, "results, the release a facilitator sees", found)

    page.goto(f"{server}/console/surveys")
    page.set_input_files("#file", files=[{"name": "mine.yaml", "mimeType": "application/yaml",
                                          "buffer": b"id: ["}])
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.locator("[data-problem]").count() == 1
    _checked(page, "surveys, with an upload's problems", found)

    page.goto(f"{server}/console/contacts?phone=%2B254712000001")
    with page.expect_navigation():
        page.click("[data-contact] form[action$='/erase'] button")
    assert page.locator("input[name=confirm]").count() == 1
    _checked(page, "contacts, erasing asked to be confirmed", found)

    page.goto(f"{server}{public}")
    _checked(page, "public results", found)
    page.goto(f"{server}/rounds/{results_round}")
    _checked(page, "results, asking an analyst token", found)
    assert not found, "\n\n".join(found)


@WIDTHS
def test_every_admin_and_analyst_page_passes_axe(people, runtime, server, browser, width):
    results_round = build_round(runtime.database_url)
    with session_scope(runtime.database_url) as db:
        create_user(db, "otieno", PASSWORD, "analyst", ["kibera"])
    page = browser.new_page(viewport={"width": width, "height": 800})
    found: list[str] = []

    _sign_in(page, server, "admin")
    page.goto(f"{server}/console/tokens")
    page.fill("#token-name", "kobo sync")
    with page.expect_navigation():
        page.click("main button[type=submit] >> text=Create the token")
    assert page.locator("[data-token]").count() == 1
    _checked(page, "API tokens, a new one shown", found)

    page.goto(f"{server}/console/rounds/{results_round}/results")
    assert page.locator(".answers li").count() == 1  # the full view: what people wrote
    _checked(page, "results, every figure (admin)", found)

    page.goto(f"{server}/console")
    page.select_option("#lang", "ar")
    with page.expect_navigation():
        page.click("form[action='/console/language'] button")
    assert page.locator("html[lang=ar][dir=rtl]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the skip link too
    _checked(page, "rounds, right to left (Arabic)", found)

    page.context.clear_cookies()
    _sign_in(page, server, "otieno")
    page.goto(f"{server}/console/rounds/{results_round}")
    _checked(page, "round, as an analyst (exports)", found)
    page.goto(f"{server}/console/rounds/{results_round}/results")
    assert page.locator(".badge.public").count() == 0
    _checked(page, "results, every figure (analyst)", found)
    assert not found, "\n\n".join(found)


@WIDTHS
def test_the_simulator_and_the_api_reference_pass_axe(runtime, server, browser, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    found: list[str] = []
    page.goto(f"{server}/simulator")
    page.wait_for_selector("#survey option", state="attached")
    _checked(page, "simulator", found)
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock", timeout=15000)
    found.extend(problem for problem in [accessibility_problems(page, "API reference")]
                 if problem)
    assert not found, "\n\n".join(found)
