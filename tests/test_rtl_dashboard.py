"""The dashboard in Arabic and Urdu: `dir="rtl"`, mirrored charts, every label readable.

A small survey in ar and ur, a round of answers, the real app under uvicorn and Debian's
Chromium driven by Playwright (the fixtures of tests/test_dashboard.py): each chart label must
have a box inside the viewport and inside its chart, and be what is on top at its centre (no
bar over it). Nothing may come from anywhere but the app. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from heard.app import create_app
from heard.routes.dashboard import direction_of
from surveys import catalog
from surveys.database import session_scope
from surveys.tables import Contact, Round, StoredAnswer, SurveySession
from surveys.tokens import create_token
from surveys.validation import parse_survey
from tests import test_dashboard
from tests.test_dashboard import ARTIFACTS, published_at
from tests.test_summaries import build_round

browser = test_dashboard.browser  # the fixtures: Debian's Chromium, the app under uvicorn
server = test_dashboard.server

SURVEY = parse_survey("""
id: test-rtl
languages: [ar, ur]
title: {ar: المياه في الحي, ur: محلے میں پانی}
questions:
  - id: source
    type: choice
    text: {ar: من أين تحصل على مياه الشرب؟, ur: آپ کو پینے کا پانی کہاں سے ملتا ہے؟}
    choices:
      - {value: tap, text: {ar: صنبور داخل المنزل أو في الفناء, ur: گھر کے اندر یا صحن میں نلکا}}
      - {value: well, text: {ar: بئر عامة بعيدة عن البيت, ur: گھر سے دور عوامی کنواں}}
      - {value: river, text: {ar: النهر, ur: دریا}}
  - id: days
    type: number
    min: 0
    max: 7
    text: {ar: كم يوما في الأسبوع تصل المياه؟, ur: ہفتے میں کتنے دن پانی آتا ہے؟}
  - id: safe
    type: yesno
    text: {ar: هل المياه آمنة؟, ur: کیا پانی محفوظ ہے؟}
""")
# source, days, safe: tap 6, well 5, river 1 (hidden in public: fewer than 5)
ANSWERS = [("tap", 7, "yes")] * 4 + [("tap", 5, "no")] * 2 + [("well", 3, "yes")] * 3 + \
    [("well", 2, "no")] * 2 + [("river", 1, "no")]
RIGHT_TO_LEFT = ("ar", "ur", "fa", "he", "ps", "sd", "ug", "yi", "dv", "ckb")


def build_rtl_round(database_url: str) -> int:
    """A closed round of the Arabic and Urdu survey: twelve people, over two days."""
    start = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    with session_scope(database_url) as db:
        version = catalog.register(db, SURVEY)
        round_ = Round(survey_pk=version.id, community="حي السلام", status="closed")
        db.add(round_)
        db.flush()
        for index, (source, days, safe) in enumerate(ANSWERS):
            contact = Contact(channel="sms", address=f"+9665000000{index:02d}",
                              language="ar" if index % 2 else "ur", consent=True)
            db.add(contact)
            db.flush()
            session = SurveySession(contact_id=contact.id, survey_pk=version.id,
                                    round_id=round_.id, status="completed",
                                    state={"lang": contact.language})
            db.add(session)
            db.flush()
            at = start + timedelta(days=index % 2, minutes=index)
            for question, value in (("source", source), ("days", days), ("safe", safe)):
                db.add(StoredAnswer(session_id=session.id, question_id=question, value=value,
                                    raw=str(value), answered_at=at))
        return round_.id


# Per label: its box, whether it lies inside the viewport and inside its chart, and what is on
# top at its centre. Each is scrolled into view first.
LABELS = """labels => labels.map(label => {
  label.scrollIntoView({block: 'center'});
  const box = label.getBoundingClientRect();
  const chart = label.ownerSVGElement.getBoundingClientRect();
  const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return {text: label.textContent, width: box.width, height: box.height,
          inView: box.left >= 0 && box.top >= 0 && box.right <= innerWidth
                  && box.bottom <= innerHeight,
          inChart: box.left >= chart.left - 0.5 && box.right <= chart.right + 0.5,
          onTop: top === label, covering: top && top.outerHTML.slice(0, 80),
          fromRight: chart.right - box.right,
          bars: [...label.ownerSVGElement.querySelectorAll('rect')].some(rect => {
            const r = rect.getBoundingClientRect();
            return r.left < box.right && box.left < r.right && r.top < box.bottom
                   && box.top < r.bottom; })};
})"""
BARS = """bars => bars.map(bar => {
  const track = bar.previousElementSibling.getBoundingClientRect();
  const box = bar.getBoundingClientRect();
  return {right: box.right, trackRight: track.right, left: box.left, trackLeft: track.left};
})"""


def open_page(chromium, url: str, headers: dict[str, str] | None = None):
    """The page at `url` in a fresh tab, and every address the tab asked for."""
    page = chromium.new_page(viewport={"width": 1100, "height": 900},
                            extra_http_headers=headers or {})
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    response = page.goto(url)
    assert response is not None and response.status == 200
    return page, asked


def assert_readable_right_to_left(page, lang: str, app: str, asked: list[str],
                                  shot: str) -> None:
    """The page is `dir="rtl"`, its charts are mirrored, and every label can be read."""
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        lang, "rtl"]
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    labels = page.eval_on_selector_all("svg.chart.bars text.label", LABELS)
    assert len(labels) == 5  # three answers, yes and no
    for label in labels:
        assert label["width"] > 0 and label["height"] > 0, label
        assert label["inView"] and label["inChart"], str(label)
        assert label["onTop"], str(label)  # nothing, no bar, drawn over the label
        assert not label["bars"], label
        assert label["fromRight"] < 4, str(label)  # mirrored: labels set from the right
    for bar in page.eval_on_selector_all("svg.chart.bars rect.bar", BARS):
        assert bar["right"] == pytest.approx(bar["trackRight"], abs=0.5)  # grow leftwards
        assert bar["left"] >= bar["trackLeft"] - 0.5
    outside = page.eval_on_selector_all("svg.chart text", """texts => texts.filter(text => {
      const box = text.getBoundingClientRect(), chart = text.ownerSVGElement
        .getBoundingClientRect();
      return box.width === 0 || box.left < chart.left - 0.5 || box.right > chart.right + 0.5;
    }).map(text => text.textContent)""")
    assert outside == []  # figures, days and the range's ends stay inside their charts too
    assert [url for url in asked if not url.startswith(app)] == []  # no CDN, nothing else
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)


def test_the_public_page_of_an_arabic_round_reads_right_to_left(runtime, server, browser,
                                                                database_url):
    round_id = build_rtl_round(runtime.database_url)
    page, asked = open_page(browser, f"{server}{published_at(runtime, round_id)}?lang=ar")
    assert page.locator("h1").inner_text() == "المياه في الحي"
    # the river (1), and one more so that it cannot be worked out from the total
    assert page.locator("#q-source svg.chart.bars text.hidden").count() == 2
    gaps = page.eval_on_selector(".stats dd", "dd => [getComputedStyle(dd).marginRight, "
                                 "getComputedStyle(dd).marginLeft]")
    assert gaps == ["4px", "16px"]  # the small gap after the term, which is on its right
    assert_readable_right_to_left(page, "ar", server, asked,
                                  f"dashboard-ar-{database_url.split(':')[0].split('+')[0]}.png")


def test_the_analyst_page_in_urdu_reads_right_to_left(runtime, server, browser,
                                                      database_url):
    round_id = build_rtl_round(runtime.database_url)
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "analyst", "rtl dashboard test")
    page, asked = open_page(browser, f"{server}/rounds/{round_id}?lang=ur",
                            {"Authorization": f"Bearer {token}"})
    assert page.locator("h1").inner_text() == "محلے میں پانی"
    assert page.locator("#q-source svg.chart.bars rect.bar").count() == 3
    widths = page.eval_on_selector_all("#q-source svg.chart.bars rect.bar",
                                       "bars => bars.map(b => b.getBBox().width)")
    assert widths == pytest.approx([150, 125, 25])  # 6, 5 and 1 of 12 on a 300 px track
    assert_readable_right_to_left(page, "ur", server, asked,
                                  f"dashboard-ur-{database_url.split(':')[0].split('+')[0]}.png")


def test_left_to_right_pages_stay_left_to_right(runtime):
    english = build_round(runtime.database_url)
    client = TestClient(create_app(runtime))
    path = published_at(runtime, english)
    assert '<html lang="en">' in client.get(path).text  # left to right, HTML's default
    assert '<html lang="bn">' in client.get(f"{path}?lang=bn").text
    refused = client.get(f"/rounds/{english}?lang=ar")  # the sign-in page speaks ar too
    assert refused.status_code == 401 and '<html lang="ar" dir="rtl">' in refused.text


@pytest.mark.parametrize("lang", RIGHT_TO_LEFT + ("ur_PK", "fa-IR"))
def test_right_to_left_languages_by_babel(lang):
    assert direction_of(lang) == "rtl"


@pytest.mark.parametrize("lang", ["en", "bn", "sw", "hi", "iu", "sat", "not a language"])
def test_other_languages_are_left_to_right(lang):
    assert direction_of(lang) == "ltr"
