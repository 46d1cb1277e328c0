"""The console's contact import: upload a CSV or XLSX file, say what each column is, see what
the import would do, then import it in a worker with its progress and report on its page.

The file's text lives only in Redis, an hour at most, for its uploader only (worker/imports.py);
rows are read once, by surveys/contact_import.py, as the CLI and the API read them, with the
same one check that a facilitator imports only into their communities.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from heard.guards import FORM_MARGIN, MAX_UPLOAD
from heard.routes.console.base import (
    Refused,
    RuntimeDep,
    SessionCookie,
    acting,
    forbidden,
    page,
)
from heard.routes.console.contact_pages import contacts_with
from surveys.contact_import import (
    DROP,
    KNOWN_COLUMNS,
    PROFILE,
    ImportedContact,
    count_known,
    country_code,
    data_rows,
    guess_columns,
    header_and_samples,
    mapping_problems,
    parse_contacts,
    read_spreadsheet,
)
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.settings import get_settings
from surveys.users import SignedIn
from worker import imports
from worker.queues import enqueue_contact_import
from worker.runtime import Runtime

router = APIRouter(include_in_schema=False)
SHOWN_CONTACTS = 10  # of the preview: what the first contacts would look like
SHOWN_ERRORS = 100  # bad rows on a page; all of them in the download
# what a column may be, in the order the select offers them (address is offered as phone)
TARGETS = ("phone", "channel", "language", "community", "consent", "country", "time_zone",
           "profile", DROP)


@dataclass
class Mapping:
    """What the user said each column is, and the defaults for rows that lack one."""

    columns: dict[str, str]  # header as written -> contact column, profile:NAME or drop
    community: str | None
    region: str | None


@router.post("/console/contacts/imports", response_class=HTMLResponse)
async def upload(request: Request, runtime: RuntimeDep, cookie: SessionCookie = None
                 ) -> Response:
    """A spreadsheet kept in Redis for its uploader (an hour at most), then its mapping page;
    an empty, too large or unreadable file is refused, naming the problem."""
    too_large = False
    try:
        form = await _in_memory(request).parse()
    except UploadTooLarge:
        form, too_large = FormData(), True
    except MultiPartException:  # not a form with a file: refused below as a forged form
        form = FormData()
    file, csrf = form.get("file"), str(form.get("csrf") or "")
    data = await file.read() if isinstance(file, UploadFile) else b""
    name = (file.filename if isinstance(file, UploadFile) else None) or "upload.csv"
    with session_scope(runtime.database_url) as db:
        user = acting(db, cookie, None if too_large else csrf)
    t = translator(user.language)
    if too_large or len(data) > MAX_UPLOAD:
        return _refused_upload(user, t.gettext(
            "{file} is larger than {size} MB: split it into smaller files.", file=name,
            size=t.number(MAX_UPLOAD // 1024 // 1024)))
    try:
        text = read_spreadsheet(data) if data.strip() else ""
    except ValueError as error:  # (read_spreadsheet's words, in English)
        return _refused_upload(user, t.gettext(
            "{file} is not a CSV or XLSX file: {reason}", file=name, reason=str(error)))
    if not any(value.strip() for value in text.splitlines()[:1]) or not data_rows(text):
        return _refused_upload(user, t.gettext(
            "{file} is empty: it needs a header line and at least one row.", file=name))
    pending = imports.stash(runtime.redis, user.user_id, name, text)
    return RedirectResponse(f"/console/contacts/imports/{pending.id}", status_code=303)


class UploadTooLarge(Exception):
    """A request body larger than any upload heard takes."""


class InMemoryParser(MultiPartParser):
    """Starlette's form parser, holding the file in memory: personal data never goes to a
    temporary file on disk (the body is bounded, so memory is too)."""

    spool_max_size = MAX_UPLOAD + 1


def _in_memory(request: Request) -> InMemoryParser:
    """The upload's parser, reading at most MAX_UPLOAD (and the form around it)."""

    async def bounded() -> AsyncGenerator[bytes, None]:
        read = 0
        async for chunk in request.stream():
            read += len(chunk)
            if read > MAX_UPLOAD + FORM_MARGIN:
                raise UploadTooLarge
            yield chunk

    return InMemoryParser(request.headers, bounded(), max_files=1, max_fields=10)


@router.get("/console/contacts/imports/{import_id}", response_class=HTMLResponse)
def import_page(import_id: str, runtime: RuntimeDep, cookie: SessionCookie = None
                ) -> Response:
    """Before the import: what each column is (heard's reading preselected); during it, its
    progress; after it, its report."""
    user, pending = _pending(runtime, cookie, import_id)
    if pending.status != imports.UPLOADED:
        return _progress(user, pending)
    text = imports.uploaded_text(runtime.redis, pending.id) or ""
    return _mapping_page(user, pending, text, _guessed(text))


@router.post("/console/contacts/imports/{import_id}/preview", response_class=HTMLResponse)
async def preview(import_id: str, request: Request, runtime: RuntimeDep,
                  cookie: SessionCookie = None) -> Response:
    """What the import would do as mapped (nothing written yet), or the mapping's problems
    on the mapping page, each naming its column."""
    posted = await _posted(import_id, request, runtime, cookie)
    if isinstance(posted, Response):
        return posted
    user, pending, text, mapping = posted
    contacts, report = parse_contacts(text, mapping.region, columns=mapping.columns,
                                      community=mapping.community,
                                      communities=user.communities)
    with session_scope(runtime.database_url) as db:
        known = count_known(db, contacts)
    summary = {"rows": report.rows, "created": len(contacts) - known, "updated": known,
               "merged": report.merged_duplicates, "bad": len(report.errors),
               "errors": report.errors[:SHOWN_ERRORS],
               "dropped_columns": report.dropped_columns,
               "contacts": [_shown(contact) for contact in contacts[:SHOWN_CONTACTS]]}
    return _mapping_page(user, pending, text, mapping, preview=summary)


@router.post("/console/contacts/imports/{import_id}/import", response_class=HTMLResponse)
async def start_import(import_id: str, request: Request, runtime: RuntimeDep,
                       cookie: SessionCookie = None) -> Response:
    """Queue the import as previewed; its page shows its progress, then its report."""
    posted = await _posted(import_id, request, runtime, cookie)
    if isinstance(posted, Response):
        return posted
    user, pending, text, mapping = posted
    pending.status, pending.rows = imports.QUEUED, data_rows(text)
    pending.settings = {"columns": mapping.columns, "community": mapping.community,
                        "region": mapping.region, "actor": f"console:{user.name}",
                        "communities": None if user.communities is None
                        else list(user.communities)}
    imports.save(runtime.redis, pending)
    enqueue_contact_import(runtime.redis, pending.id)
    return RedirectResponse(f"/console/contacts/imports/{pending.id}", status_code=303)


@router.get("/console/contacts/imports/{import_id}/bad-rows.csv")
def bad_rows(import_id: str, runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    """Every bad row of a finished import: its line and why (nothing the file did not hold)."""
    user, pending = _pending(runtime, cookie, import_id)
    if pending.report is None:
        return _gone(user)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "reason"])
    writer.writerows(pending.report["errors"])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="bad-rows.csv"'})


def _pending(runtime: Runtime, cookie: str | None, import_id: str,
             csrf: str | None = None) -> tuple[SignedIn, imports.PendingImport]:
    """The signed-in facilitator or admin and their import; else a refusal, or 404 for an
    import that is not theirs (or not there any more)."""
    with session_scope(runtime.database_url) as db:
        user = acting(db, cookie, csrf)
    pending = imports.pending_import(runtime.redis, import_id, user.user_id)
    if pending is None:
        raise Refused(_gone(user))
    return user, pending


def _gone(user: SignedIn) -> Response:
    return forbidden(user, translator(user.language).gettext(
        "No such import: an upload is kept for an hour, for whoever uploaded it."), 404)


def _refused_upload(user: SignedIn, problem: str) -> Response:
    return contacts_with(user, problem=problem, status=422)


def _guessed(text: str) -> Mapping:
    """heard's own reading of the headers, and the settings' country."""
    names = [name for name, _ in header_and_samples(text, 0)]
    return Mapping(guess_columns(names), None, get_settings().default_region or None)


async def _posted(import_id: str, request: Request, runtime: Runtime, cookie: str | None
                  ) -> tuple[SignedIn, imports.PendingImport, str, Mapping] | Response:
    """The user's upload still waiting, its text and the mapping the form posts for it; else
    the page to answer with: the import's progress, or the mapping's problems by column."""
    form = await request.form()
    user, pending = _pending(runtime, cookie, import_id, str(form.get("csrf") or ""))
    text = imports.uploaded_text(runtime.redis, pending.id)
    if pending.status != imports.UPLOADED or text is None:
        return _progress(user, pending)
    mapping, problems = _posted_mapping(user, form, text)
    if problems:
        return _mapping_page(user, pending, text, mapping, problems, status=422)
    return user, pending, text, mapping


def _posted_mapping(user: SignedIn, form: FormData, text: str
                    ) -> tuple[Mapping, list[str]]:
    """The mapping as posted (column-N: what column N is; profile-N: its field's name) and
    what is wrong with it: the file's words (naming the column) and the defaults'."""
    t = translator(user.language)
    names = [name for name, _ in header_and_samples(text, 0)]
    columns: dict[str, str] = {}
    for position, name in enumerate(names):
        chosen = str(form.get(f"column-{position}") or DROP)
        field_name = str(form.get(f"profile-{position}") or "").strip().lower()
        columns[name] = PROFILE + field_name if chosen == "profile" else chosen
    community = str(form.get("community") or "").strip().lower() or None
    region_text = str(form.get("region") or "").strip()
    mapping = Mapping(columns, community, region_text or None)
    problems = mapping_problems(names, columns)
    if community is not None and not user.sees(community):
        problems.append(t.gettext("Choose one of your communities."))
    try:
        mapping.region = country_code(region_text)
    except ValueError as error:
        problems.append(str(error))
    return mapping, problems


def _shown(contact: ImportedContact) -> dict[str, Any]:
    """A contact as the preview shows it: the middle of its number masked."""
    return {"channel": contact.channel, "address": masked(contact.address),
            "language": contact.language, "community": contact.community,
            "consent": contact.consent, "time_zone": contact.time_zone,
            "profile": contact.profile}


def masked(address: str) -> str:
    """+254712345678 as +2547*****678: enough to recognise a row, not to dial it."""
    if len(address) <= 6:
        return "*" * len(address)
    return address[:5] + "*" * (len(address) - 8) + address[-3:]


def _mapping_page(user: SignedIn, pending: imports.PendingImport, text: str, mapping: Mapping,
                  problems: list[str] | None = None, preview: dict[str, Any] | None = None,
                  status: int = 200) -> Response:
    """The mapping form (chosen or guessed), any problems, and the preview when asked."""
    t = translator(user.language)
    rows = []
    for position, (name, samples) in enumerate(header_and_samples(text)):
        target = mapping.columns.get(name, DROP)
        chosen = ("phone" if target == "address" else "profile" if target.startswith(PROFILE)
                  else target if target in KNOWN_COLUMNS else DROP)
        field_name = target.removeprefix(PROFILE) if chosen == "profile" else name.lower()
        rows.append({"position": position, "name": name, "samples": samples,
                     "chosen": chosen, "field": field_name})
    labels = {"phone": t.gettext("Phone number or chat id"), "channel": t.gettext("Channel"),
              "language": t.gettext("Language"), "community": t.gettext("Community"),
              "consent": t.gettext("Consent"), "country": t.gettext("Country"),
              "time_zone": t.gettext("Time zone"),
              "profile": t.gettext("Profile field (kept)"),
              DROP: t.gettext("Drop: not stored (personal data)")}
    return HTMLResponse(page(
        "console_import.html", user.language, user=user, pending=pending, rows=rows,
        targets=[(target, labels[target]) for target in TARGETS], mapping=mapping,
        problems=problems, preview=preview, back=f"/console/contacts/imports/{pending.id}"),
        status_code=status)


def _progress(user: SignedIn, pending: imports.PendingImport) -> Response:
    """A running import's progress (the page reloads itself), or its report."""
    report = pending.report
    errors = report["errors"][:SHOWN_ERRORS] if report else []
    return HTMLResponse(page("console_import_progress.html", user.language, user=user,
                             pending=pending, report=report, errors=errors,
                             back=f"/console/contacts/imports/{pending.id}"))

