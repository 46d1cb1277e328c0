"""Facilitators: import contacts, create and launch rounds, remind, close; the API and roles."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from surveys import catalog
from surveys.contact_import import parse_contacts, store_contacts
from surveys.database import session_scope
from surveys.tables import Contact, OutboxMessage, SurveySession
from surveys.tokens import create_token
from tests.conftest import HERE
from tests.fakes.twilio_api import fake_twilio
from tests.pipeline import answers, client_for, count, drain
from worker import rounds
from worker.queues import enqueue_outbound

CSV = """channel,phone,language,community,consent,gender
sms,+254712000001,sw,kibera,yes,female
sms,0712 000002,en,kibera,yes,male
sms,+254712000001,sw,kibera,yes,female
sms,not-a-number,en,kibera,yes,
telegram,4242,bn,kibera,yes,
telegram,@handle,bn,kibera,yes,
sms,+254712000003,xx,kibera,yes,
sms,+254712000004,en,kibera,maybe,
sms,+254712000005,en,kibera,no,
sms,+254712000006,en,mathare,yes,
"""


def test_csv_import_keeps_good_rows_and_reports_bad_ones_by_line():
    contacts, report = parse_contacts(CSV, region="KE", profile=["gender"])
    assert [str(error) for error in report.errors] == [
        "line 5: not a phone number: 'not-a-number': The string supplied did not seem to be a "
        "phone number.",
        "line 7: a Telegram address is a numeric chat id, not '@handle'",
        "line 8: unknown language 'xx' (a code such as sw, or a name such as Swahili)",
        "line 9: consent must be yes or no, not 'maybe'"]
    assert report.merged_duplicates == 1
    assert [(c.channel, c.address) for c in contacts] == [
        ("sms", "+254712000001"), ("sms", "+254712000002"), ("telegram", "4242"),
        ("sms", "+254712000005"), ("sms", "+254712000006")]
    assert contacts[0].profile == {"gender": "female"}


def test_import_command_prints_errors_and_summary(runtime, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(CSV, encoding="utf-8")
    env = os.environ | {"DATABASE_URL": runtime.database_url}
    result = subprocess.run([sys.executable, "-m", "heard", "contacts", "import", str(path),
                             "--region", "KE"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{path}:line 7: a Telegram address is a numeric chat id" in result.stderr
    assert result.stdout.strip() == (
        "10 rows read: 5 new contacts, 0 updated, 1 duplicate rows merged, 4 bad rows")
    assert count(runtime, Contact) == 5


def _setup(runtime, csv: str = CSV) -> int:
    client_for(runtime)
    contacts, report = parse_contacts(csv, region="KE")
    with session_scope(runtime.database_url) as db:
        store_contacts(db, contacts, report)
        round_ = rounds.create_round(db, catalog.latest(db, "test-water"), "kibera")
        return round_.id


def test_dry_run_counts_messages_and_segments_per_language(runtime):
    round_id = _setup(runtime)
    with session_scope(runtime.database_url) as db:
        plan = rounds.plan_launch(db, round_id)
    # kibera, consented, reachable: two SMS (sw, en) and one Telegram (bn); 'no' is not invited
    # the whole conversation: the invitation (2), the 5 questions asked of everyone (7 with
    # the 2 that depend on answers), one of them asked again, the closing; a reminder is its
    # own line and the question it asks again
    sms = {"contacts": 1, "messages": 2, "segments": 2, "typical_segments": 9,
           "longest_segments": 11, "reminder_segments": 2}
    assert {key: dict(value) for key, value in plan.rows.items()} == {
        ("sw", "sms"): sms, ("en", "sms"): sms,
        ("bn", "telegram"): {"contacts": 1, "messages": 2, "typical_messages": 9,
                             "longest_messages": 11, "reminder_messages": 2}}


def test_launch_invites_by_sms_and_telegram_once(runtime, monkeypatch):
    from bot import sender
    from tests.fakes.telegram_api import FakeTelegram

    round_id = _setup(runtime)
    telegram = FakeTelegram().start()
    monkeypatch.setattr(sender, "PER_CHAT_PER_SECOND", 1000.0)
    with fake_twilio() as twilio:
        for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t",
                            "TWILIO_FROM": "+15005550006", "TWILIO_API_BASE_URL": twilio.url,
                            "HEARD_SMS_PER_SECOND": "1000", "TELEGRAM_BOT_TOKEN": telegram.token,
                            "TELEGRAM_API_BASE_URL": telegram.base_url}.items():
            monkeypatch.setenv(name, value)
        assert rounds.launch(runtime.database_url, runtime.redis, round_id,
                             enqueue_outbound) == 3
        assert rounds.launch(runtime.database_url, runtime.redis, round_id,
                             enqueue_outbound) == 0  # launching again invites nobody twice
        drain(runtime)
        assert twilio.bodies_to("+254712000001") == [  # imported consent is not the survey's
            "Maswali matano kuhusu maji.",
            "Unakubali?\n1 Ndiyo\n2 Hapana"]
        assert len(twilio.bodies_to("+254712000002")) == 2
        assert twilio.bodies_to("+254712000005") == []  # said no to consent
    assert [call["text"] for call in telegram.sent()] == [
        "পানি নিয়ে পাঁচটি প্রশ্ন।", "আপনি কি রাজি?"]
    telegram.stop()


def test_sms_sends_honour_the_per_sender_rate(runtime, monkeypatch):
    round_id = _setup(runtime)
    with fake_twilio() as twilio:
        for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t",
                            "TWILIO_FROM": "+15005550006", "TWILIO_API_BASE_URL": twilio.url,
                            "HEARD_SMS_PER_SECOND": "4", "TELEGRAM_BOT_TOKEN": ""}.items():
            monkeypatch.setenv(name, value)
        rounds.launch(runtime.database_url, runtime.redis, round_id, enqueue_outbound)
        began = time.monotonic()
        drain(runtime)
        elapsed = time.monotonic() - began
    assert len(twilio.sent) == 4
    assert elapsed >= 0.7  # 4 SMS at 4 per second: the last waits 3/4 s behind the first


def test_joining_by_sms_keyword_asks_consent_first(runtime):
    round_id = _setup(runtime)
    with session_scope(runtime.database_url) as db:
        code = rounds.get_round(db, round_id)[0].code
    from surveys.messages import Inbound
    from worker.ingest import ingest

    def text(body: str, number: int) -> None:
        ingest(runtime.database_url, runtime.redis,
               Inbound("sms", "walk-in", body, f"j-{number}"))

    text(code.lower(), 1)
    text("1", 2)  # "1" = yes to consent
    text("2", 3)
    drain(runtime)
    assert answers(runtime) == {"source": "well"}
    with session_scope(runtime.database_url) as db:
        session = db.scalars(select(SurveySession)).one()
        assert session.round_id == round_id
        assert db.scalars(select(Contact).where(Contact.address == "walk-in")).one().consent


def test_consent_no_ends_politely_and_stores_nothing(runtime):
    round_id = _setup(runtime)
    with session_scope(runtime.database_url) as db:
        code = rounds.get_round(db, round_id)[0].code
    from surveys.messages import Inbound
    from worker.ingest import ingest

    for number, body in enumerate([code, "no", "1"]):
        ingest(runtime.database_url, runtime.redis,
               Inbound("sms", "walk-in", body, f"n-{number}"))
    drain(runtime)
    assert answers(runtime) == {}
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact).where(Contact.address == "walk-in")).one(
        ).consent is False


def test_remind_skips_finishers_and_the_opted_out(runtime):
    round_id = _setup(runtime, CSV.replace("sms,+254712000005,en,kibera,no,",
                                           "sms,+254712000005,en,kibera,yes,"))
    rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)
    with session_scope(runtime.database_url) as db:
        sessions = {s.contact_id: s for s in db.scalars(select(SurveySession))}
        by_address = {c.address: c for c in db.scalars(select(Contact))}
        sessions[by_address["+254712000001"].id].status = "completed"
        by_address["+254712000002"].opted_out = True
    before = count(runtime, OutboxMessage)
    assert rounds.remind(runtime.database_url, runtime.redis, round_id,
                         lambda redis, ids: True) == (2, 0, 2, 0)  # Telegram and +…05
    with session_scope(runtime.database_url) as db:
        texts = [row.text for row in db.scalars(select(OutboxMessage)
                                                 .where(OutboxMessage.id > before))]
    assert "A reminder: we would still like to hear from you." in texts
    assert sorted(texts[1::2]) == [  # still at the survey's consent question
        "Do you agree?\n1 Yes\n2 No", "আপনি কি রাজি?\n১ হ্যাঁ\n২ না"]
    after = count(runtime, OutboxMessage)
    assert rounds.remind(runtime.database_url, runtime.redis, round_id,  # a second remind
                         lambda redis, ids: True) == (0, 2, 0, 0)  # sends nothing
    assert count(runtime, OutboxMessage) == after
    assert rounds.remind(runtime.database_url, runtime.redis, round_id,  # ... unless told
                         lambda redis, ids: True, again=True) == (2, 0, 2, 0)


def test_close_expires_sessions_and_status_counts(runtime):
    round_id = _setup(runtime)
    rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)
    with session_scope(runtime.database_url) as db:
        first = db.scalars(select(SurveySession).order_by(SurveySession.id)).first()
        first.status = "completed"
    with session_scope(runtime.database_url) as db:
        report = rounds.round_status(db, round_id)
        assert report.totals["invited"] == 3 and report.totals["completed"] == 1
        assert rounds.close_round(db, round_id) == 2
    with session_scope(runtime.database_url) as db:
        statuses = sorted(s.status for s in db.scalars(select(SurveySession)))
    assert statuses == ["completed", "expired", "expired"]
    with pytest.raises(rounds.RoundError, match="only open rounds launch"):
        rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)


def test_contact_in_two_rounds_is_answered_in_the_one_that_last_asked(runtime):
    round_a = _setup(runtime)
    with session_scope(runtime.database_url) as db:
        round_b = rounds.create_round(db, catalog.latest(db, "water-access"), "kibera").id
    rounds.launch(runtime.database_url, runtime.redis, round_a, lambda redis, ids: True)
    rounds.launch(runtime.database_url, runtime.redis, round_b, lambda redis, ids: True)
    from surveys.messages import Inbound
    from worker.ingest import ingest

    for number in range(2):  # yes to round b's consent, then its first question
        ingest(runtime.database_url, runtime.redis,
               Inbound("sms", "+254712000002", "1", f"two-{number}"))
        drain(runtime)
    with session_scope(runtime.database_url) as db:
        answered = db.scalars(select(SurveySession).where(SurveySession.status != "consent",
                                                          SurveySession.round_id == round_a
                                                          ).order_by(SurveySession.id)).all()
        b_session = db.scalars(select(SurveySession).where(
            SurveySession.round_id == round_b,
            SurveySession.contact_id == db.scalars(select(Contact.id).where(
                Contact.address == "+254712000002")).one())).one()
    assert answered == [] and b_session.state["answers"] == {"gender": "female"}


def test_api_roles(runtime):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        tokens = {role: create_token(db, role, role) for role in
                  ("facilitator", "analyst", "admin")}

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    assert client.get("/api/v1/rounds").status_code == 401
    assert client.get("/api/v1/rounds", headers={"Authorization": "Bearer nope"}
                      ).status_code == 401
    assert client.get("/api/v1/rounds", headers=auth("analyst")).status_code == 403
    assert client.get("/api/v1/rounds", headers=auth("facilitator")).status_code == 200
    response = client.post("/api/v1/contacts/import?region=KE", content=CSV,
                           headers=auth("facilitator") | {"Content-Type": "text/csv"})
    assert response.status_code == 200 and len(response.json()["errors"]) == 4
    created = client.post("/api/v1/rounds", json={"survey": "test-water",
                                                   "community": "kibera"},
                          headers=auth("facilitator"))
    assert created.status_code == 201
    round_id = created.json()["id"]
    dry = client.post(f"/api/v1/rounds/{round_id}/launch?dry_run=true",
                      headers=auth("facilitator")).json()
    assert sum(row["contacts"] for row in dry["plan"]) == 3
    assert client.post("/api/v1/tokens", json={"role": "analyst"},
                       headers=auth("facilitator")).status_code == 403
    new = client.post("/api/v1/tokens", json={"role": "analyst"}, headers=auth("admin"))
    assert new.status_code == 201 and new.json()["token"].startswith("hrd_")
    assert client.get(f"/api/v1/rounds/{round_id}", headers=auth("admin")).status_code == 200


def test_survey_upload_is_immutable_once_used(runtime):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "facilitator", "f")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/yaml"}
    text = (HERE / "data" / "water.yaml").read_text(encoding="utf-8")
    first = client.post("/api/v1/surveys", content=text, headers=headers).json()
    assert first["version"] == 1
    _setup(runtime)  # a round now uses test-water v1
    changed = text.replace("Where do you get water?", "Where do you get drinking water?")
    second = client.post("/api/v1/surveys", content=changed, headers=headers).json()
    assert second["version"] == 2
    for _ in range(2):  # the same edit again (a round created from the file each time) ...
        again = client.post("/api/v1/surveys", content=changed, headers=headers).json()
        assert again == second  # ... is that version, not a new one each time
    further = client.post("/api/v1/surveys", headers=headers,
                          content=changed.replace("drinking water", "clean water")).json()
    assert further["version"] == 3
    bad = client.post("/api/v1/surveys", content="id: [", headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0].startswith("upload:1:6: YAML")


@pytest.mark.parametrize("command", ["launch", "remind", "close", "status"])
def test_round_commands_name_a_missing_round_and_exit_1(runtime, command):
    from typer.testing import CliRunner

    from heard.commands.rounds import app

    result = CliRunner().invoke(app, [command, "999"])
    assert result.exit_code == 1 and "no round 999" in result.output, result.output


def test_a_round_that_would_close_before_it_opens_is_refused_by_cli_and_api(runtime):
    from datetime import UTC, datetime, timedelta

    from typer.testing import CliRunner

    from heard.commands.rounds import app
    from surveys.tables import Round

    day = (datetime.now(UTC) + timedelta(days=400)).date()  # in the future, whenever run
    before = day - timedelta(days=1)
    client = client_for(runtime)
    result = CliRunner().invoke(app, ["create", "--survey", str(HERE / "data" / "water.yaml"),
                                      "--opens", f"{day}T09:00", "--closes", f"{before}"])
    assert result.exit_code == 1, result.output
    assert f"close ({before} 00:00 UTC) before it opens ({day} 09:00 UTC)" in result.output
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "facilitator", "facilitator")
    refused = client.post("/api/v1/rounds", json={
        "survey": "test-water", "opens_at": f"{day}T09:00:00+03:00",
        "closes_at": f"{day}T06:00:00Z"}, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 422 and "before it opens" in refused.json()["detail"]
    assert count(runtime, Round) == 0
    kept = client.post("/api/v1/rounds", json={  # the same instants the right way round
        "survey": "test-water", "opens_at": f"{day}T06:00:00Z",
        "closes_at": f"{day}T09:00:01+03:00"}, headers={"Authorization": f"Bearer {token}"})
    assert kept.status_code == 201, kept.text


def test_a_round_opens_and_closes_at_its_times_and_closing_shares_its_results(runtime):
    """The cron's schedule job, with the clock moved by hand (no sleeping): before the round
    opens its code says when, at its time it opens, at its close it closes and results go."""
    from datetime import UTC, datetime, timedelta

    from surveys.messages import Inbound
    from surveys.tables import Round
    from worker import jobs
    from worker.ingest import ingest

    client_for(runtime)
    opens = datetime.now(UTC) + timedelta(days=2)
    with session_scope(runtime.database_url) as db:
        round_ = rounds.create_round(db, catalog.latest(db, "test-water"), None, opens,
                                     opens + timedelta(days=7))
        round_id, code = round_.id, round_.code
        assert round_.status == "scheduled"
    with pytest.raises(rounds.RoundError, match="only open rounds launch"):
        rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)

    def text(body: str, number: int) -> list[str]:
        ingest(runtime.database_url, runtime.redis,
               Inbound("sms", "+447700900123", body, f"s-{number}"))
        drain(runtime)
        with session_scope(runtime.database_url) as db:
            return list(db.scalars(select(OutboxMessage.text).where(
                OutboxMessage.inbox_id.is_not(None)).order_by(OutboxMessage.id)))

    assert text(code, 1) == [f"This survey opens on {opens:%B} {opens.day}, {opens.year}. "
                             f"Send {code} again on that day."]
    assert count(runtime, SurveySession) == 0
    assert jobs.keep_round_schedules(opens - timedelta(minutes=1))[:2] == ([], [])
    assert jobs.keep_round_schedules(opens)[:2] == ([round_id], [])
    text(code, 2)
    text("1", 3)  # yes to consent
    text("2", 4)
    assert answers(runtime) == {"source": "well"}
    before_close = count(runtime, OutboxMessage)
    assert jobs.keep_round_schedules(opens + timedelta(days=7))[:2] == ([], [round_id])
    with session_scope(runtime.database_url) as db:
        assert db.get_one(Round, round_id).status == "closed"
        session = db.scalars(select(SurveySession)).one()
        assert session.status == "expired"  # it stopped half-way
    assert count(runtime, OutboxMessage) > before_close  # the results, to the participant
    assert jobs.keep_round_schedules(opens + timedelta(days=8))[:2] == ([], [])  # closed once


SPREADSHEET = [  # as facilitators' spreadsheets hold it: their headers, names, words, countries
    ["Mobile Number", "Language", "Community", "Consent", "Country", "Name"],
    ["0712 100 001", "Swahili", "kibera", "Ndiyo", "", "Amina"],
    ["01712 345678", "বাংলা", "kibera", "হ্যাঁ", "Bangladesh", "Rahima"],
    ["98765 43210", "Hindi", "kibera", "हाँ", "IN", "Meera"],
    ["612 345 678", "français", "kibera", "non", "+34", "José"],
]


def _as_xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("saved_as", ["utf-8", "utf-8 BOM, semicolons", "utf-16 tabs",
                                      "windows-1252 semicolons", "xlsx"])
def test_contacts_import_reads_what_spreadsheets_save(runtime, saved_as):
    rows = SPREADSHEET if "1252" not in saved_as else [  # cp1252 has no Bengali or Hindi
        row for row in SPREADSHEET if row[0] in ("Mobile Number", "0712 100 001",
                                                 "612 345 678")]
    separator = ";" if "semicolons" in saved_as else "\t" if "tabs" in saved_as else ","
    text = "\r\n".join(separator.join(row) for row in rows) + "\r\n"
    data = {"utf-8": lambda: text.encode(), "utf-8 BOM, semicolons": lambda: text.encode(
        "utf-8-sig"), "utf-16 tabs": lambda: text.encode("utf-16"),
        "windows-1252 semicolons": lambda: text.encode("cp1252"),
        "xlsx": lambda: _as_xlsx(rows)}[saved_as]()
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "facilitator", "f")
    response = client.post("/api/v1/contacts/import?region=KE", content=data,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["errors"] == []
    assert response.json()["dropped_columns"] == ["Name"]
    with session_scope(runtime.database_url) as db:
        stored = {(c.address, c.language, c.consent) for c in db.scalars(select(Contact))}
    expected = {("+254712100001", "sw", True), ("+34612345678", "fr", False)}
    if "1252" not in saved_as:
        expected |= {("+8801712345678", "bn", True), ("+919876543210", "hi", True)}
    assert stored == expected


def test_a_file_that_is_no_spreadsheet_is_refused_with_a_reason(runtime):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "facilitator", "f")
    response = client.post("/api/v1/contacts/import", content=b"PK\x03\x04not a zip",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "not a readable XLSX file" in response.text


def test_a_launch_says_who_it_leaves_out_and_names_the_community_meant(runtime):
    from typer.testing import CliRunner

    from heard.commands.rounds import app

    round_id = _setup(runtime)  # kibera: +…05 said no, +…06 is in mathare
    with session_scope(runtime.database_url) as db:
        plan = rounds.plan_launch(db, round_id)
        typo = rounds.create_round(db, catalog.latest(db, "test-water"), "Kibera").id
    assert dict(plan.left_out) == {"in another community": 1,
                                   "who said no to being contacted": 1}
    assert plan.community_hint is None
    result = CliRunner().invoke(app, ["launch", str(typo), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "not invited: 5 in another community (no contact is in community 'Kibera'; did " \
           "you mean 'kibera' (4 contacts)?)" in " ".join(result.output.split())
    launched = CliRunner().invoke(app, ["launch", str(round_id)])
    assert "3 invitations queued" in launched.output
    assert "not invited: 1 in another community, 1 who said no" in launched.output


def test_a_reminder_policy_reminds_each_unfinished_person_once_per_reminder(runtime):
    from datetime import UTC, datetime, timedelta

    from worker import jobs

    client_for(runtime)
    contacts, report = parse_contacts(CSV, region="KE")
    with session_scope(runtime.database_url) as db:
        store_contacts(db, contacts, report)
        round_id = rounds.create_round(db, catalog.latest(db, "test-water"), "kibera",
                                       reminder_hours=[72, 24]).id
        with pytest.raises(rounds.RoundError, match="above 0"):
            rounds.create_round(db, catalog.latest(db, "test-water"), None, reminder_hours=[0])
    rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)
    invited = datetime.now(UTC)
    with session_scope(runtime.database_url) as db:
        finished = db.scalars(select(SurveySession).order_by(SurveySession.id)).first()
        finished.status = "completed"  # one of the three finished: never reminded

    def reminded_at(hours: float) -> int:
        return jobs.keep_round_schedules(invited + timedelta(hours=hours)).reminded

    assert reminded_at(23) == 0
    assert reminded_at(25) == 2  # the first reminder, to the two unfinished
    assert reminded_at(30) == 0  # once each
    assert reminded_at(73) == 2  # the second
    assert reminded_at(200) == 0  # the policy is spent
    with session_scope(runtime.database_url) as db:
        assert sorted(s.reminders for s in db.scalars(select(SurveySession))) == [0, 2, 2]


def test_a_launch_spread_over_a_window_says_so_and_when_the_limit_makes_it_longer(runtime):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry
    from typer.testing import CliRunner

    from heard.commands.rounds import app
    from worker.queues import OUTBOUND

    round_id = _setup(runtime)  # 3 contacts, 2 SMS and 1 Telegram: 4 Twilio messages
    dry = CliRunner().invoke(app, ["launch", str(round_id), "--dry-run"])
    assert "sending takes at least 4 s at HEARD_SMS_PER_SECOND=1" in dry.output
    refused = CliRunner().invoke(app, ["launch", str(round_id), "--over", "soon"])
    assert refused.exit_code == 1 and "not a length of time above 0: 'soon'" in refused.output
    launched = CliRunner().invoke(app, ["launch", str(round_id), "--over", "2s"])
    assert launched.exit_code == 0, launched.output
    assert "3 invitations queued, spread over 2 s" in launched.output
    assert "they take 4 s, longer than 2 s" in launched.output
    queue = Queue(OUTBOUND, connection=runtime.redis)  # 1.5 contacts a second: two a job,
    # the third's due in 1.3 s, within the lead a paced job is queued by: both queued now
    assert len(queue) == 2 and len(ScheduledJobRegistry(queue=queue)) == 0


def test_the_api_launches_spread_over_a_window(runtime):
    from rq import Queue

    from worker.queues import DEFAULT

    client = client_for(runtime)
    round_id = _setup(runtime)
    with session_scope(runtime.database_url) as db:
        headers = {"Authorization": f"Bearer {create_token(db, 'facilitator', 'f')}"}
    bad = client.post(f"/api/v1/rounds/{round_id}/launch?over=soon", headers=headers)
    assert bad.status_code == 422 and "not a length of time" in bad.text
    dry = client.post(f"/api/v1/rounds/{round_id}/launch?dry_run=true", headers=headers)
    assert dry.json()["quickest_seconds"] == 4.0
    started = client.post(f"/api/v1/rounds/{round_id}/launch?over=1h30m", headers=headers)
    assert started.status_code == 202 and started.json()["over_seconds"] == 5400
    job = Queue(DEFAULT, connection=runtime.redis).jobs[-1]
    assert job.func_name == "worker.jobs.launch_round" and job.args == (round_id, 5400.0)


def test_reminders_tell_those_part_way_through_they_go_on_where_they_stopped(runtime):
    from typer.testing import CliRunner

    from heard.commands.rounds import app
    from surveys.messages import Inbound
    from worker.ingest import ingest

    round_id = _setup(runtime)  # +…01 (sw), +…02 (en) by SMS, 4242 (bn) on Telegram
    rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)
    for number, text in enumerate(["1", "2"]):  # +…02: yes, then the first answer
        ingest(runtime.database_url, runtime.redis,
               Inbound("sms", "+254712000002", text, f"part-{number}"))
        drain(runtime)
    before = count(runtime, OutboxMessage)

    def reminded(*options: str) -> tuple[str, list[str]]:
        result = CliRunner().invoke(app, ["remind", str(round_id), *options])
        assert result.exit_code == 0, result.output
        with session_scope(runtime.database_url) as db:
            texts = [row.text for row in db.scalars(select(OutboxMessage).where(
                OutboxMessage.id > before, OutboxMessage.address == "+254712000002"))]
        return result.output, texts

    output, texts = reminded("--who", "not-started")
    assert "2 reminders queued (2 not started, 0 part-way through)" in output
    assert texts == []  # +…02 began: not reminded with those who have not
    output, texts = reminded("--who", "part-way")
    assert "1 reminders queued (0 not started, 1 part-way through)" in output
    assert texts[0] == "A reminder: you have not finished the survey. Here is where you stopped."
    assert texts[1] == "How many days a week is there water?"  # where they were, not the first
    refused = CliRunner().invoke(app, ["remind", str(round_id), "--who", "everyone"])
    assert refused.exit_code == 1 and "one of all, not-started, part-way" in refused.output
