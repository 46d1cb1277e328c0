"""The round dashboard in a real browser: headless Chromium (Debian's) driven by Playwright.

The real app runs under uvicorn on a free local port. The analyst page must draw its charts and
show what people wrote as text (a `<script>` answer is shown, never run); the public page must
show no free text and no figure below k. A full-page screenshot goes to tests/artifacts/.
Nothing is installed here: without /usr/bin/chromium the test fails and says how to get it.
"""

from __future__ import annotations

import io
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from heard.app import create_app
from heard.routes import dashboard
from surveys import catalog
from surveys.database import session_scope
from surveys.release import publish
from surveys.tokens import create_token
from tests.test_summaries import XSS, K, build_round
from worker.runtime import Runtime

CHROMIUM = os.environ.get("HEARD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        reason = (f"headless Chromium is needed at {CHROMIUM} for the dashboard test: install "
                  "it with `apt-get install -y chromium` (Debian; .ci/run does), or point "
                  "HEARD_CHROMIUM at a Chromium binary")
        if os.environ.get("HEARD_REQUIRE_SERVICES") == "1":  # CI: a missing browser fails
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is needed: .venv/bin/pip install -e '.[dev]' "
                    "(no `playwright install`: the test uses the system Chromium)",
                    pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def published_at(runtime: Runtime, round_id: int) -> str:
    """Publish the round (rounds are private until then); its public path."""
    with session_scope(runtime.database_url) as db:
        return publish(db, round_id)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    """The real app (every router, plus the dashboard's) under uvicorn in a thread."""
    with session_scope(runtime.database_url) as db:
        catalog.register_folder(db, catalog.EXAMPLES)
    app = create_app(runtime)
    if not any(getattr(route, "path", "") == "/results/{token}" for route in app.routes):
        app.include_router(dashboard.router)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_analyst_dashboard_draws_charts_and_shows_answers_as_text(runtime, server, browser,
                                                                 database_url):
    round_id = build_round(runtime.database_url)
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "analyst", "dashboard test")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    refused = page.goto(f"{server}/rounds/{round_id}")
    assert refused is not None and refused.status == 401
    page.fill("input[name=token]", token)  # the sign-in form: the token goes in no URL
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{server}/rounds/{round_id}"
    assert page.locator("h1").inner_text() == "Water test"
    assert page.locator("svg.chart.timeline rect.bar").count() == 2  # two days of answers
    assert page.locator("#q-source svg.chart.bars rect.bar").count() == 3
    assert page.locator("#q-days svg.chart.range circle").count() == 1
    assert page.locator("#q-source table.by tbody tr").count() == 3  # by gender
    widths = page.eval_on_selector_all(
        "#q-source svg.chart.bars rect.bar", "bars => bars.map(b => b.getBBox().width)")
    assert widths == pytest.approx([150, 105, 45])  # 10, 7 and 3 of 20 on a 300 px track
    assert page.locator(".answers li").all_inner_texts() == [XSS]
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert dialogs == []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"dashboard-{database_url.split(':')[0].split('+')[0]}.png"
    page.screenshot(path=str(shot), full_page=True)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width >= 1000 and image.height > 900
    assert len(image.getcolors(maxcolors=1_000_000) or []) > 20  # text and bars, not a blank


def test_public_dashboard_shows_only_suppressed_aggregates(runtime, server, browser,
                                                           database_url):
    round_id = build_round(runtime.database_url)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    response = page.goto(f"{server}{published_at(runtime, round_id)}")
    assert response is not None and response.status == 200
    shown = [int(value) for value in page.eval_on_selector_all(
        "[data-count]", "nodes => nodes.map(n => n.getAttribute('data-count'))")]
    assert shown and all(value == 0 or value >= K for value in shown)
    assert page.locator(".answers").count() == 0 and "alert(1)" not in page.content()
    assert page.locator("#q-source svg.chart.bars rect.bar").count() == 1  # tap only
    assert page.locator("#q-source svg.chart.bars text.hidden").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"dashboard-public-{database_url.split(':')[0].split('+')[0]}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    unauthorised = page.goto(f"{server}/rounds/{round_id}")
    assert unauthorised is not None and unauthorised.status == 401
    assert "analyst token" in page.locator("body").inner_text()


def test_a_token_link_signs_in_once_and_leaves_the_address_bar(runtime):
    round_id = build_round(runtime.database_url)
    with session_scope(runtime.database_url) as db:
        analyst = create_token(db, "analyst", "dashboard test")
        facilitator = create_token(db, "facilitator", "dashboard test")
    client = TestClient(create_app(runtime))
    response = client.get(f"/rounds/{round_id}?token={analyst}&lang=en", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/rounds/{round_id}?lang=en"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/rounds" in cookie
    assert client.get(f"/rounds/{round_id}").status_code == 200  # signed in by the cookie
    outsider = TestClient(create_app(runtime))
    assert outsider.get(f"/rounds/{round_id}").status_code == 401
    wrong = outsider.post(f"/rounds/{round_id}/sign-in", data={"token": "not-a-token"},
                          follow_redirects=False)
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    other_role = outsider.post(f"/rounds/{round_id}/sign-in", data={"token": facilitator},
                               follow_redirects=False)
    assert other_role.status_code == 403 and "set-cookie" not in other_role.headers
    bearer = outsider.get(f"/rounds/{round_id}", headers={"Authorization": f"Bearer {analyst}"})
    assert bearer.status_code == 200
    for forged in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                   {"Sec-Fetch-Site": "same-site"}):  # another site's page posting a token
        login_csrf = outsider.post(f"/rounds/{round_id}/sign-in", data={"token": analyst},
                                   headers=forged, follow_redirects=False)
        assert login_csrf.status_code == 403 and "set-cookie" not in login_csrf.headers
    own = outsider.post(f"/rounds/{round_id}/sign-in", data={"token": analyst},
                        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
                        follow_redirects=False)
    assert own.status_code == 303


def test_the_public_page_speaks_the_communitys_language(runtime):
    round_id = build_round(runtime.database_url)
    client = TestClient(create_app(runtime))
    path = published_at(runtime, round_id)
    page = client.get(f"{path}?lang=bn")
    assert page.status_code == 200 and '<html lang="bn">' in page.text
    for words in ("দিনপ্রতি উত্তর", "প্রকাশ্য", "উত্তর দিয়েছেন"):
        assert words in page.text
    shown = re.sub(r"<[^>]*>", " ", page.text)  # what a reader sees: text, not markup
    for words in ("Responses per day", "answered", "participants", "Public"):
        assert words not in shown  # no English page chrome left
    assert "২০ জন অংশগ্রহণকারী" in shown and "৫ জনের কম" in shown  # Bengali digits too
    english = client.get(path)
    assert "Responses per day" in english.text
    refused = client.get(f"/rounds/{round_id}?lang=sw")
    assert refused.status_code == 401 and "Tokeni ya mchambuzi" in refused.text


def test_the_public_page_reads_on_a_phone_its_charts_unshrunk(runtime, server, browser):
    """At 375 px the charts keep their 13 px text (each scrolls sideways in its own box, the
    page never does)."""
    round_id = build_round(runtime.database_url)
    with session_scope(runtime.database_url) as db:
        from surveys.tables import Round

        db.get_one(Round, round_id).status = "closed"
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(f"{server}{published_at(runtime, round_id)}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    heights = page.eval_on_selector_all(
        "svg.chart text", "texts => texts.map(t => t.getBoundingClientRect().height)")
    assert heights and min(heights) >= 12, min(heights)  # readable, not scaled to 6.6 px
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "public-results-375.png"), full_page=True)


def test_a_round_too_small_to_say_how_many_took_part_says_so_not_zero(runtime):
    from tests.test_release import make_round, survey_of

    few = make_round(runtime.database_url, survey_of([], conditional=False),
                     [{"source": "tap"}] * 3, community="kibera")
    page = TestClient(create_app(runtime)).get(published_at(runtime, few)).text
    meta = re.search(r'<p class="meta">(.*?)</p>', page, re.S)[1]
    assert "fewer than 5 participants" in meta and "0 participants" not in meta
