"""No names in pseudonymous data: only declared profile fields are imported, stored, exported.

An import keeps the columns declared with --profile and drops every other unknown column
(names, in any script or spelling); exports and the responses API show declared fields only;
migration 0007 removes what earlier imports kept undeclared.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from heard.commands import contacts as contact_commands
from surveys import catalog
from surveys.contact_import import parse_contacts, profile_columns
from surveys.database import get_engine, migrate, session_scope
from surveys.model import Survey
from surveys.tables import Contact, ProfileField, Round, StoredAnswer
from surveys.tables import SurveySession as SessionRow
from tests.pipeline import client_for
from tests.test_exports import _api, _tokens, heard, read_csv

NAMES = ("Asha Wanjiru", "ASHA W", "आशा", "Baraka Otieno", "BARAKA O", "बरका")
PEOPLE = f"""phone,name,Name,नाम,gender,language,community,consent
+254712000001,{NAMES[0]},{NAMES[1]},{NAMES[2]},female,sw,kibera,yes
+254712000002,{NAMES[3]},{NAMES[4]},{NAMES[5]},male,en,kibera,yes
"""
DROPPED = ("dropped columns not declared as profile fields: name, Name, नाम (personal data is "
           "not kept; declare a column with --profile to keep it)")


def import_people(tmp_path: Path, *options: str, csv: str = PEOPLE) -> Any:
    """`heard contacts import` on `csv`, in this process (stderr kept apart)."""
    path = tmp_path / "people.csv"
    path.write_text(csv, encoding="utf-8")
    return CliRunner().invoke(contact_commands.app,
                              ["import", str(path), "--region", "KE", *options])


def stored_profiles(database_url: str) -> dict[str, Any]:
    """address → profile, as the database holds it."""
    with session_scope(database_url) as db:
        return {address: profile for address, profile in db.execute(
            select(Contact.address, Contact.profile).order_by(Contact.address))}


def round_of_imported_people(runtime: Any, water: Survey) -> int:
    """A test-water round in which every imported contact completed a session."""
    client_for(runtime)
    with session_scope(runtime.database_url) as db:
        survey = catalog.register(db, water)
        found = Round(survey_pk=survey.id, community="kibera", status="open")
        db.add(found)
        db.flush()
        for contact in db.scalars(select(Contact).order_by(Contact.id)):
            session = SessionRow(contact_id=contact.id, survey_pk=survey.id, round_id=found.id,
                                 status="completed", state={"answers": {"source": "tap"}},
                                 completed_at=datetime(2024, 6, 1, tzinfo=UTC))
            db.add(session)
            db.flush()
            db.add(StoredAnswer(session_id=session.id, question_id="source", value="tap", raw="1"))
        return found.id


def assert_gender_and_no_name(columns: list[str], content: str) -> None:
    profile_columns_found = [column for column in columns if column.startswith("_profile.")]
    assert profile_columns_found == ["_profile.gender"], columns
    assert not any(name in content for name in NAMES), content


def test_import_keeps_declared_gender_and_no_name_reaches_the_database_or_an_export(
        runtime, water, tmp_path):
    result = import_people(tmp_path, "--profile", "gender")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "2 rows read: 2 new contacts, 0 updated, 0 duplicate rows merged, 0 bad rows")
    assert result.stderr.strip() == f"{tmp_path / 'people.csv'}: {DROPPED}"
    assert stored_profiles(runtime.database_url) == {
        "+254712000001": {"gender": "female"}, "+254712000002": {"gender": "male"}}
    with session_scope(runtime.database_url) as db:
        everything = " ".join(db.scalars(select(sa.cast(Contact.profile, sa.Text))))
        assert db.scalars(select(ProfileField.name)).all() == ["gender"]
    assert not any(name in everything for name in NAMES)

    round_id = round_of_imported_people(runtime, water)
    csv_file, xlsx_file, jsonl_file = (tmp_path / f"round.{kind}" for kind in
                                       ("csv", "xlsx", "jsonl"))
    for out in (csv_file, xlsx_file, jsonl_file):
        exported = heard("export", str(round_id), "--out", str(out))
        assert exported.exit_code == 0, exported.output
    rows = read_csv(csv_file)
    assert [row["_profile.gender"] for row in rows] == ["female", "male"]
    assert_gender_and_no_name(list(rows[0]), csv_file.read_text(encoding="utf-8-sig"))
    sheet = [list(row) for row in load_workbook(xlsx_file, read_only=True).active.iter_rows(
        values_only=True)]
    gender = sheet[0].index("_profile.gender")
    assert [row[gender] for row in sheet[1:]] == ["female", "male"]
    assert_gender_and_no_name(sheet[0], json.dumps(sheet, ensure_ascii=False, default=str))
    records = [json.loads(line) for line in jsonl_file.read_text(encoding="utf-8").splitlines()]
    assert [record["_profile.gender"] for record in records] == ["female", "male"]
    assert_gender_and_no_name(list(records[0]), jsonl_file.read_text(encoding="utf-8"))

    analyst = {"Authorization": f"Bearer {_tokens(runtime)['analyst']}"}
    page = _api(runtime).get(f"/api/v1/rounds/{round_id}/responses", headers=analyst)
    assert page.status_code == 200, page.text
    assert [row["_profile.gender"] for row in page.json()["responses"]] == ["female", "male"]
    assert_gender_and_no_name(page.json()["columns"], page.text)


def test_profile_is_repeatable_or_comma_separated_and_reimport_keeps_declared_fields(
        runtime, tmp_path):
    csv = "phone,gender,village,name\n+254712000001,female,Kisumu,Asha\n"
    result = import_people(tmp_path, "--profile", "Gender, village", csv=csv)
    assert result.exit_code == 0, result.output
    again = import_people(tmp_path, "--profile", "gender", "--profile", "village", csv=csv)
    assert again.exit_code == 0 and "1 updated" in again.stdout
    assert "dropped columns not declared as profile fields: name " in again.stderr
    assert stored_profiles(runtime.database_url) == {
        "+254712000001": {"gender": "female", "village": "Kisumu"}}
    assert profile_columns(["a,b", " B ", "", "c"]) == ["a", "b", "c"]


def test_without_profile_every_unknown_column_is_dropped_and_named(runtime, tmp_path):
    result = import_people(tmp_path)
    assert result.exit_code == 0, result.output
    assert ("dropped columns not declared as profile fields: name, Name, नाम, gender"
            in result.stderr)
    assert set(map(json.dumps, stored_profiles(runtime.database_url).values())) == {"{}"}


def test_a_declared_column_missing_from_the_file_is_an_error_naming_it(runtime, tmp_path):
    result = import_people(tmp_path, "--profile", "gender,vilage")
    assert result.exit_code == 1
    assert "line 1: declared profile column(s) not in the header: vilage (found: " in (
        result.stderr)
    assert stored_profiles(runtime.database_url) == {}  # nothing imported


def test_a_contact_column_cannot_be_a_profile_field():
    contacts, report = parse_contacts(PEOPLE, "KE", ["phone", "gender"])
    assert contacts == [] and [str(error) for error in report.errors] == [
        "line 1: contact column(s) declared as profile fields: phone (they are stored as "
        "contact columns already: declare only other columns)"]


def test_an_unnamed_column_is_dropped_and_named_by_its_position():
    contacts, report = parse_contacts("phone,,gender\n+254712000001,Asha,female\n", "KE",
                                      ["gender"])
    assert [contact.profile for contact in contacts] == [{"gender": "female"}]
    assert report.dropped_columns == ["column 2 (no header)"]


def test_api_import_takes_the_same_profile_parameter(runtime):
    client = client_for(runtime)
    headers = {"Authorization": f"Bearer {_tokens(runtime)['facilitator']}",
               "Content-Type": "text/csv"}
    response = client.post("/api/v1/contacts/import?region=KE&profile=gender", content=PEOPLE,
                           headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["profile_fields"], body["dropped_columns"]) == (
        2, ["gender"], ["name", "Name", "नाम"])
    assert "declare a column with the `profile` parameter to keep it" in body["notice"]
    assert stored_profiles(runtime.database_url)["+254712000001"] == {"gender": "female"}
    missing = client.post("/api/v1/contacts/import?profile=village", content=PEOPLE,
                          headers=headers).json()
    assert "not in the header: village" in missing["errors"][0]["message"]


def test_a_profile_question_of_the_exported_survey_is_declared_by_the_survey(runtime, water,
                                                                              tmp_path):
    assert import_people(tmp_path, "--profile", "gender").exit_code == 0
    with session_scope(runtime.database_url) as db:  # `litres` is a profile question
        for contact in db.scalars(select(Contact)):
            contact.profile = {**contact.profile, "litres": 20, "nickname": "Ash"}
    round_id = round_of_imported_people(runtime, water)
    out = tmp_path / "round.csv"
    assert heard("export", str(round_id), "--out", str(out)).exit_code == 0
    header = list(read_csv(out)[0])
    assert [column for column in header if column.startswith("_profile.")] == [
        "_profile.gender", "_profile.litres"]
    assert "Ash" not in out.read_text(encoding="utf-8-sig")


# Migration 0007, from a database at revision 0006


OLD_CONTACTS = sa.table("contacts", *(sa.column(name) for name in (
    "id", "channel", "address", "language", "community", "consent", "opted_out", "created_at")),
    sa.column("profile", sa.JSON))
OLD_SURVEYS = sa.table("surveys", *(sa.column(name) for name in (
    "id", "survey_id", "version", "content_hash", "created_at")), sa.column("definition", sa.JSON))
GENDER_SURVEY = {"id": "old", "questions": [
    {"id": "gender", "type": "choice", "profile": True},
    {"id": "village", "type": "text"},  # asked, but not a profile question
    {"id": "age", "type": "number", "profile": False}]}


def test_migration_0007_keeps_profile_question_keys_and_removes_the_rest(unmigrated_url):
    migrate(unmigrated_url, "0006")
    now = datetime(2024, 6, 1, tzinfo=UTC)
    profiles = [{"name": "Asha", "gender": "female"}, {"नाम": "आशा", "village": "Kisumu"}, {},
                *({"name": f"person {number}"} for number in range(1100))]  # several batches
    with get_engine(unmigrated_url).begin() as connection:
        connection.execute(OLD_SURVEYS.insert(), [
            {"id": 1, "survey_id": "old", "version": 1, "content_hash": "h", "created_at": now,
             "definition": GENDER_SURVEY}])
        connection.execute(OLD_CONTACTS.insert(), [
            {"id": number, "channel": "sms", "address": f"+2547120{number:05d}",
             "language": None, "community": None, "consent": True, "opted_out": False,
             "created_at": now, "profile": profile}
            for number, profile in enumerate(profiles, start=1)])
    migrate(unmigrated_url, "head")
    with session_scope(unmigrated_url) as db:
        after = dict(db.execute(select(Contact.id, Contact.profile)).all())
        declared = db.scalars(select(ProfileField.name)).all()
    assert after[1] == {"gender": "female"}
    assert after[2] == {} and after[3] == {}
    assert all(after[number] == {} for number in range(4, len(profiles) + 1))
    assert declared == ["gender"]
    migrate(unmigrated_url, "0006", downgrade=True)
    assert "profile_fields" not in sa.inspect(get_engine(unmigrated_url)).get_table_names()
