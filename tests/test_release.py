"""A round's one release, attacked as a reader would: only what the outlets publish, solved.

The attacker here is written apart from surveys/release.py: it reads the released figures as
the summary API gives them to a non-admin (the same figures the public page, the messages and
the charts render), sets up its own unknowns (people by their groups and their answer to each
question), and bounds every hidden figure with scipy's linear programs. No hidden figure may
be narrowed below k possible values.
"""

from __future__ import annotations

import random
import re
from itertools import product
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from typer.testing import CliRunner

from heard.routes import dashboard
from surveys import catalog
from surveys.database import migrate, session_scope
from surveys.model import Survey
from surveys.release import ROUND, publish, published, release_of, scope_for
from surveys.summaries import as_dict, summarise
from surveys.summary_text import messages
from surveys.tables import Contact, Round, StoredAnswer, SurveySession
from surveys.validation import parse_survey
from tests.pipeline import client_for, drain
from worker.share import share

K = 5
CHOICES = {"gender": ["woman", "man", "other"], "age": ["young", "middle", "old"],
           "caste": ["dalit", "other_caste"], "source": ["tap", "well", "river"]}


def survey_of(profiles: list[str], conditional: bool = True, extra: str = "",
              more: str = "") -> Survey:
    """A survey with `profiles` as profile questions, a source question, if asked a question
    asked only when the source is not a tap, and `more` questions (YAML)."""
    questions = []
    for name in [*profiles, "source"]:
        choices = "\n".join(f"      - {{value: {v}, text: {{en: {v}}}}}" for v in CHOICES[name])
        questions.append(f"  - id: {name}\n    type: choice\n    optional: true\n"
                         f"    profile: {'true' if name in profiles else 'false'}\n"
                         f"    text: {{en: {name}?}}\n    choices:\n{choices}")
    if conditional:
        questions.append("  - id: fetch\n    type: number\n    when: \"source != 'tap'\"\n"
                         "    text: {en: Minutes to fetch water?}")
    return parse_survey(f"""
id: release-test
languages: [en]
title: {{en: Water}}
questions:
{chr(10).join(questions)}
{more}summary:
  - question: source
    value: tap
    text: {{en: "{{percent}} of {{count}} neighbours have a tap at home."}}
{extra}""")


def make_round(url: str, survey: Survey, people: list[dict[str, Any]],
               communities: list[str | None] | None = None, community: str | None = None
               ) -> int:
    """A closed round with one completed session per person and their answers."""
    with session_scope(url) as db:
        row = catalog.register(db, survey)
        round_ = Round(survey_pk=row.id, community=community, status="closed")
        db.add(round_)
        db.flush()
        for index, answers in enumerate(people):
            contact = Contact(channel="sms", address=f"+2547{index:08d}", language="en",
                              community=(communities or [community] * len(people))[index])
            db.add(contact)
            db.flush()
            session = SurveySession(contact_id=contact.id, survey_pk=row.id,
                                    round_id=round_.id, status="completed", state={"lang": "en"})
            db.add(session)
            db.flush()
            db.add_all(StoredAnswer(session_id=session.id, question_id=question, value=value,
                              raw=str(value)) for question, value in answers.items())
        return round_.id


def released_json(url: str, round_id: int, community: str | None = None) -> dict[str, Any]:
    """What a non-admin reads: the summary API's JSON of the stored release."""
    with session_scope(url) as db:
        release = release_of(db, round_id, K)
        survey = catalog.survey_of_round(db, db.get_one(Round, round_id))
        return as_dict(published(release, survey, community or ROUND), public=True)


def attack(figures: dict[str, Any], choices: dict[str, list[str]]) -> dict[str, tuple]:
    """Bounds of every hidden figure of the choice questions, from the published ones only.

    Unknowns: for each question, people by (answer or none, group in every dimension); the
    same people by group whatever the question; every count ≥ 0; a hidden figure known only
    to be ≥ 0 (the honest labels only say why, and "few" is ≤ k-1, which is added).
    """
    dims = figures["dimensions"]
    seen = {d: {"" if g == "not_given" else g for q in figures["questions"]
                for g in q["by"].get(d, {})} for d in dims}
    groups = [[*choices[d], ""] if d in choices else sorted(seen[d] | {""}) for d in dims]
    people = list(product(*groups))
    questions = [q for q in figures["questions"] if q["type"] == "choice"]
    index: dict[tuple, int] = {}
    for q in questions:
        for value in [*choices[q["id"]], None]:
            for p in people:
                if q["id"] in dims and value is not None and p[dims.index(q["id"])] != value:
                    continue  # an answer to a profile question is the person's group
                index[(q["id"], value, p)] = len(index)
    rows, targets, hidden, labels = [], [], [], []

    def cells(qid: str, value: str | None, dim: str | None, group: str | None) -> list[int]:
        return [i for (q, v, p), i in index.items() if q == qid
                and (v == value if value is not None else v is not None)
                and (dim is None or p[dims.index(dim)] == group)]

    def publish(found: list[int], count: int | None, label: tuple, why: str | None) -> None:
        row = np.zeros(len(index))
        row[found] = 1
        if count is None:
            hidden.append((label, row, why))
            if why == "few":  # the label says fewer than k
                labels.append((row, K - 1))
        else:
            rows.append(row)
            targets.append(count)

    for q in questions:
        why = q.get("why", {})
        publish(cells(q["id"], None, None, None), q["respondents"], (q["id"], "*", "*"),
                why.get("*"))
        for value, count in q["counts"].items():
            publish(cells(q["id"], value, None, None), count, (q["id"], "*", value),
                    why.get(value))
        for dim, by in q["by"].items():
            for group, row in by.items():
                group = "" if group == "not_given" else group
                why = row.get("why", {})
                publish(cells(q["id"], None, dim, group), row["respondents"],
                        (q["id"], f"{dim}={group}", "*"), why.get("*"))
                for value, count in row["counts"].items():
                    publish(cells(q["id"], value, dim, group), count,
                            (q["id"], f"{dim}={group}", value), why.get(value))
    links = []  # the same people by group, whichever question counts them
    for first, other in zip(questions, questions[1:], strict=False):
        for p in people:
            row = np.zeros(len(index))
            row[[i for (q, _, pp), i in index.items() if q == first["id"] and pp == p]] = 1
            row[[i for (q, _, pp), i in index.items() if q == other["id"] and pp == p]] -= 1
            links.append(row)
    equations = np.array(rows + links) if rows or links else None
    b = np.array(targets + [0] * len(links)) if rows or links else None
    a_ub = np.array([row for row, _ in labels]) if labels else None
    b_ub = np.array([target for _, target in labels]) if labels else None
    bounds = {}
    for label, objective, why in hidden:
        low = linprog(objective, A_eq=equations, b_eq=b, A_ub=a_ub, b_ub=b_ub,
                      bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=equations, b_eq=b, A_ub=a_ub, b_ub=b_ub,
                       bounds=(0, None), method="highs")
        assert low.status == 0, low.message
        bounds[label] = (low.fun, float("inf") if high.status == 3 else -high.fun, why)
    return bounds


def assert_no_figure_pinned(bounds: dict[str, tuple], k: int = K) -> None:
    """Hidden for being few: still anything from 0 to k-1; otherwise at least k values."""
    narrow = {label: found for label, (*found, why) in bounds.items()
              if (why == "few" and not (found[0] <= 1e-6 and found[1] >= k - 1 - 1e-6))
              or (why != "few" and found[1] - found[0] < k - 1 - 1e-6)}
    assert not narrow, f"hidden figures narrowed beyond their labels: {narrow}"


@pytest.fixture
def url(tmp_path) -> str:
    found = f"sqlite:///{tmp_path / 'release.sqlite3'}"
    migrate(found)
    return found


def cross_table_people(seed: int = 194, size: int = 400) -> list[dict[str, Any]]:
    """Two profile fields with a rare group each: every group big enough for its tables to
    be published (k people per answer), their crossings small."""
    rng = random.Random(seed)
    people = []
    for _ in range(size):
        people.append({"gender": rng.choices(CHOICES["gender"], [10, 10, 2])[0],
                       "age": rng.choices(CHOICES["age"], [1, 6, 6])[0],
                       "source": rng.choices(CHOICES["source"], [10, 10, 1])[0]})
    return people


FIGURE = re.compile(r'data-figure="([^"]*)" data-(count|why)="([^"]*)"')
SECTION = re.compile(r'<section class="question" id="q-([^"]+)" data-type="([^"]+)">(.*?)'
                     r'</section>', re.S)


def page_figures(html: str) -> dict[str, Any]:
    """The figures a public page shows (and what its hidden ones say), read off its HTML."""
    questions, dimensions = [], set()
    for question_id, kind, body in SECTION.findall(html):
        question: dict[str, Any] = {"id": question_id, "type": kind, "respondents": None,
                                    "counts": {}, "by": {}, "why": {}}
        for key, attribute, content in FIGURE.findall(body):
            dimension, group, value = key.split("/")
            count = int(content) if attribute == "count" else None
            if dimension:
                dimensions.add(dimension)
                target = question["by"].setdefault(dimension, {}).setdefault(
                    group, {"respondents": None, "counts": {}, "why": {}})
            else:
                target = question
            if value == "*":
                target["respondents"] = count
            else:
                target["counts"][value] = count
            if attribute == "why":
                target["why"][value] = content
        questions.append(question)
    return {"dimensions": sorted(dimensions), "questions": questions}


def public_page(runtime: Any, round_id: int) -> str:
    with session_scope(runtime.database_url) as db:
        path = publish(db, round_id)
    client = client_for(runtime)
    client.app.include_router(dashboard.router)
    page = client.get(path)
    assert page.status_code == 200
    return page.text


def test_the_public_page_read_as_html_gives_no_hidden_cell_away(runtime):
    """The attack on what the public page prints, nothing else."""
    round_id = make_round(runtime.database_url,
                          survey_of(["gender", "age"], conditional=False), cross_table_people())
    figures = page_figures(public_page(runtime, round_id))
    assert {"gender", "age"} <= set(figures["dimensions"])
    hidden = [why for question in figures["questions"] for table in question["by"].values()
              for row in table.values() for why in row["why"].values()]
    assert "few" in hidden  # small cells were there, and are labelled as such
    assert_no_figure_pinned(attack(figures, CHOICES))


def test_results_messages_say_nothing_the_public_page_does_not(runtime, twilio):
    """Every number a participant is sent is a figure (or a share) of the public page."""
    people = skip_logic_people() * 3
    round_id = make_round(runtime.database_url, survey_of([]), people)
    share(runtime.database_url, runtime.redis, round_id, k=K)
    drain(runtime)
    sent = " ".join(message["Body"] for message in twilio.sent)
    page = re.sub(r"<[^>]*>", " ", public_page(runtime, round_id))
    assert sent and set(re.findall(r"\d+", sent)) <= set(re.findall(r"\d+", page))


def test_a_profile_cross_table_published_twice_gives_no_hidden_cell_away(database_url):
    """Case 1: gender × age under gender and age × gender under age, suppressed jointly."""
    round_id = make_round(database_url, survey_of(["gender", "age"], conditional=False),
                          cross_table_people())
    figures = released_json(database_url, round_id)
    gender = {q["id"]: q for q in figures["questions"]}["gender"]
    assert any(count is None for row in gender["by"]["age"].values()
               for count in row["counts"].values())  # there was something to protect
    assert_no_figure_pinned(attack(figures, CHOICES))


def skip_logic_people() -> list[dict[str, Any]]:
    people = [{"source": "tap"} for _ in range(3)]
    people += [{"source": "well", "fetch": 10 + i} for i in range(5)]
    people += [{"source": "river", "fetch": 30 + i} for i in range(4)]
    return people


def test_a_conditional_question_does_not_give_its_skipped_group_away(url):
    """Case 2: 12 answered the source, 9 the fetch question asked when it is not a tap."""
    round_id = make_round(url, survey_of([]), skip_logic_people())
    figures = {q["id"]: q for q in released_json(url, round_id)["questions"]}
    tap = figures["source"]["counts"]["tap"]
    assert tap is None
    total, asked = figures["source"]["respondents"], figures["fetch"]["respondents"]
    if total is not None and asked is not None:  # tap ≤ total − asked: at least k values
        assert total - asked >= K - 1


def test_numbers_publish_no_single_persons_extreme(url):
    """Case 3: min and max only when at least k people share them."""
    people = [{"source": "tap"}] * 6 + [{"source": "well", "fetch": minutes} for minutes in
                                        [5, 5, 5, 5, 5, 20, 30, 40, 50, 60, 70, 120]]
    round_id = make_round(url, survey_of([]), people)
    stats = {q["id"]: q for q in released_json(url, round_id)["questions"]}["fetch"]["stats"]
    assert stats["count"] == 12 and stats["min"] == 5  # five people said 5
    assert stats["max"] is None  # one person's 120 minutes stays theirs


def test_hidden_figures_say_why(url):
    """Case 4: a figure hidden to protect another is not called 'fewer than k'."""
    round_id = make_round(url, survey_of(["gender"], conditional=False),
                          cross_table_people(7))
    with session_scope(url) as db:
        release = release_of(db, round_id, K)
        raw = summarise(db, round_id, K)
        survey = raw.survey
        shown = published(release, survey)
    reasons = set()
    for question_id, item in shown.questions.items():
        for table in (item.overall, *item.by.values()):
            true = raw.questions[question_id].overall if table.dimension is None else \
                raw.questions[question_id].by[table.dimension]
            for key, why in table.why.items():
                reasons.add(why)
                assert (why == "few") == (true.raw(*key) < K), (question_id, key, why)
    assert reasons == {"few", "protects"}


def test_results_are_about_the_persons_own_community(database_url):
    """Case 7: Kibera hears about Kibera; someone from elsewhere hears the whole round."""
    people = [{"source": CHOICES["source"][i % 3]} for i in range(60)]
    communities = ["kibera"] * 45 + ["dhaka"] * 15
    survey = survey_of([], conditional=False)
    round_id = make_round(database_url, survey, people, communities)
    with session_scope(database_url) as db:
        release = release_of(db, round_id, K)
        kibera = published(release, survey, scope_for(release, "kibera"))
        whole = published(release, survey, scope_for(release, "nowhere"))
    assert kibera.questions["source"].overall.count("*", "tap") == 15
    text = messages(kibera, "en")[0].text
    assert text.startswith('Results of "Water" in kibera:') and "of 45 neighbours" in text
    assert messages(whole, "en")[0].text.startswith(
        'Results of "Water", all communities together:')
    assert whole.questions["source"].overall.count() == 60


def test_publish_and_unpublish_from_the_command_line(runtime):
    from heard.cli import app
    round_id = make_round(runtime.database_url, survey_of([]), skip_logic_people())
    runner = CliRunner()
    result = runner.invoke(app, ["round", "publish", str(round_id)])
    assert result.exit_code == 0, result.output
    assert "/results/" in result.output and f"/rounds/{round_id}" not in result.output
    token = result.output.strip().rsplit("/results/", 1)[1]
    assert len(token) >= 32  # unguessable, not a sequential id
    again = runner.invoke(app, ["round", "unpublish", str(round_id)])
    assert again.exit_code == 0 and "withdrawn" in again.output
    missing = runner.invoke(app, ["round", "publish", "999"])
    assert missing.exit_code == 1 and "no round 999" in missing.output


SENSITIVE_QUESTION = """  - id: violence
    type: yesno
    sensitive: true
    text: {en: Has anyone hurt you this year?}
"""


def test_a_sensitive_question_has_a_higher_k_no_all_or_none_and_no_public_page(runtime):
    survey = survey_of(["gender"], conditional=False, more=SENSITIVE_QUESTION)
    people = ([{"gender": "woman", "source": "tap", "violence": "yes"}] * 44
              + [{"gender": "man", "source": "well", "violence": "no"}] * 33
              + [{"gender": "man", "source": "well", "violence": "yes"}] * 7)
    round_id = make_round(runtime.database_url, survey, people)
    figures = {q["id"]: q for q in released_json(runtime.database_url, round_id)["questions"]}
    violence = figures["violence"]
    assert violence["respondents"] == 84 and violence["counts"] == {"yes": 51, "no": 33}
    by_gender = violence["by"]["gender"]
    assert by_gender["woman"]["counts"]["yes"] is None  # all 44 women: it would tell each one
    assert by_gender["man"]["counts"]["yes"] is None  # 7 is under the sensitive k (2k = 10)
    assert set(by_gender["man"]["why"].values()) == {"sensitive"}  # no reason given away
    page = public_page(runtime, round_id)
    assert 'id="q-violence"' not in page and "hurt" not in page
    assert 'id="q-source"' in page


def test_a_release_is_cut_once_and_never_changes(url):
    round_id = make_round(url, survey_of([]), skip_logic_people())
    first = released_json(url, round_id)
    with session_scope(url) as db:  # more answers after the release was cut
        session = db.query(SurveySession).first()
        db.add(StoredAnswer(session_id=session.id, question_id="fetch", value=3, raw="3"))
    assert released_json(url, round_id) == first


@settings(max_examples=12, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(size=st.integers(5, 500), dims=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_random_rounds_pass_the_attack(tmp_path_factory, size, dims, seed):
    """Any round: 5-500 people, 1-3 profile fields, a conditional question."""
    url = f"sqlite:///{tmp_path_factory.mktemp('random') / 'r.sqlite3'}"
    migrate(url)
    rng = random.Random(seed)
    profiles = ["gender", "age", "caste"][:dims]
    people = []
    for _ in range(size):
        person: dict[str, Any] = {name: rng.choice(CHOICES[name]) for name in profiles
                                  if rng.random() > 0.05}
        person["source"] = rng.choice(CHOICES["source"])
        if person["source"] != "tap" and rng.random() > 0.1:
            person["fetch"] = rng.randint(0, 90)
        people.append(person)
    round_id = make_round(url, survey_of(profiles), people)
    figures = released_json(url, round_id)
    with session_scope(url) as db:
        audit = release_of(db, round_id, K).audit
    assert all(high is None or high - low >= K - 1 - 1e-6
               for low, high, _ in audit["ranges"].values())  # None: unbounded
    if dims <= 2:  # the independent attacker's own linear programs (fast enough up to 2)
        assert_no_figure_pinned(attack(figures, CHOICES))


def test_a_look_at_an_open_rounds_results_cuts_no_release_that_would_go_stale(runtime):
    """While a round is open, its release is not cut by anyone's look (an analyst's API call,
    a facilitator's results page, a publish): the one release is cut when it closes, with
    every answer, so the community never gets the figures of the round's first day."""
    from sqlalchemy import select

    from heard.cli import app
    from surveys.tables import Release
    from surveys.tokens import create_token
    from surveys.users import create_user
    from tests.test_console import PASSWORD, _sign_in

    people = [{"source": CHOICES["source"][i % 3]} for i in range(30)]
    round_id = make_round(runtime.database_url, survey_of([], conditional=False), people)
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        db.get_one(Round, round_id).status = "open"
        analyst = {"Authorization": f"Bearer {create_token(db, 'analyst', 'a')}"}
        facilitator = {"Authorization": f"Bearer {create_token(db, 'facilitator', 'f')}"}
        create_user(db, "wanjiru", PASSWORD, "facilitator")
    summary = client.get(f"/api/v1/rounds/{round_id}/summary", headers=analyst)
    assert summary.status_code == 409 and "when it closes" in summary.json()["detail"]
    published = client.post(f"/api/v1/rounds/{round_id}/publish", headers=facilitator)
    assert published.status_code == 409 and "when it closes" in published.json()["detail"]
    assert _sign_in(client, "wanjiru").status_code == 303
    page = client.get(f"/console/rounds/{round_id}/results")
    assert page.status_code == 409 and "released when the round closes" in page.text
    assert "released when the round closes" in client.get(f"/console/rounds/{round_id}").text
    cli = CliRunner().invoke(app, ["round", "publish", str(round_id)])
    assert cli.exit_code == 1 and "when it closes" in cli.output
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Release)).all() == []
        db.get_one(Round, round_id).status = "closed"
    closed = client.get(f"/api/v1/rounds/{round_id}/summary", headers=analyst)
    assert closed.status_code == 200 and closed.json()["participants"] == 30
