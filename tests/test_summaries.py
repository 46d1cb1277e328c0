"""Round summaries: SQL counts, suppression, sentences in en/bn, sharing, the public dashboard.

One survey of every question type, twenty participants with known answers; SQLite and
PostgreSQL, real Redis, the real twilio library against the fake Twilio API.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from bot import sender as telegram_sender
from bot.charts import render_bar_chart
from heard.commands.share import share as share_command
from heard.routes import dashboard
from sms.segments import count_segments
from surveys import catalog
from surveys.database import session_scope
from surveys.i18n import localize_digits
from surveys.release import publish, published, release_of, unpublish
from surveys.summaries import NOT_GIVEN, RoundSummary, summarise
from surveys.summary_text import messages, pack
from surveys.suppression import TOTAL, suppress, suppress_linked
from surveys.tables import Contact, OutboxMessage, Round, StoredAnswer, SurveySession
from surveys.tokens import create_token
from surveys.validation import parse_survey
from tests.fakes.telegram_api import FakeTelegram
from tests.pipeline import client_for, drain
from worker.share import share

K = 5
SURVEY = parse_survey("""
id: test-summary
languages: [en, bn]
title: {en: Water test, bn: পানি পরীক্ষা}
questions:
  - id: gender
    type: choice
    profile: true
    optional: true
    text: {en: Gender?, bn: লিঙ্গ?}
    choices:
      - {value: female, text: {en: Woman, bn: নারী}}
      - {value: male, text: {en: Man, bn: পুরুষ}}
      - {value: other, text: {en: Other, bn: অন্যান্য}}
  - id: source
    type: choice
    text: {en: Where do you get water?, bn: পানি কোথা থেকে পান?}
    choices:
      - {value: tap, text: {en: Tap at home, bn: বাড়িতে কল}}
      - {value: well, text: {en: Well, bn: কুয়া}}
      - {value: river, text: {en: River, bn: নদী}}
  - id: days
    type: number
    min: 0
    max: 7
    text: {en: Days a week with water?, bn: সপ্তাহে কত দিন?}
  - id: problems
    type: multi
    optional: true
    text: {en: Problems?, bn: সমস্যা?}
    choices:
      - {value: dirty, text: {en: Dirty, bn: নোংরা}}
      - {value: far, text: {en: Too far, bn: অনেক দূরে}}
      - {value: cost, text: {en: Costs money, bn: টাকা লাগে}}
  - id: safe
    type: yesno
    text: {en: Is the water safe?, bn: পানি কি নিরাপদ?}
  - id: comment
    type: text
    optional: true
    text: {en: Anything else?, bn: আর কিছু?}
summary:
  - question: source
    value: tap
    text: {en: "{percent} of {count} have a tap at home.",
           bn: "{count} জনের মধ্যে {percent} জনের বাড়িতে কল আছে।"}
  - question: days
    text:
      en: "Water comes {mean} days a week on average; half of you get it {median} days or more."
      bn: "গড়ে সপ্তাহে {mean} দিন পানি আসে; অর্ধেক মানুষ {median} দিন বা তার বেশি পান।"
  - question: safe
    value: "no"
    text: {en: "{matching} of {count} say the water is not safe.",
           bn: "{count} জনের মধ্যে {matching} জন বলেছেন পানি নিরাপদ নয়।"}
  - question: problems
    value: far
    text: {en: "{percent} say the water is too far.", bn: "{percent} বলেছেন পানি অনেক দূরে।"}
  - question: source
    value: river
    text: {en: "{matching} people fetch water from the river.",
           bn: "{matching} জন নদী থেকে পানি আনেন।"}
""")

# gender (None: not answered), source, days, problems (None: skipped), safe
ANSWERS: list[tuple[str | None, str, int, list[str] | None, str]] = [
    ("female", "tap", 7, ["dirty"], "yes"), ("female", "tap", 7, ["far"], "yes"),
    ("female", "tap", 6, ["far", "cost"], "no"), ("female", "tap", 5, None, "yes"),
    ("female", "tap", 5, ["dirty", "far"], "no"), ("female", "well", 4, ["far"], "yes"),
    ("female", "well", 3, ["cost"], "no"), (None, "well", 3, ["dirty"], "yes"),
    ("male", "tap", 7, ["far"], "yes"), ("male", "tap", 6, ["dirty"], "no"),
    ("male", "tap", 6, ["far", "dirty"], "yes"), ("male", "tap", 5, None, "yes"),
    ("male", "well", 4, ["cost"], "no"), ("male", "well", 3, ["far"], "yes"),
    ("male", "well", 2, ["dirty"], "no"), ("male", "river", 1, ["far", "cost"], "yes"),
    ("male", "river", 1, ["dirty"], "yes"),
    ("other", "tap", 7, ["far"], "no"), ("other", "well", 5, ["cost"], "no"),
    ("other", "river", 3, ["dirty", "far"], "yes"),
]
XSS = "<script>alert(1)</script>"
# who each participant is: (channel, address, language, opted out, unreachable)
BENGALI = {1, 4, 9, 14}
TELEGRAM, OPTED_OUT, UNREACHABLE, PROFILE_ONLY = 2, 3, 5, 7  # PROFILE_ONLY: gender on contact
DAY_ONE = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def address(index: int) -> str:
    return str(7000 + index) if index == TELEGRAM else f"+2547000000{index:02d}"


def build_round(database_url: str) -> int:
    """The round: twenty participants, one invited person who never answered, and a
    participant of another round of the same survey."""
    with session_scope(database_url) as db:
        survey_row = catalog.register(db, SURVEY)
        this, other = (Round(survey_pk=survey_row.id, community="Kibera", status="closed")
                       for _ in range(2))
        db.add_all([this, other])
        db.flush()
        for index, (gender, source, days, problems, safe) in enumerate(ANSWERS):
            contact = Contact(
                channel="telegram" if index == TELEGRAM else "sms", address=address(index),
                language="bn" if index in BENGALI else "en", community="Kibera",
                profile={"gender": "female"} if index == PROFILE_ONLY else {}, consent=True,
                opted_out=index == OPTED_OUT,
                unreachable="invalid_number" if index == UNREACHABLE else None)
            db.add(contact)
            db.flush()
            session = SurveySession(contact_id=contact.id, survey_pk=survey_row.id,
                                    round_id=this.id, status="completed", state={"lang": "en"})
            db.add(session)
            db.flush()
            at = DAY_ONE + timedelta(days=index % 2, minutes=index)
            values: dict[str, Any] = {"source": source, "days": days, "safe": safe}
            if gender is not None:
                values["gender"] = gender
            if index == 0:
                values["comment"] = XSS
            for question_id, value in values.items():
                db.add(StoredAnswer(session_id=session.id, question_id=question_id, value=value,
                              raw=str(value), answered_at=at))
            db.add(StoredAnswer(session_id=session.id, question_id="problems", value=problems,
                          raw="skip" if problems is None else " ".join(problems),
                          skipped=problems is None, answered_at=at))
        idle = Contact(channel="sms", address="+254700000099", language="en")
        elsewhere = Contact(channel="sms", address="+254700000098", language="en")
        db.add_all([idle, elsewhere])
        db.flush()
        db.add(SurveySession(contact_id=idle.id, survey_pk=survey_row.id, round_id=this.id,
                             status="active", state={"lang": "en"}))
        away = SurveySession(contact_id=elsewhere.id, survey_pk=survey_row.id,
                             round_id=other.id, status="completed", state={"lang": "en"})
        db.add(away)
        db.flush()
        db.add(StoredAnswer(session_id=away.id, question_id="source", value="river", raw="3"))
        return this.id


def expected_gender(index: int) -> str:
    return ANSWERS[index][0] or ("female" if index == PROFILE_ONLY else NOT_GIVEN)


# --- suppression, pure ---------------------------------------------------------------------

def table(rows: dict[str, dict[str, int]]) -> dict[tuple[str, str], int]:
    """Counts with margins from {group: {value: count}}."""
    counts: dict[tuple[str, str], int] = {}
    for group, cells in rows.items():
        for value, count in cells.items():
            for key in ((group, value), (group, TOTAL), (TOTAL, value), (TOTAL, TOTAL)):
                counts[key] = counts.get(key, 0) + count
    return counts


def assert_safe(counts: dict[tuple[str, str], int], hidden: frozenset, k: int = K) -> None:
    """No shown count below k, and no row or column with exactly one hidden cell."""
    assert all(count == 0 or count >= k for key, count in counts.items() if key not in hidden)
    for index in (0, 1):
        for name in {key[index] for key in counts}:
            line = [key for key in counts if key[index] == name]
            if len(line) > 1:
                assert sum(key in hidden for key in line) != 1, (name, line, hidden)


def test_primary_suppression_hides_counts_below_k_but_not_zero():
    counts = table({TOTAL: {}}) | {(TOTAL, "tap"): 12, (TOTAL, "well"): 9, (TOTAL, "river"): 0,
                                   (TOTAL, TOTAL): 21}
    assert suppress(counts, K) == frozenset()
    counts = {(TOTAL, "tap"): 12, (TOTAL, "well"): 4, (TOTAL, "river"): 0, (TOTAL, TOTAL): 16}
    hidden = suppress(counts, K)
    assert (TOTAL, "well") in hidden and (TOTAL, TOTAL) not in hidden


def test_one_hidden_cell_in_a_row_hides_the_next_smallest_too():
    """12 + 9 + 3 = 24: with 3 alone hidden it is 24 - 12 - 9; so 9 goes as well."""
    counts = {(TOTAL, "tap"): 12, (TOTAL, "well"): 9, (TOTAL, "river"): 3, (TOTAL, TOTAL): 24}
    assert suppress(counts, K) == {(TOTAL, "river"), (TOTAL, "well")}


def test_secondary_cells_prefer_non_zero_inner_cells_and_spread_to_columns():
    counts = table({"women": {"tap": 9, "well": 2, "river": 0},
                    "men": {"tap": 8, "well": 7, "river": 6}})
    hidden = suppress(counts, K)
    assert ("women", "well") in hidden
    assert ("women", "tap") in hidden  # not the zero: a hidden 0 would protect nothing
    assert ("men", "well") in hidden and ("men", "tap") in hidden  # the columns, in turn
    assert (TOTAL, "tap") not in hidden and ("women", TOTAL) not in hidden
    assert_safe(counts, hidden)


def test_a_group_smaller_than_k_is_hidden_whole_even_its_zeros():
    counts = table({"women": {"tap": 3, "well": 0}, "men": {"tap": 20, "well": 10},
                    "other": {"tap": 15, "well": 6}})
    hidden = suppress(counts, K)
    assert {("women", "tap"), ("women", "well"), ("women", TOTAL)} <= hidden
    assert_safe(counts, hidden)


def test_everything_hidden_below_k_in_all():
    counts = table({TOTAL: {}}) | {(TOTAL, "yes"): 3, (TOTAL, "no"): 1, (TOTAL, TOTAL): 4}
    assert suppress(counts, K) == frozenset(counts)


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_are_always_safe(seed):
    import random

    rng = random.Random(seed)
    rows = {f"g{g}": {f"v{v}": rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 14, 30])
                      for v in range(rng.randint(1, 5))} for g in range(rng.randint(1, 5))}
    counts = table(rows)
    assert_safe(counts, suppress(counts, K))


def test_linked_tables_hide_a_shared_total_everywhere():
    by_gender = table({"women": {"tap": 6, "well": 6}, "men": {"tap": 7, "well": 3}})
    by_age = table({"young": {"tap": 13}, "old": {"well": 9}})
    hidden = suppress_linked({"gender": by_gender, "age": by_age}, K)
    shared = {key for key in hidden["gender"] | hidden["age"] if key[0] == TOTAL}
    for name, counts in (("gender", by_gender), ("age", by_age)):
        assert shared <= hidden[name]
        assert_safe(counts, hidden[name])


# --- SQL: counts, numbers, multi, disaggregation ---------------------------------------------

def test_counts_and_shares_per_choice(database_url):
    round_id = build_round(database_url)
    with session_scope(database_url) as db:
        summary = summarise(db, round_id, k=K)
    assert summary.participants == 20  # not the idle invitee, not the other round's
    source = summary.questions["source"].overall
    assert source.values == ("tap", "well", "river")
    assert {v: source.raw(TOTAL, v) for v in source.values} == Counter(a[1] for a in ANSWERS)
    assert source.raw() == 20
    assert source.count(TOTAL, "tap") == 10
    assert source.count(TOTAL, "river") is None  # 3 people
    assert source.count(TOTAL, "well") is None  # 20 - 10 - river would give river away
    safe = summary.questions["safe"].overall
    assert (safe.count(TOTAL, "yes"), safe.count(TOTAL, "no"), safe.count()) == (12, 8, 20)


def test_multi_answers_count_each_value_and_skips_are_not_respondents(database_url):
    round_id = build_round(database_url)
    with session_scope(database_url) as db:
        problems = summarise(db, round_id, k=K).questions["problems"].overall
    chosen = Counter(value for answer in ANSWERS for value in answer[3] or [])
    assert {v: problems.raw(TOTAL, v) for v in problems.values} == chosen
    assert problems.count() == 18  # two skipped
    assert problems.count(TOTAL, "far") == chosen["far"] == 10


def test_number_mean_median_min_max(database_url):
    round_id = build_round(database_url)
    with session_scope(database_url) as db:
        days = summarise(db, round_id, k=K).questions["days"]
    values = [answer[2] for answer in ANSWERS]
    stats = days.overall.stat()
    assert stats is not None and stats.count == 20
    assert stats.mean == pytest.approx(statistics.mean(values))
    assert stats.median == statistics.median(values)
    assert (stats.min, stats.max) == (min(values), max(values))
    women = [answer[2] for index, answer in enumerate(ANSWERS)
             if expected_gender(index) == "female"]
    by_women = days.by["gender"].stats["female"]
    assert by_women.median == statistics.median(women) and by_women.count == len(women)
    assert days.by["gender"].stat("other") is None  # 3 people: hidden


def test_disaggregation_by_a_profile_question_in_the_same_session(database_url):
    """The session's own gender answer; the contact's profile where the session has none."""
    round_id = build_round(database_url)
    with session_scope(database_url) as db:
        summary = summarise(db, round_id, k=K)
    assert summary.dimensions == ("gender",)  # the round has a community: not a dimension
    by_gender = summary.questions["source"].by["gender"]
    expected = Counter((expected_gender(index), answer[1])
                       for index, answer in enumerate(ANSWERS))
    assert by_gender.groups == ("female", "male", "other")
    assert {(g, v): by_gender.raw(g, v) for g in by_gender.groups for v in by_gender.values
            if by_gender.raw(g, v)} == expected
    assert by_gender.raw("female", TOTAL) == 8
    assert by_gender.count("other", TOTAL) is None and by_gender.count("other", "tap") is None
    assert "gender" not in summary.questions["gender"].by
    for name, item in summary.questions.items():
        for dimension, grid in {None: item.overall, **item.by}.items():
            assert_safe(dict(grid.counts), grid.hidden)
            for key in item.overall.hidden:  # one figure, hidden in every table it is in
                assert key in grid.hidden, (name, dimension, key)


def test_min_cell_comes_from_the_environment(database_url, monkeypatch):
    round_id = build_round(database_url)
    monkeypatch.setenv("HEARD_SUMMARY_MIN_CELL", "3")
    with session_scope(database_url) as db:
        summary = summarise(db, round_id)
    assert summary.k == 3
    assert summary.questions["source"].overall.count(TOTAL, "river") == 3


# --- sentences -----------------------------------------------------------------------------

def released(database_url: str, k: int = K) -> RoundSummary:
    """The round's release as every outlet renders it."""
    round_id = build_round(database_url)
    with session_scope(database_url) as db:
        return published(release_of(db, round_id, k), SURVEY)


def rendered(database_url: str, lang: str) -> list[str]:
    return [message.text for message in messages(released(database_url), lang)]


def test_english_sentences_with_suppressed_ones_replaced(database_url):
    sent = rendered(database_url, "en")
    assert "\n".join(sent).split("\n") == [
        'Results of "Water test" in Kibera:',
        "50% of 20 have a tap at home.",
        "Water comes 4.5 days a week on average; half of you get it 5 days or more.",
        "8 of 20 say the water is not safe.",
        "56% say the water is too far.",
        "Too few answers to share this result."]  # 3 people use the river: never said
    assert all(count_segments(text).count <= 2 for text in sent)


def test_bengali_sentences_in_bengali_digits_within_two_segments(database_url):
    sent = rendered(database_url, "bn")
    text = "\n".join(sent)
    assert "২০ জনের মধ্যে ৫০% জনের বাড়িতে কল আছে।" in text
    assert "গড়ে সপ্তাহে ৪.৫ দিন পানি আসে" in text
    assert not re.search(r"[0-9]", text)
    for message in sent:  # each ≤ 2 segments, unless one sentence alone is longer
        assert count_segments(message).count <= 2 or "\n" not in message
    assert len(sent) > 1


def test_pack_joins_sentences_up_to_two_segments():
    assert pack(["a" * 150, "b" * 150, "c" * 150, "d" * 400]) == [
        "a" * 150 + "\n" + "b" * 150, "c" * 150, "d" * 400]  # 306 GSM-7 characters at most
    assert pack(["ক" * 60, "খ" * 60, "গ" * 60]) == [  # 134 in UCS-2
        "ক" * 60 + "\n" + "খ" * 60, "গ" * 60]
    assert localize_digits("12.5%", "bn") == "১২.৫%"
    assert localize_digits("12.5%", "hi") == "12.5%"  # Hindi's CLDR default is Latin digits


def test_nothing_shown_gives_one_sentence(database_url):
    assert [m.text for m in messages(released(database_url, k=50), "en")] == [
        'Results of "Water test" in Kibera:\nToo few answers to share this result.']


# --- sharing -------------------------------------------------------------------------------

@pytest.fixture
def telegram(monkeypatch) -> Iterator[FakeTelegram]:
    from bot import client

    fake = FakeTelegram().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.base_url)
    monkeypatch.setattr(telegram_sender, "PER_CHAT_PER_SECOND", 1000.0)
    monkeypatch.setattr(telegram_sender, "PER_BOT_PER_SECOND", 1000.0)
    yield fake
    client.close()
    fake.stop()


def test_share_sends_to_participants_only_never_to_the_opted_out(runtime, twilio, telegram):
    round_id = build_round(runtime.database_url)
    report = share(runtime.database_url, runtime.redis, round_id, k=K)
    drain(runtime)
    assert (report.participants, report.sent_to, report.opted_out, report.unreachable) == (
        20, 18, 1, 1)
    receivers = {message["To"] for message in twilio.sent}
    expected = {address(i) for i in range(20)} - {address(i) for i in
                                                  (TELEGRAM, OPTED_OUT, UNREACHABLE)}
    assert receivers == expected  # not the idle invitee, not the other round's participant
    english = "\n".join(twilio.bodies_to(address(0)))
    assert english.startswith('Results of "Water test" in Kibera:\n50% of 20 have a tap at home.')
    assert "river" not in english
    bengali = "\n".join(twilio.bodies_to(address(1)))
    assert "২০ জনের মধ্যে ৫০%" in bengali
    assert all(count_segments(m["Body"]).count <= 2 for m in twilio.sent
               if m["To"] == address(0))
    with session_scope(runtime.database_url) as db:
        rows = db.scalars(select(OutboxMessage).where(OutboxMessage.reply["summary_round"]
                                                      .as_integer() == round_id)).all()
        assert {row.status for row in rows if row.channel == "sms"} == {"sent"}
        assert not [row for row in rows if row.address in (address(OPTED_OUT),
                                                           address(UNREACHABLE))]
        charts = [row.reply["chart"] for row in rows
                  if row.channel == "telegram" and "chart" in row.reply]
        assert not [row for row in rows if row.channel == "sms" and "chart" in row.reply]
    assert len(charts) == 3  # tap, not safe, too far: the river sentence has no chart
    first = charts[0]
    assert first["title"] == "Where do you get water?"
    assert [(bar["label"], bar["text"]) for bar in first["bars"]] == [("Tap at home", "50%")]
    assert first["note"]  # the hidden answers are said to be left out, never drawn
    png = render_bar_chart(first)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    photos = telegram.sent("sendPhoto")
    assert len(photos) == 3  # one photo per chart, its sentence as the caption
    assert all(call["chat_id"] == int(address(TELEGRAM)) for call in photos)
    assert all(call["photo"].startswith(b"\x89PNG") and call["photo_bytes"] > 1000
               for call in photos)
    assert "50% of 20 have a tap at home." in [call["caption"] for call in photos]
    texts = "\n".join(call["text"] for call in telegram.sent("sendMessage"))
    assert "river" not in texts and "50% of 20" not in texts  # the charted ones went as photos


def test_sharing_twice_sends_nothing_new_unless_again(runtime, twilio, telegram):
    round_id = build_round(runtime.database_url)
    first = share(runtime.database_url, runtime.redis, round_id, k=K)
    second = share(runtime.database_url, runtime.redis, round_id, k=K)
    assert first.messages > 0 and second.messages == 0 and second.already_shared == 18
    again = share(runtime.database_url, runtime.redis, round_id, k=K, again=True)
    assert again.messages == first.messages


def test_share_command(runtime, twilio, telegram):
    round_id = build_round(runtime.database_url)
    app = typer.Typer()
    app.command()(share_command)
    result = CliRunner().invoke(app, [str(round_id), "--min-cell", "5"])
    assert result.exit_code == 0, result.output
    assert "queued for 18 of 20 participants" in result.output
    assert "skipped 1: opted out" in result.output
    missing = CliRunner().invoke(app, ["999"])
    assert missing.exit_code == 1 and "no round 999" in missing.output


# --- dashboard and API (HTML checked without a browser here; see test_dashboard.py) ----------

def test_public_dashboard_hides_small_cells_and_free_text(runtime):
    round_id = build_round(runtime.database_url)
    client = client_for(runtime)
    client.app.include_router(dashboard.router)
    assert client.get(f"/rounds/{round_id}/public").status_code == 404  # no guessable address
    with session_scope(runtime.database_url) as db:
        path = publish(db, round_id)
    page = client.get(path)
    assert page.status_code == 200
    shown = [int(value) for value in re.findall(r'data-count="(\d+)"', page.text)]
    assert shown and all(value == 0 or value >= K for value in shown)
    assert "alert(1)" not in page.text and "Anything else?" in page.text
    assert client.get(f"/rounds/{round_id}").status_code == 401
    with session_scope(runtime.database_url) as db:
        assert unpublish(db, round_id)
    assert client.get(path).status_code == 404  # withdrawn for good


def test_analyst_dashboard_and_api_need_an_analyst_token(runtime):
    round_id = build_round(runtime.database_url)
    with session_scope(runtime.database_url) as db:
        analyst = create_token(db, "analyst", "a")
        facilitator = create_token(db, "facilitator", "f")
        admin = create_token(db, "admin", "root")
    client = client_for(runtime)
    client.app.include_router(dashboard.router)
    assert client.get(f"/rounds/{round_id}?token={facilitator}").status_code == 403
    page = client.get(f"/rounds/{round_id}?token={analyst}")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and XSS not in page.text
    api = f"/api/v1/rounds/{round_id}/summary"
    assert client.get(api).status_code == 401
    full = client.get(api, headers={"Authorization": f"Bearer {admin}"}).json()
    public = client.get(api + "?public=true",
                        headers={"Authorization": f"Bearer {admin}"}).json()
    released = client.get(api, headers={"Authorization": f"Bearer {analyst}"}).json()
    assert released == public  # every role but admin gets the release, the same as published
    source = {q["id"]: q for q in full["questions"]}["source"]
    assert source["counts"] == {"tap": 10, "well": 7, "river": 3}
    assert sorted(source["suppressed"]) == ["river", "well"]
    assert {q["id"]: q for q in public["questions"]}["source"]["counts"] == {
        "tap": 10, "well": None, "river": None}


def test_another_rounds_answers_between_this_rounds_sessions_are_not_counted(database_url):
    """Answers are read within the round's span of session ids: a session of another round
    inside it counts nowhere, the round's last session (its span's end) counts."""
    round_id = build_round(database_url)  # ... then the other round's session (with "river")
    with session_scope(database_url) as db:
        this = db.get_one(Round, round_id)
        late = Contact(channel="sms", address="+254700000097", language="en")
        db.add(late)
        db.flush()
        session = SurveySession(contact_id=late.id, survey_pk=this.survey_pk, round_id=round_id,
                                status="completed", state={"lang": "en"})
        db.add(session)
        db.flush()
        db.add(StoredAnswer(session_id=session.id, question_id="source", value="tap", raw="1"))
        ids = db.scalars(select(SurveySession.id).order_by(SurveySession.id)).all()
        others = db.scalars(select(SurveySession.id)
                            .where(SurveySession.round_id != round_id)).all()
        assert others and ids[0] < others[0] < session.id  # inside the round's span
    with session_scope(database_url) as db:
        summary = summarise(db, round_id, k=K)
    source = summary.questions["source"].overall
    expected = Counter(answer[1] for answer in ANSWERS) + Counter(["tap"])
    assert {value: source.raw(TOTAL, value) for value in source.values} == expected
    assert summary.participants == 21


def test_a_round_open_to_every_community_counts_its_participants_by_community(database_url):
    round_id = build_round(database_url)
    with session_scope(database_url) as db:
        db.get_one(Round, round_id).community = None  # open to all: community is a dimension
        db.add(Contact(channel="sms", address="+254700000096", community="Mathare"))
    with session_scope(database_url) as db:
        summary = summarise(db, round_id, k=K)
    assert "community" in summary.dimensions
    assert summary.participants_by == {"Kibera": 20}  # not the idle invitee
