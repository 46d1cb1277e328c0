"""Contact import in the console: upload, say what each column is, preview, import in a worker
with its progress and report; only the user's communities, only the user's upload."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from surveys.database import session_scope
from surveys.tables import AuditEntry, Contact, ProfileField
from surveys.users import create_user
from tests.pipeline import count, drain
from tests.test_console import PASSWORD, _csrf, _sign_in
from tests.test_console import people as people  # noqa: F401 - the shared fixture
from worker import imports

PEOPLE = """Mobile No,Lugha,Jina,Gender,Village
0712 000 001,Kiswahili,Asha Wanjiku,female,Kibera
+254712000002,en,Baraka Otieno,male,kibera
not a number,sw,Chausiku,female,Kibera
0712 000 004,sw,Dalia Achieng,female,
0712 000 001,sw,Asha Wanjiku,female,Kibera
0712 000 005,en,Mathare Person,male,Mathare
"""


def _upload(client, data: bytes, name: str = "people.csv", csrf: str | None = None):
    if csrf is None:
        csrf = _csrf(client.get("/console/contacts").text)
    return client.post("/console/contacts/imports", data={"csrf": csrf},
                       files={"file": (name, data)}, follow_redirects=False)


def _mapping_page(client, data: bytes, name: str = "people.csv") -> tuple[str, str]:
    """Upload `data`; the import's address and its mapping page."""
    uploaded = _upload(client, data, name)
    assert uploaded.status_code == 303, uploaded.text
    where = uploaded.headers["location"]
    page = client.get(where)
    assert page.status_code == 200
    return where, page.text


def _chosen(page: str) -> dict[str, str]:
    """Each column's header -> the option selected for it."""
    found = {}
    for row in re.findall(r'<tr data-column="([^"]*)">(.*?)</tr>', page, re.S):
        selected = re.search(r'<option value="([^"]+)" selected>', row[1])
        found[row[0]] = selected[1] if selected else ""
    return found


def _form(page: str, **changes: str) -> dict[str, str]:
    """The mapping form's fields as the page fills them, with `changes` (column-N: ...)."""
    fields = {"csrf": _csrf(page)}
    for position, chosen in enumerate(_chosen(page).values()):
        fields[f"column-{position}"] = chosen
        field_name = re.search(rf'name="profile-{position}" value="([^"]*)"', page)
        fields[f"profile-{position}"] = field_name[1] if field_name else ""
    community = re.search(r'<select id="community" name="community"><option[^>]*>([^<]*)<',
                          page)
    fields["community"] = community[1] if community else ""
    fields["region"] = "KE"
    return fields | changes


def test_a_facilitator_maps_previews_and_imports_a_spreadsheet(people, runtime):
    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    where, page = _mapping_page(client, PEOPLE.encode())
    assert _chosen(page) == {"Mobile No": "phone", "Lugha": "language", "Jina": "drop",
                             "Gender": "drop", "Village": "community"}
    assert "Asha Wanjiku" in page  # up to 3 examples of each column, to tell what it is
    form = _form(page, **{"column-3": "profile", "profile-3": "gender"})
    preview = client.post(f"{where}/preview", data=form)
    assert preview.status_code == 200, preview.text
    assert count(runtime, Contact) == 0  # a preview writes nothing
    assert ('data-rows="6" data-created="3" data-updated="0" data-merged="1" data-bad="2"'
            in preview.text), preview.text
    assert 'data-bad-line="4"' in preview.text and "not a phone number" in preview.text
    assert 'data-bad-line="7"' in preview.text and "&#39;Mathare&#39; is not one of yours" in (
        preview.text)
    assert "Jina" in re.search(r"data-dropped>([^<]*)<", preview.text)[1]
    assert "+2547*****001" in preview.text and "+254712000001" not in preview.text
    started = client.post(f"{where}/import", data=form, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == where
    running = client.get(where).text
    assert 'data-state="running"' in running and 'http-equiv="refresh"' in running
    drain(runtime)
    report = client.get(where).text
    assert 'data-state="done"' in report and 'http-equiv="refresh"' not in report
    assert 'data-bad-line="4"' in report and 'data-bad-line="7"' in report
    with session_scope(runtime.database_url) as db:
        stored = {c.address: (c.language, c.community, c.profile)
                  for c in db.scalars(select(Contact))}
        assert stored == {"+254712000001": ("sw", "Kibera", {"gender": "female"}),
                          "+254712000002": ("en", "kibera", {"gender": "male"}),
                          "+254712000004": ("sw", "kibera", {"gender": "female"})}
        assert set(db.scalars(select(ProfileField.name))) == {"gender"}
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.actor, entry.action) == ("console:wanjiru", "import_contacts")
        assert entry.detail == {"rows": 6, "created": 3, "updated": 0, "merged": 1,
                                "bad_rows": 2, "dropped_columns": 1, "profile_fields": 1}
    assert imports.uploaded_text(runtime.redis, where.rsplit("/", 1)[1]) is None  # forgotten
    _nowhere_in_the_database(runtime, "Asha Wanjiku", "Baraka", "Chausiku")
    bad = client.get(f"{where}/bad-rows.csv")
    assert bad.status_code == 200 and bad.text.splitlines()[0] == "line,reason"
    assert [line.split(",")[0] for line in bad.text.splitlines()[1:]] == ["4", "7"]


def _nowhere_in_the_database(runtime, *words: str) -> None:
    """None of `words` in any text column of any table."""
    from sqlalchemy import String, Text, inspect
    from sqlalchemy.types import JSON

    from surveys.tables import Base

    with session_scope(runtime.database_url) as db:
        present = set(inspect(db.connection()).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            texts = [column for column in table.columns
                     if isinstance(column.type, String | Text | JSON)]
            for row in db.execute(select(*texts)) if texts else ():
                text = " ".join(str(value) for value in row)
                assert not any(word in text for word in words), (table.name, text)


def test_an_xlsx_upload_is_read_as_its_first_sheet(people, runtime):
    from openpyxl import Workbook

    client, _ = people
    book = Workbook()
    sheet = book.active
    for row in (["Phone Number", "Language", "Community"], [712000011, "sw", "kibera"],
                ["+254712000012", "en", "Kibera"]):
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    assert _sign_in(client, "wanjiru").status_code == 303
    where, page = _mapping_page(client, data.getvalue(), "people.xlsx")
    assert _chosen(page) == {"Phone Number": "phone", "Language": "language",
                             "Community": "community"}
    client.post(f"{where}/import", data=_form(page))
    drain(runtime)
    assert 'data-state="done"' in client.get(where).text
    with session_scope(runtime.database_url) as db:
        assert set(db.scalars(select(Contact.address))) == {"+254712000011", "+254712000012"}


def test_nobody_else_sees_or_continues_an_import(people, runtime):
    client, _ = people
    with session_scope(runtime.database_url) as db:
        create_user(db, "Otieno", PASSWORD, "facilitator", ["kibera"])
        create_user(db, "Ana", PASSWORD, "analyst", ["kibera"])
    assert _sign_in(client, "wanjiru").status_code == 303
    where, page = _mapping_page(client, PEOPLE.encode())
    form = _form(page)
    forged = client.post(f"{where}/import", data=form | {"csrf": "forged"})
    assert forged.status_code == 403 and imports.pending_import(
        runtime.redis, where.rsplit("/", 1)[1], None).status == imports.UPLOADED
    forged_upload = _upload(client, PEOPLE.encode(), csrf="forged")
    assert forged_upload.status_code == 403
    client.cookies.clear()
    assert client.get(where, follow_redirects=False).status_code == 303  # to the sign-in
    assert _sign_in(client, "otieno").status_code == 303
    assert client.get(where).status_code == 404
    other = _csrf(client.get("/console").text)
    assert client.post(f"{where}/import", data=form | {"csrf": other}).status_code == 404
    assert client.get(where[:-3] + "abc").status_code == 404  # a guessed id
    client.cookies.clear()
    assert _sign_in(client, "ana").status_code == 303
    assert client.get(where).status_code == 403
    assert client.get("/console/contacts").status_code == 403
    drain(runtime)
    assert count(runtime, Contact) == 0


@pytest.mark.parametrize(("data", "problem"), [
    (b"PK\x03\x04not a zip", "si faili ya CSV wala XLSX: not a readable XLSX file"),
    (b"", "ni tupu: inahitaji mstari wa vichwa"),  # (Wanjiru reads Swahili)
    (b"phone,language\n", "ni tupu"),
])
def test_a_bad_file_is_refused_naming_the_problem(people, runtime, data, problem):
    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    refused = _upload(client, data)
    assert refused.status_code == 422 and problem in refused.text
    assert "people.csv" in refused.text
    assert list(runtime.redis.scan_iter("heard:import:*")) == []


def test_a_file_over_the_limit_is_refused_before_it_is_kept(people, runtime):
    from heard.guards import MAX_UPLOAD

    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    refused = _upload(client, b"phone\n" + b"+254712000001\n" * (MAX_UPLOAD // 14 + 10))
    assert refused.status_code == 422 and "MB" in refused.text and "people.csv" in (
        refused.text)
    assert list(runtime.redis.scan_iter("heard:import:*")) == []


def test_a_mapping_without_phone_or_with_two_is_shown_naming_the_columns(people, runtime):
    client, _ = people
    assert _sign_in(client, "wanjiru").status_code == 303
    where, page = _mapping_page(client, PEOPLE.encode())
    none = client.post(f"{where}/preview", data=_form(page, **{"column-0": "drop"}))
    assert none.status_code == 422 and "no column is mapped to phone" in none.text
    two = client.post(f"{where}/import", data=_form(page, **{"column-2": "phone"}))
    assert two.status_code == 422
    assert "columns &#39;Mobile No&#39;, &#39;Jina&#39; are all mapped to phone" in two.text
    reserved = client.post(f"{where}/preview", data=_form(
        page, **{"column-3": "profile", "profile-3": "language"}))
    assert reserved.status_code == 422 and "column &#39;Gender&#39;: contact column" in (
        reserved.text)
    elsewhere = client.post(f"{where}/preview", data=_form(page, community="mathare"))
    assert elsewhere.status_code == 422 and "Chagua mojawapo ya jamii zako." in elsewhere.text
    drain(runtime)
    assert count(runtime, Contact) == 0


def test_a_large_import_shows_its_progress_then_its_report(people, runtime):
    client, _ = people
    assert _sign_in(client, "admin").status_code == 303
    rows = "".join(f"+2547130{n:05d},sw,kibera\n" for n in range(3000))
    where, page = _mapping_page(client, ("phone,language,community\n" + rows).encode())
    client.post(f"{where}/import", data=_form(page))
    running = client.get(where).text
    assert re.search(r'data-state="running">[^<]*\b0\b[^<]*3,000', running), running
    drain(runtime)
    done = client.get(where).text
    assert 'data-state="done"' in done and "3,000" in done
    pending = imports.pending_import(runtime.redis, where.rsplit("/", 1)[1], None)
    assert (pending.rows_done, pending.rows) == (3000, 3000)
    assert count(runtime, Contact) == 3000


def test_importing_again_updates_and_never_undoes_an_opt_out_or_a_no(people, runtime):
    client, _ = people
    csv = "phone,language,community,consent\n+254712000001,sw,kibera,yes\n" \
          "+254712000002,en,kibera,no\n"
    assert _sign_in(client, "wanjiru").status_code == 303
    for attempt in range(2):
        where, page = _mapping_page(client, csv.encode())
        client.post(f"{where}/import", data=_form(page))
        drain(runtime)
        assert 'data-state="done"' in client.get(where).text
        if attempt == 0:
            with session_scope(runtime.database_url) as db:
                first = db.scalars(select(Contact).where(
                    Contact.address == "+254712000001")).one()
                first.opted_out = True
            csv = csv.replace(",no\n", ",yes\n")
    assert 'data-created="0" data-updated="2"' in client.get(where).text
    with session_scope(runtime.database_url) as db:
        stored = {c.address: (c.opted_out, c.consent) for c in db.scalars(select(Contact))}
    assert stored == {"+254712000001": (True, True), "+254712000002": (False, False)}


def test_the_cli_takes_a_column_mapping_read_by_the_same_code(runtime, tmp_path):
    from typer.testing import CliRunner

    from heard.cli import app as cli

    people = tmp_path / "people.csv"
    people.write_text("Namba,Jina,Sex\n0712000021,Asha,female\n", encoding="utf-8")
    guessed = CliRunner().invoke(cli, ["contacts", "import", str(people), "--region", "KE"])
    assert guessed.exit_code == 1 and "no column is mapped to phone" in guessed.output
    mapped = CliRunner().invoke(cli, ["contacts", "import", str(people), "--region", "KE",
                                      "--column", "Namba=phone", "--column", "Sex=gender"])
    assert mapped.exit_code == 0, mapped.output
    assert "dropped columns not declared as profile fields: Jina" in mapped.output
    with session_scope(runtime.database_url) as db:
        stored = db.scalars(select(Contact)).one()
        assert (stored.address, stored.profile) == ("+254712000021", {"gender": "female"})
    wrong = CliRunner().invoke(cli, ["contacts", "import", str(people), "--column", "Namba"])
    assert wrong.exit_code == 2 and "HEADER=WHAT" in wrong.output


def test_an_api_token_of_a_community_imports_only_into_it(runtime):
    from surveys.tokens import create_token
    from tests.pipeline import client_for

    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "facilitator", "kibera's", ["kibera"])
    response = client.post("/api/v1/contacts/import?region=KE", content=PEOPLE.encode(),
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert {"line": 7, "message": "community 'Mathare' is not one of yours (kibera)"} in (
        response.json()["errors"])
    with session_scope(runtime.database_url) as db:
        assert "+254712000005" not in set(db.scalars(select(Contact.address)))
