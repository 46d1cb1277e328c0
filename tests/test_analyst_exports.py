"""Issue #21: exports an analyst reads without cleaning them first, read as analysts read them
(pandas, openpyxl) and checked against their codebook, on both databases."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from sqlalchemy import select

from surveys import catalog
from surveys.codebook import Codebook, codebook
from surveys.database import session_scope
from surveys.tables import Contact, Round, SurveyVersion
from surveys.tables import SurveySession as SessionRow
from surveys.validation import load_survey
from tests import test_exports
from tests.conftest import HERE
from tests.pipeline import client_for, drain, say
from tests.test_exports import HYPERLINK, _api, _tokens, heard

round_id = test_exports.round_id  # the fixture: a round of test-water on two versions


def export(round_ref: str | None, out: Path, *options: str) -> Path:
    result = heard("export", *([round_ref] if round_ref else []), "--out", str(out), *options)
    assert result.exit_code == 0, result.output
    return out


def read(out: Path) -> pd.DataFrame:
    """A csv export as pandas reads it: text as text."""
    return pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def assert_matches_codebook(columns: list[str], data: pd.DataFrame, book: pd.DataFrame) -> None:
    """Every column is in the codebook, in order, and every coded value is one it names."""
    described = book[book["value"] == ""]["name"].tolist()
    assert [name for name in columns if "/" not in name] == described
    choices = book[book["value"] != ""]
    types = dict(zip(described, book[book["value"] == ""]["type"], strict=True))
    for name, kind in types.items():
        values = {str(value) for value in data[name] if value not in ("", None)
                  and not pd.isna(value)}
        named = set(choices[choices["name"] == name]["value"])
        if kind in ("choice", "yesno"):
            assert values <= named, (name, values - named)
        elif kind == "multi":
            assert {part for value in values for part in value.split()} <= named
            assert all(f"{name}/{value}" in columns for value in named)


def test_every_export_has_its_codebook_and_matches_it(runtime, round_id, tmp_path):
    csv_file = export(str(round_id), tmp_path / "round.csv")
    book = read(tmp_path / "round.codebook.csv")
    data = read(csv_file)
    assert_matches_codebook(list(data.columns), data, book)
    assert list(book.columns[:6]) == ["name", "type", "value", "label::en", "label::sw",
                                      "label::bn"]
    source = book[(book["name"] == "source") & (book["value"] == "")].iloc[0]
    assert (source["label::sw"], source["versions"], source["version"]) == (
        "Unapata maji wapi?", "2 1", "2")
    assert book[(book["name"] == "safe") & (book["value"] == "no")].iloc[0]["label::bn"] == "না"
    assert book[book["name"] == "litres"].iloc[0]["versions"] == "1"  # only v1 asked it
    assert book[book["name"] == "_started_at"].iloc[0]["type"] == "datetime"

    xlsx = export(str(round_id), tmp_path / "round.xlsx")
    sheets = pd.read_excel(xlsx, sheet_name=None, dtype=str, keep_default_na=False)
    assert list(sheets) == [f"round {round_id}", "codebook"]
    assert sheets["codebook"].equals(book)
    assert_matches_codebook(list(sheets[f"round {round_id}"].columns),
                            sheets[f"round {round_id}"], sheets["codebook"])

    jsonl = export(str(round_id), tmp_path / "round.jsonl")
    records = pd.read_json(jsonl, lines=True, dtype=False)
    described = Codebook.model_validate_json((tmp_path / "round.codebook.json").read_text())
    assert described.columns == list(records.columns) == list(data.columns)
    problems = described.question("problems")
    assert problems is not None and [c.value for c in problems.choices] == [
        "dirty", "far", "cost", "smell"]
    assert_matches_codebook(list(records.columns), records.fillna(""), book)


def test_a_round_with_two_versions_is_one_table(runtime, round_id, tmp_path):
    data = read(export(str(round_id), tmp_path / "round.csv"))
    assert sorted(set(data["_survey_version"])) == ["1", "2"] and len(data) == 4
    assert set(data["_round"]) == {str(round_id)}
    di = data[data["_survey_version"] == "2"].iloc[0]
    assert (di["queue"], di["litres"], di["problems/smell"]) == ("12", "", "1")  # v2 only, v1
    assert list(data.columns).index("queue") < list(data.columns).index("litres")


def test_uuids_are_stable_and_completed_at_only_for_completed(runtime, round_id, tmp_path):
    with session_scope(runtime.database_url) as db:
        bo = db.scalars(select(SessionRow).join(Contact).where(Contact.address == "bo")).one()
        bo.status, bo.completed_at = "stopped", bo.started_at  # finished, not completed
    first = read(export(str(round_id), tmp_path / "1.csv"))
    second = read(export(str(round_id), tmp_path / "2.csv"))
    assert first["_uuid"].tolist() == second["_uuid"].tolist()
    assert len(set(first["_uuid"])) == 4 and all(len(value) == 36 for value in first["_uuid"])
    finished = dict(zip(first["_status"] + "-" + first["_survey_version"],
                        first["_completed_at"], strict=True))
    assert finished["stopped-1"] == "" and finished["active-1"] == ""
    assert finished["completed-1"].endswith("Z") and finished["completed-2"].endswith("Z")


def test_profiles_are_as_they_were_when_answered(runtime, tmp_path):
    """`litres` is a profile question: changing the contact afterwards changes no export."""
    client = client_for(runtime)
    for text in ("hi", "yes", "1", "3", "1", "no", "40"):
        say(client, "zed", text)
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        session = db.scalars(select(SessionRow)).one()
        found = Round(survey_pk=session.survey_pk, status="open", code="water-z")
        db.add(found)
        db.flush()
        session.round_id = found.id
        assert session.status == "completed" and session.profile == {"litres": 40}
        zed = db.get_one(Contact, session.contact_id)
        zed.profile = {"litres": 99}  # a later answer or import
        round_number = found.id
    row = read(export(str(round_number), tmp_path / "z.csv")).iloc[0]
    assert row["_profile.litres"] == "40" and row["litres"] == "40"


def test_xlsx_cells_are_typed(runtime, round_id, tmp_path):
    xlsx = export(str(round_id), tmp_path / "round.xlsx")
    sheet = load_workbook(xlsx)[f"round {round_id}"]
    header = [cell.value for cell in sheet[1]]
    amina = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    cell = amina["source_other"]
    assert cell.value == HYPERLINK and cell.data_type == "s"  # text: no ', no formula
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    started = amina["_started_at"]
    assert isinstance(started.value, datetime) and started.is_date
    assert started.number_format == "yyyy-mm-dd h:mm:ss" and started.value.tzinfo is None
    assert isinstance(amina["_completed_at"].value, datetime)
    assert amina["litres"].value == -3 and amina["_session"].data_type == "n"
    assert amina["problems/dirty"].value == 1
    di = {name: cell.value for name, cell in zip(header, sheet[5], strict=True)}
    assert di["_community"] == "=cmd|' /C calc'!A0"  # imported text: a text cell too


def test_labels_name_the_columns_by_their_questions(runtime, round_id, tmp_path):
    data = read(export(str(round_id), tmp_path / "sw.csv", "--labels", "sw"))
    assert "Unapata maji wapi?" in data.columns and "source" not in data.columns
    assert "_session" in data.columns  # metadata keeps its names
    problems = [name for name in data.columns if name.startswith("Matatizo")]
    assert len(problems) == 5 and problems[0] != problems[1]  # the multi, then per choice
    jsonl = export(str(round_id), tmp_path / "sw.jsonl", "--labels", "sw")
    assert "source" in json.loads(jsonl.read_text().splitlines()[0])  # keys stay ids
    plain = read(export(str(round_id), tmp_path / "plain.csv"))
    assert "source" in plain.columns  # the default is unchanged


def test_a_survey_across_its_rounds_and_versions(runtime, round_id, tmp_path):
    with session_scope(runtime.database_url) as db:
        first = db.get_one(Round, round_id)
        second = Round(survey_pk=first.survey_pk, status="open", code="water-2")
        db.add(second)
        db.flush()
        moved = db.scalars(select(SessionRow).where(SessionRow.round_id == round_id)
                           .order_by(SessionRow.id)).first()
        assert moved is not None
        moved.round_id, second_id = second.id, second.id
    data = read(export(None, tmp_path / "survey.csv", "--survey", "test-water"))
    assert len(data) == 4 and set(data["_round"]) == {str(round_id), str(second_id)}
    assert {"queue", "litres", "_survey_version"} <= set(data.columns)
    assert (tmp_path / "survey.codebook.csv").exists()
    assert heard("export", "--survey", "nope", "--out", str(tmp_path / "x.csv")).exit_code == 1
    assert heard("export", str(round_id), "--survey", "test-water", "--out",
                 str(tmp_path / "x.csv")).exit_code != 0
    client, tokens = _api(runtime), _tokens(runtime)
    page = client.get("/api/v1/surveys/test-water/responses", params={"limit": 3},
                      headers={"Authorization": f"Bearer {tokens['analyst']}"}).json()
    rest = client.get(page["next"], headers={"Authorization": f"Bearer {tokens['analyst']}"})
    rows = page["responses"] + rest.json()["responses"]
    assert [row["_uuid"] for row in rows] == data["_uuid"].tolist()


def test_codebook_api_for_a_survey_version(runtime, round_id):
    client, tokens = _api(runtime), _tokens(runtime)
    with session_scope(runtime.database_url) as db:
        catalog.register(db, load_survey(HERE / "data" / "household.yaml"))

    def get(url: str, role: str = "analyst") -> Any:
        return client.get(url, headers={"Authorization": f"Bearer {tokens[role]}"})

    found = get("/api/v1/surveys/test-water/versions/2")
    assert found.status_code == 200
    book = Codebook.model_validate(found.json())
    assert book.versions == [2] and book.columns[0] == "queue"
    assert [q.id for q in book.questions][:2] == ["queue", "source"]
    assert get("/api/v1/surveys/test-water/versions/2", "admin").status_code == 200
    assert get("/api/v1/surveys/test-water/versions/2", "facilitator").status_code == 403
    assert get("/api/v1/surveys/test-water/versions/9").status_code == 404
    assert get("/api/v1/surveys/nope/versions/1").status_code == 404
    household = Codebook.model_validate(get("/api/v1/surveys/test-household/versions/1").json())
    types = {question.id: question for question in household.questions}
    assert types["adults"].hint["sw"] == "Jihesabu wewe pia."
    assert types["sleep_net"].constraint == "answer <= household_size"
    assert types["household_size"].calculate == "adults + children"
    assert types["last_visit"].type == "date" and types["last_visit"].max == "today"
    assert [(c.value, c.label["en"]) for c in types["visit_rating"].choices] == [
        ("1", "Very bad"), ("5", "Very good")]
    assert any(choice.tags for question in household.questions for choice in question.choices)
    assert household == codebook([load_survey(HERE / "data" / "household.yaml")])


def test_stata_and_spss_labels_from_the_codebook(runtime, round_id, tmp_path):
    out = export(str(round_id), tmp_path / "round.csv", "--stata", "--spss")
    columns = read(out).columns.tolist()
    do = (tmp_path / "round.do").read_text(encoding="utf-8")
    assert 'import delimited using "round.csv", varnames(nonames) rowrange(2)' in do
    renames = re.findall(r"^rename v(\d+) (\S+)$", do, re.MULTILINE)
    assert [int(number) for number, _ in renames] == list(range(1, len(columns) + 1))
    names = dict(zip(columns, (name for _, name in renames), strict=True))
    assert names["problems/dirty"] == "problems_dirty" and names["_session"] == "_session"
    defined = dict(re.findall(r"^label define (\S+) (.*), replace$", do, re.MULTILINE))
    assert _stata_pairs(defined["source_en"])[0] == ("1", "Tap at home")
    assert dict(_stata_pairs(defined["safe_bn"])) == {"1": "হ্যাঁ", "0": "না"}
    assert "label values source source_en" in do and "label values safe safe_sw" in do
    assert 'replace heard_code = 2 if source == `"well"\'' in do
    assert re.search(r'^label variable source `"Unapata maji wapi\?"\'$', do, re.MULTILINE)
    assert "label language sw, new" in do and do.rstrip().endswith("label language en")

    sps = (tmp_path / "round.sps").read_text(encoding="utf-8")
    assert "/FILE='round.csv'" in sps and "/FIRSTCASE=2" in sps
    variables = re.findall(r"^  (\S+) ([AF]\d+(?:\.\d+)?)\.?$", sps, re.MULTILINE)
    assert len(variables) == len(columns) and variables[:2] == [("@session", "F12.0"),
                                                                ("@uuid", "A36")]
    assert ("problems_dirty", "F12.0") in variables and ("litres", "F16.4") in variables
    values = re.search(r"^VALUE LABELS (.*?)\.$", sps, re.MULTILINE | re.DOTALL)
    assert values is not None
    sets = {block.split(" ", 1)[0]: block.split(" ", 1)[1]
            for block in values.group(1).split("\n  /")}
    assert re.findall(r"'([^']*)' '([^']*)'", sets["source"])[0] == ("tap", "Tap at home")
    assert re.findall(r"'([^']*)' '([^']*)'", sets["safe"]) == [("yes", "Yes"), ("no", "No")]
    labels = re.search(r"^VARIABLE LABELS (.*?)\.$", sps, re.MULTILINE | re.DOTALL)
    assert labels is not None and "source 'Where do you get water?'" in labels.group(1)
    refused = heard("export", str(round_id), "--out", str(tmp_path / "r.xlsx"), "--stata")
    assert refused.exit_code != 0


def _stata_pairs(text: str) -> list[tuple[str, str]]:
    return re.findall(r"(-?\d+) `\"(.*?)\"'", text)


def test_new_sessions_get_a_uuid_and_versions_keep_theirs(runtime, round_id):
    with session_scope(runtime.database_url) as db:
        uuids = db.scalars(select(SessionRow.uuid)).all()
        versions = db.scalars(select(SurveyVersion.version)).all()
    assert len(uuids) == len(set(uuids)) == 4 and all(uuids)
    assert sorted(versions)[-1] == 2
