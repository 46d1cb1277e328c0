"""Exports for analysts (CLI and API) and erasure, through the real pipeline on both databases."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from heard.commands import export as commands
from heard.routes import responses
from surveys import catalog
from surveys.database import session_scope
from surveys.exports import defuse, open_export
from surveys.messages import Inbound
from surveys.model import Survey
from surveys.profile_fields import declare_profile_fields
from surveys.pseudonym import PseudonymKeyError, load_key, pseudonym
from surveys.tables import Contact, InboxMessage, OutboxMessage, Round, StoredAnswer, SurveyVersion
from surveys.tables import SurveySession as SessionRow
from surveys.tokens import create_token
from tests.pipeline import client_for, count, drain, say
from worker.ingest import ingest

HYPERLINK = '=HYPERLINK("a.b")'
CONVERSATIONS = {  # address → what they reply after "hi" and consent
    "amina": ["3", HYPERLINK, "5", "1 3", "no", "-3"],  # other source, typed text, litres -3
    "bo": ["1", "7", "skip", "yes"],
    "cy": ["2", "2"],  # stopped answering: still active
}
V1_QUESTIONS = ["source", "source_other", "days", "problems", "problems/dirty", "problems/far",
                "problems/cost", "safe", "litres"]
METADATA = ["_session", "_uuid", "_contact", "_channel", "_language", "_community",
            "_profile.district", "_round", "_survey_version", "_status", "_started_at",
            "_completed_at"]


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("export")(commands.export)
    app.command("erase")(commands.erase)
    return app


def heard(*args: str) -> Any:
    return CliRunner().invoke(_cli(), list(args))


def version_2(water: Survey) -> Survey:
    """test-water changed after use: a new question first, a new choice, no more `litres`."""
    questions = [q.model_dump() for q in water.questions if q.id != "litres"]
    problems = next(q for q in questions if q["id"] == "problems")
    problems["choices"].append({"value": "smell", "text": {"en": "Bad smell", "sw": "Harufu",
                                                             "bn": "দুর্গন্ধ"}})
    queue = {"id": "queue", "type": "number", "text": {"en": "Minutes queueing?",
                                                         "sw": "Dakika?", "bn": "কত মিনিট?"}}
    return Survey.model_validate(water.model_dump() | {"questions": [queue, *questions]})


@pytest.fixture
def round_id(runtime, water) -> int:
    """A round of test-water: three people through the pipeline on v1, one session on v2."""
    client = client_for(runtime)
    for address, replies in CONVERSATIONS.items():
        for text in ("hi", "yes", *replies):
            say(client, address, text)
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        v1 = db.scalars(select(SurveyVersion).where(SurveyVersion.survey_id == "test-water")).one()
        v2 = catalog.register(db, version_2(water))
        assert v2.version == 2
        found = Round(survey_pk=v2.id, community="riverside", status="open", code="water-1")
        db.add(found)
        db.flush()
        for session in db.scalars(select(SessionRow).where(SessionRow.survey_pk == v1.id)):
            session.round_id = found.id
        amina = db.scalars(select(Contact).where(Contact.address == "amina")).one()
        # `name`: what an import kept before profile fields had to be declared
        amina.profile, amina.community = {"district": "North", "name": "Amina Y"}, "riverside"
        for session in db.scalars(select(SessionRow).where(SessionRow.contact_id == amina.id)):
            session.profile = None  # as answered before migration 0021: her profile now is read
        declare_profile_fields(db, ["district"])
        di = Contact(channel="sms", address="+254700000001", language="sw", profile={},
                     community="=cmd|' /C calc'!A0")
        db.add(di)
        db.flush()
        session = SessionRow(contact_id=di.id, survey_pk=v2.id, round_id=found.id,
                             status="completed", state={"lang": "sw", "answers": {}},
                             started_at=datetime(2024, 6, 1, 9, 0, tzinfo=UTC),
                             completed_at=datetime(2024, 6, 1, 9, 5, tzinfo=UTC))
        db.add(session)
        db.flush()
        for question, value in {"queue": 12, "source": "well", "problems": ["far", "smell"],
                                "safe": "yes", "source_other": "@cmd\x07"}.items():
            db.add(StoredAnswer(session_id=session.id, question_id=question, value=value, raw="x"))
        return found.id


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def by_status(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{row['_status']}-{row['_survey_version']}": row for row in rows}


def test_csv_has_metadata_then_questions_in_newest_order_then_older_only(runtime, round_id,
                                                                          tmp_path):
    out = tmp_path / "round.csv"
    result = heard("export", str(round_id), "--out", str(out))
    assert result.exit_code == 0, result.output
    header = out.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header == METADATA + [
        "queue", "source", "source_other", "days", "problems", "problems/dirty", "problems/far",
        "problems/cost", "problems/smell", "safe", "litres"]
    rows = read_csv(out)
    assert [int(row["_session"]) for row in rows] == sorted(int(r["_session"]) for r in rows)
    assert len(rows) == 4
    amina, di = rows[0], rows[3]
    assert (amina["source"], amina["days"], amina["problems"]) == ("other", "5", "dirty cost")
    assert [amina[f"problems/{c}"] for c in ("dirty", "far", "cost", "smell")] == ["1", "0", "1",
                                                                                   "0"]
    assert (amina["_status"], amina["_survey_version"], amina["_community"]) == (
        "completed", "1", "riverside")
    assert amina["_profile.district"] == "North" and amina["_channel"] == "simulator"
    assert "Amina Y" not in out.read_text(encoding="utf-8-sig")  # undeclared: never exported
    assert amina["_started_at"].endswith("Z") and amina["_completed_at"] >= amina["_started_at"]
    assert (di["queue"], di["problems"], di["problems/smell"], di["litres"]) == (
        "12", "far smell", "1", "")
    assert (di["_survey_version"], di["_language"]) == ("2", "sw")
    bo = rows[1]
    assert bo["problems"] == "" and bo["problems/dirty"] == ""  # skipped: empty, not 0
    cy = rows[2]
    assert (cy["_status"], cy["_completed_at"], cy["safe"]) == ("active", "", "")


def test_formula_injection_is_defused_but_numbers_are_not(runtime, round_id, tmp_path):
    out = tmp_path / "round.csv"
    assert heard("export", "water-1", "--out", str(out)).exit_code == 0  # by code too
    rows = read_csv(out)
    assert rows[0]["source_other"] == "'" + HYPERLINK
    assert rows[0]["litres"] == "-3"
    assert rows[3]["_community"] == "'=cmd|' /C calc'!A0"
    assert rows[3]["source_other"] == "'@cmd\x07"
    assert defuse("@SUM(A1)") == "'@SUM(A1)" and defuse("\tx") == "'\tx"
    assert defuse("-3") == "-3" and defuse("+254700000001") == "+254700000001"
    assert defuse("-1+cmd") == "'-1+cmd" and defuse("plain") == "plain"


def test_xlsx_is_readable_and_keeps_numbers_numeric(runtime, round_id, tmp_path):
    out = tmp_path / "round.xlsx"
    result = heard("export", str(round_id), "--out", str(out))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out, read_only=True).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    header, first = table[0], dict(zip(table[0], table[1], strict=True))
    assert header[:3] == ["_session", "_uuid", "_contact"]
    assert first["source_other"] == HYPERLINK  # a text cell: never run, no ' shown
    assert first["litres"] == -3 and first["days"] == 5 and first["problems/dirty"] == 1
    assert len(table) == 5
    assert table[4][header.index("source_other")] == "@cmd"  # control characters dropped


def test_jsonl_lines_are_typed_objects(runtime, round_id, tmp_path):
    out = tmp_path / "round.jsonl"
    assert heard("export", str(round_id), "--out", str(out)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4
    assert rows[0]["litres"] == -3 and rows[0]["source_other"] == HYPERLINK  # data, not a sheet
    assert rows[0]["problems"] == "dirty cost" and rows[0]["problems/cost"] == 1
    assert list(rows[0])[:3] == ["_session", "_uuid", "_contact"]
    piped = CliRunner().invoke(_cli(), ["export", str(round_id), "--out", "-", "-f", "jsonl"])
    assert [json.loads(line) for line in piped.stdout.splitlines()] == rows


def test_labels_in_bengali(runtime, round_id, tmp_path):
    out = tmp_path / "bn.csv"
    result = heard("export", str(round_id), "--out", str(out), "--labels", "bn")
    assert result.exit_code == 0, result.output
    header, *lines = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert header[:3] == METADATA[:3] and "আপনি কোথা থেকে পানি পান?" in header  # texts as headers
    names = open_export(runtime.database_url, round_id, b"key").names
    amina, bo, _, di = [dict(zip(names, line, strict=True)) for line in lines]
    assert amina["source"] == "অন্যান্য" and bo["source"] == "বাড়িতে কল"
    assert amina["problems"] == "নোংরা পানি; টাকা লাগে" and amina["problems/dirty"] == "1"
    assert di["problems"] == "অনেক দূরে; দুর্গন্ধ"
    assert (amina["days"], amina["safe"], bo["safe"]) == ("5", "না", "হ্যাঁ")  # yes/no: heard's words
    result = heard("export", str(round_id), "--out", str(out), "--labels", "fr")
    assert result.exit_code == 1 and "language 'fr'" in result.output


def test_contacts_are_pseudonymous_and_stable_across_exports(runtime, round_id, tmp_path):
    first, second = tmp_path / "1.csv", tmp_path / "2.csv"
    assert heard("export", str(round_id), "--out", str(first)).exit_code == 0
    assert heard("export", str(round_id), "--out", str(second)).exit_code == 0
    ids = [row["_contact"] for row in read_csv(first)]
    assert ids == [row["_contact"] for row in read_csv(second)]
    assert len(set(ids)) == 4 and all(len(value) == 16 for value in ids)
    text = first.read_text(encoding="utf-8-sig")
    assert "amina" not in text and "+254700000001" not in text and "_address" not in text
    key_file = Path(os.environ["HEARD_DATA_DIR"]) / "pseudonym.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_configured_key_changes_every_pseudonym(runtime, round_id, monkeypatch, tmp_path):
    plain = next(open_export(runtime.database_url, round_id, b"one").records())["_contact"]
    monkeypatch.setenv("HEARD_PSEUDONYM_KEY", "two")
    out = tmp_path / "keyed.csv"
    assert heard("export", str(round_id), "--out", str(out)).exit_code == 0
    keyed = read_csv(out)[0]["_contact"]
    assert keyed != plain and keyed == pseudonym(b"two", int(_contact_id(runtime, "amina")))
    assert load_key(None, tmp_path / "k") == load_key(None, tmp_path / "k")


def test_cli_with_addresses_warns_and_adds_the_column(runtime, round_id, tmp_path):
    out = tmp_path / "private.csv"
    result = heard("export", str(round_id), "--out", str(out), "--with-addresses")
    assert result.exit_code == 0 and "personal data" in result.output
    rows = read_csv(out)
    assert [row["_address"] for row in rows] == ["amina", "bo", "cy", "+254700000001"]
    assert list(rows[0])[:4] == ["_session", "_uuid", "_contact", "_address"]
    assert out.stat().st_mode & 0o777 == 0o600


def test_unknown_round_exits_1(runtime, round_id, tmp_path):
    result = heard("export", "999", "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 1 and "no round '999'" in result.output
    assert not (tmp_path / "x.csv").exists()


def _tokens(runtime) -> dict[str, str]:
    with session_scope(runtime.database_url) as db:
        return {role: create_token(db, role, f"test {role}")
                for role in ("facilitator", "analyst", "admin")}


def _api(runtime) -> TestClient:
    client = client_for(runtime)
    if not any(getattr(route, "path", "").endswith("/responses") for route in client.app.routes):
        client.app.include_router(responses.router)
    return client


def _contact_id(runtime, address: str) -> int:
    with session_scope(runtime.database_url) as db:
        return db.scalars(select(Contact.id).where(Contact.address == address)).one()


def test_api_needs_an_analyst_and_addresses_need_an_admin(runtime, round_id):
    client, tokens = _api(runtime), _tokens(runtime)
    url = f"/api/v1/rounds/{round_id}/responses"

    def get(role: str | None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        return client.get(url, params=params, headers=headers)

    assert get(None).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert get("facilitator").status_code == 403
    assert get("analyst", with_addresses="true").status_code == 403
    page = get("analyst").json()
    assert page["columns"][:3] == ["_session", "_uuid", "_contact"] and page["next"] is None
    assert len(page["responses"]) == 4 and "_address" not in page["responses"][0]
    assert page["responses"][0]["litres"] == -3
    assert page["responses"][0]["_profile.district"] == "North"
    assert not [column for column in page["columns"] if column.startswith("_profile.name")]
    admin = get("admin", with_addresses="true").json()
    assert [row["_address"] for row in admin["responses"]][:2] == ["amina", "bo"]
    assert get("analyst", labels="bn").json()["responses"][0]["source"] == "অন্যান্য"
    assert get("analyst", labels="xx").status_code == 422
    assert client.get("/api/v1/rounds/999/responses",
                      headers={"Authorization": f"Bearer {tokens['analyst']}"}).status_code == 404


def test_api_pages_cover_every_session_exactly_once(runtime, round_id):
    client, tokens = _api(runtime), _tokens(runtime)
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}
    url: str | None = f"/api/v1/rounds/{round_id}/responses?limit=1"
    seen, pages = [], 0
    while url:
        page = client.get(url, headers=headers).json()
        seen += [row["_session"] for row in page["responses"]]
        url, pages = page["next"], pages + 1
        assert url is None or "limit=1" in url
    assert pages == 4 and len(seen) == len(set(seen)) == 4 and seen == sorted(seen)
    three = client.get(f"/api/v1/rounds/{round_id}/responses?limit=3", headers=headers).json()
    rest = client.get(three["next"], headers=headers).json()
    assert [r["_session"] for r in three["responses"] + rest["responses"]] == seen
    assert rest["next"] is None


def test_rows_are_streamed_not_loaded(runtime, round_id):
    plan = open_export(runtime.database_url, round_id, b"key")
    rows = plan.rows(chunk=1)
    assert iter(rows) is rows and not isinstance(rows, list | tuple)
    assert len(list(plan.rows(chunk=1))) == 4 == len(list(plan.rows(chunk=1000)))
    assert [row[0] for row in plan.rows(after=0, limit=2, chunk=1)] == [
        row[0] for row in list(plan.rows())[:2]]


def test_erase_removes_personal_data_and_keeps_anonymous_answers(runtime, round_id, tmp_path):
    before = tmp_path / "before.csv"
    assert heard("export", str(round_id), "--out", str(before)).exit_code == 0
    answers_before, contacts_before = count(runtime, StoredAnswer), count(runtime, Contact)
    amina = _contact_id(runtime, "amina")
    late = ingest(runtime.database_url, runtime.redis, Inbound(
        "simulator", "amina", "I am Amina, house 4", "late-1", payload={"survey": "test-water"}))
    result = heard("erase", "amina", "--channel", "simulator")
    assert result.exit_code == 0, result.output
    drain(runtime)  # the message that arrived before the erasure is never processed now
    assert count(runtime, Contact) == contacts_before
    assert count(runtime, InboxMessage, InboxMessage.id == late,
                 InboxMessage.outcome == "erased", InboxMessage.text == "") == 1
    assert "erased" in result.output and "1 free-text answers blanked" in result.output
    with session_scope(runtime.database_url) as db:
        contact = db.get(Contact, amina)
        assert contact.address.startswith("erased:") and contact.profile == {}
        assert contact.community == "riverside" and contact.opted_out
        texts = db.scalars(select(InboxMessage.text).where(
            InboxMessage.address == contact.address)).all()
        assert texts and set(texts) == {""}
        assert db.scalars(select(OutboxMessage.text).where(
            OutboxMessage.contact_id == amina)).all() and not db.scalars(
            select(OutboxMessage).where(OutboxMessage.address == "amina")).all()
        session = db.scalars(select(SessionRow).where(SessionRow.contact_id == amina)).one()
        assert session.state["answers"]["source_other"] is None
        assert not db.scalars(select(StoredAnswer.raw).where(StoredAnswer.session_id == session.id,
                                                       StoredAnswer.raw.is_not(None))).all()
    assert count(runtime, StoredAnswer) == answers_before
    assert count(runtime, InboxMessage, InboxMessage.address == "amina") == 0
    after = tmp_path / "after.csv"
    assert heard("export", str(round_id), "--out", str(after)).exit_code == 0
    old, new = read_csv(before)[0], read_csv(after)[0]
    assert new["_contact"] == old["_contact"] and new["source"] == "other"
    assert new["source_other"] == "" and "_profile.district" not in new  # no profile left
    assert new["litres"] == "-3"
    assert heard("erase", "amina").exit_code == 1  # gone: nothing left to find


def test_erase_finds_a_phone_number_however_it_is_typed(runtime, round_id, monkeypatch):
    monkeypatch.setenv("HEARD_DEFAULT_REGION", "KE")
    result = heard("erase", "0700 000001")
    assert result.exit_code == 0, result.output
    assert "contact" in result.output and "(sms) erased" in result.output
    assert count(runtime, Contact, Contact.address == "+254700000001") == 0


def test_erase_takes_the_country_of_a_national_number(runtime, round_id, monkeypatch):
    monkeypatch.delenv("HEARD_DEFAULT_REGION", raising=False)
    missed = heard("erase", "0700 000001")
    assert missed.exit_code == 1 and "needs --region" in missed.output, missed.output
    result = heard("erase", "0700 000001", "--region", "KE")
    assert result.exit_code == 0, result.output
    assert count(runtime, Contact, Contact.address == "+254700000001") == 0


def test_a_process_without_the_pseudonym_key_stops_instead_of_renaming_everyone(runtime,
                                                                                 tmp_path):
    """`heard export` run from another folder once made a new key: every contact got a new
    id and analysts' joins across exports broke, without a word."""
    key = load_key(None, tmp_path / "a", runtime.database_url)
    assert load_key(None, tmp_path / "a", runtime.database_url) == key
    with pytest.raises(PseudonymKeyError, match="HEARD_PSEUDONYM_KEY"):
        load_key(None, tmp_path / "elsewhere", runtime.database_url)
    assert not (tmp_path / "elsewhere" / "pseudonym.key").exists()
    with pytest.raises(PseudonymKeyError, match="not the one earlier exports used"):
        load_key("another-key", tmp_path / "elsewhere", runtime.database_url)
    assert load_key(key.decode(), tmp_path / "elsewhere", runtime.database_url) == key


def test_dates_stay_iso_text_and_ratings_and_calculations_are_numbers(runtime, tmp_path):
    """Issue #20's answers out: a date is its ISO text in every format (a spreadsheet never
    reads it in another order); a rating and a calculation are numbers."""
    from surveys.validation import load_survey
    from tests.conftest import HERE

    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        household = catalog.register(db, load_survey(HERE / "data" / "household.yaml"))
    for text in ("hi", "Amina", "2", "3", "4", "01/03/2025", "5", "4", "2", "1"):
        say(client, "amina", text, survey="test-household")
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        found = Round(survey_pk=household.id, status="open", code="household-1")
        db.add(found)
        db.flush()
        for session in db.scalars(select(SessionRow)):
            session.round_id = found.id
        round_number = found.id
    out = tmp_path / "household.csv"
    assert heard("export", str(round_number), "--out", str(out)).exit_code == 0
    row = read_csv(out)[0]
    assert (row["_status"], row["last_visit"], row["visit_rating"], row["household_size"]) == (
        "completed", "2025-03-01", "5", "5")
    # 1 is the first of the clinics offered in Kisumu
    assert (row["problems"], row["problems/none"], row["clinic"]) == ("none", "1", "nyalenda")
    assert heard("export", str(round_number), "--out", str(tmp_path / "h.xlsx")).exit_code == 0
    sheet = load_workbook(tmp_path / "h.xlsx", read_only=True).active
    header, first = [list(row) for row in sheet.iter_rows(values_only=True)]
    cells = dict(zip(header, first, strict=True))
    assert (cells["last_visit"], cells["visit_rating"], cells["household_size"]) == (
        "2025-03-01", 5, 5)
    assert heard("export", str(round_number), "--out", str(tmp_path / "h.jsonl")).exit_code == 0
    record = json.loads((tmp_path / "h.jsonl").read_text(encoding="utf-8"))
    assert (record["last_visit"], record["visit_rating"], record["household_size"]) == (
        "2025-03-01", 5, 5)
