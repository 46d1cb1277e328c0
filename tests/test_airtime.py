"""Airtime thank-yous through Africa's Talking: one top-up per person and round on completion,
never twice, within the round's budget, every attempt recorded; set from the CLI and the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from heard.commands.rounds import app as round_cli
from surveys import catalog
from surveys.airtime import Airtime, AirtimeError, parse_airtime, shown
from surveys.database import session_scope
from surveys.tables import AirtimeReward, Contact, Round
from surveys.tokens import create_token
from tests.pipeline import client_for, count, drain
from tests.test_africastalking import at as at  # noqa: F401 - the fixture
from tests.test_africastalking import at_sms
from tests.test_sms import AMINA
from tests.test_sms import twilio as twilio  # noqa: F401 - the fixture `at` needs
from worker import jobs, rounds

KENYANS = ["+254712000001", "+254712000002", "+254712000003"]
ANSWERS = ["WATER367", "1", "1", "5", "1 3", "1"]  # consent, then every question: completed


def airtime_round(runtime, airtime: Airtime | None = Airtime("KES", 1000, 2500)) -> int:
    with session_scope(runtime.database_url) as db:
        round_ = rounds.create_round(db, catalog.latest(db, "test-water"), None, airtime=airtime)
        round_.code = "WATER367"
        return round_.id


def complete(client, runtime, address: str) -> None:
    """`address` answers the whole survey through AT, and every job runs (the top-up's too)."""
    for number, text in enumerate(ANSWERS):
        assert at_sms(client, address, text, f"AT-{address}-{number}").status_code == 200
        drain(runtime)


def rewards(runtime) -> list[dict]:
    with session_scope(runtime.database_url) as db:
        return [{"status": row.status, "amount": row.amount, "currency": row.currency,
                 "attempts": row.attempts, "provider_id": row.provider_id, "error": row.error}
                for row in db.scalars(select(AirtimeReward).order_by(AirtimeReward.id))]


def test_a_completion_tops_up_once_and_replays_change_nothing(runtime, at):  # noqa: F811
    client = client_for(runtime)
    round_id = airtime_round(runtime)
    complete(client, runtime, AMINA)
    assert at.bodies_to(AMINA)[-1] == "Asante!"  # completed
    [topped] = at.airtime
    with session_scope(runtime.database_url) as db:
        contact_id = db.scalars(select(Contact.id)).one()
    assert (topped["phoneNumber"], topped["currencyCode"], topped["amount"]) == (AMINA, "KES",
                                                                                  10.0)
    assert topped["key"] == f"heard-airtime-{round_id}-{contact_id}"
    path, form, _ = at.requests[-1]
    assert path == "/version1/airtime/send" and form["username"] == "heard"
    assert rewards(runtime) == [{"status": "sent", "amount": 1000, "currency": "KES",
                                 "attempts": 1, "provider_id": topped["requestId"],
                                 "error": None}]
    at_sms(client, AMINA, ANSWERS[-1], f"AT-{AMINA}-{len(ANSWERS) - 1}")  # re-delivered
    at_sms(client, AMINA, "1", "AT-after")  # and after the end
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        reward_id = db.scalars(select(AirtimeReward.id)).one()
    assert jobs.send_airtime(reward_id) == "sent"  # the job again: done already
    jobs.sweep()
    drain(runtime)
    assert len(at.airtime) == 1 and count(runtime, AirtimeReward) == 1


def test_the_budget_stops_further_top_ups(runtime, at):  # noqa: F811
    """KES 25 buys two top-ups of KES 10: the third who completes is recorded, not paid."""
    client = client_for(runtime)
    round_id = airtime_round(runtime)
    for address in KENYANS:
        complete(client, runtime, address)
    assert [topped["phoneNumber"] for topped in at.airtime] == KENYANS[:2]
    assert [row["status"] for row in rewards(runtime)] == ["sent", "sent", "over_budget"]
    with session_scope(runtime.database_url) as db:
        report = rounds.round_status(db, round_id).airtime
    assert report is not None
    assert report.described() == ("airtime (KES 10.00 each): 1 over budget, 2 sent; spent "
                                  "KES 20.00 of KES 25.00")


def test_a_refused_top_up_is_recorded_and_does_not_count_against_the_budget(runtime, at):  # noqa: F811
    client = client_for(runtime)
    airtime_round(runtime)
    at.fail_airtime(KENYANS[0], "Insufficient Credit")
    for address in KENYANS:
        complete(client, runtime, address)
    assert [row["status"] for row in rewards(runtime)] == ["failed", "sent", "sent"]
    failed = rewards(runtime)[0]
    assert failed["attempts"] == 1 and "Insufficient Credit" in failed["error"]


def test_a_passing_failure_is_retried_with_the_same_key_and_counted(runtime, at):  # noqa: F811
    client = client_for(runtime)
    airtime_round(runtime)
    at.fail_airtime(AMINA, ("http", 503))
    complete(client, runtime, AMINA)  # (rq schedules its retry: run by hand below)
    [row] = rewards(runtime)
    assert (row["status"], row["attempts"]) == ("sending", 1) and "503" in row["error"]
    with session_scope(runtime.database_url) as db:
        reward_id = db.scalars(select(AirtimeReward.id)).one()
    assert jobs.send_airtime(reward_id) == "sent"
    assert [row["attempts"] for row in rewards(runtime)] == [2]
    keys = [headers.get("Idempotency-Key") for path, _, headers in at.requests
            if path.endswith("/airtime/send")]
    assert len(keys) == 2 and len(set(keys)) == 1 and len(at.airtime) == 1


def test_a_top_up_whose_answer_was_lost_is_not_made_twice(runtime, at):  # noqa: F811
    """AT topped up but its answer never came: the retry's same Idempotency-Key gets AT's
    first answer back, not a second top-up."""
    client = client_for(runtime)
    airtime_round(runtime)
    at.lose_answers = 1
    complete(client, runtime, AMINA)
    assert len(at.airtime) == 1 and rewards(runtime)[0]["status"] == "sending"
    with session_scope(runtime.database_url) as db:
        reward_id = db.scalars(select(AirtimeReward.id)).one()
    assert jobs.send_airtime(reward_id) == "sent"
    assert len(at.airtime) == 1 and rewards(runtime)[0]["provider_id"] == (
        at.airtime[0]["requestId"])


def test_a_top_up_whose_job_was_lost_with_redis_is_sent_by_the_sweeper(runtime, at,  # noqa: F811
                                                                       monkeypatch):
    monkeypatch.setenv("HEARD_SWEEP_AFTER_SECONDS", "0")
    client = client_for(runtime)
    airtime_round(runtime)
    at.fail_airtime(AMINA, ("http", 503))
    complete(client, runtime, AMINA)
    assert rewards(runtime)[0]["status"] == "sending"
    runtime.redis.flushdb()  # its retry went with Redis
    jobs.sweep()
    drain(runtime)
    assert rewards(runtime)[0]["status"] == "sent" and len(at.airtime) == 1


def test_a_round_without_airtime_gives_none(runtime, at):  # noqa: F811
    client = client_for(runtime)
    airtime_round(runtime, airtime=None)
    complete(client, runtime, AMINA)
    assert at.airtime == [] and count(runtime, AirtimeReward) == 0


def test_the_cli_sets_airtime_and_round_status_shows_it(runtime, at):  # noqa: F811
    client_for(runtime)
    survey = "tests/data/water.yaml"
    made = CliRunner().invoke(round_cli, ["create", "--survey", survey, "--airtime", "KES 10",
                                          "--airtime-budget", "5000"])
    assert made.exit_code == 0, made.output
    assert "airtime: KES 10.00 to each who completes, KES 5000.00 in all" in made.output
    round_id = int(re.search(r"round (\d+):", made.output)[1])
    with session_scope(runtime.database_url) as db:
        round_ = db.get_one(Round, round_id)
        assert (round_.airtime_currency, round_.airtime_amount, round_.airtime_budget) == (
            "KES", 1000, 500000)
    status = CliRunner().invoke(round_cli, ["status", str(round_id)])
    assert "airtime (KES 10.00 each): none yet; spent KES 0.00 of KES 5000.00" in status.output
    for options, problem in ((["--airtime", "10"], "expected a currency code and an amount"),
                             (["--airtime", "KES 10"], "an airtime budget is required"),
                             (["--airtime-budget", "100"], "give --airtime too"),
                             (["--airtime", "KES 10", "--airtime-budget", "UGX 100"],
                              "in UGX, not in KES")):
        refused = CliRunner().invoke(round_cli, ["create", "--survey", survey, *options])
        assert refused.exit_code == 2 and problem in refused.output, refused.output


def test_the_api_sets_airtime_shows_it_and_refuses_a_bad_amount(runtime, at):  # noqa: F811
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        headers = {"Authorization": f"Bearer {create_token(db, 'facilitator', 'f')}"}
    created = client.post("/api/v1/rounds", headers=headers, json={
        "survey": "test-water", "airtime": "KES 10.50", "airtime_budget": "KES 100"})
    assert created.status_code == 201, created.text
    assert created.json()["airtime"] == {"each": "KES 10.50", "budget": "KES 100.00",
                                         "spent": "KES 0.00", "top_ups": {}}
    refused = client.post("/api/v1/rounds", headers=headers, json={
        "survey": "test-water", "airtime": "KES 0", "airtime_budget": "100"})
    assert refused.status_code == 422 and "above 0" in refused.text


def test_amounts_are_read_in_hundredths_and_shown_as_at_reads_them():
    assert parse_airtime("kes 10.5", "KES 25") == Airtime("KES", 1050, 2500)
    assert parse_airtime("UGX 500", "100000") == Airtime("UGX", 50000, 10000000)
    assert shown("KES", 1050) == "KES 10.50"
    for amount, budget, problem in (("KES 10.123", "50", "at most two decimals"),
                                    ("KES 10", "5", "less than one top-up"),
                                    ("KES 10", "5,000", "expected an amount")):
        with pytest.raises(AirtimeError, match=problem):
            parse_airtime(amount, budget)

