"""Contact imports from the console: the uploaded file's text kept only in Redis, an hour at
most, bound to who uploaded it; the job that writes it a chunk at a time, its progress and its
report.

The text is personal data (numbers, names), so it never touches the disk and expires by
itself; it is deleted the moment it is imported. What stays for the hour is the report (counts,
bad rows by line with their reason), which holds nothing the user did not upload.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from redis import Redis

from surveys import audit
from surveys.contact_import import (
    ImportReport,
    analyze_contacts,
    chunked,
    parse_contacts,
    store_contacts,
)
from surveys.database import session_scope

log = logging.getLogger(__name__)
KEPT_SECONDS = 3600  # an upload (and then its report) lasts an hour in Redis
UPLOADED, QUEUED, RUNNING, DONE, FAILED = "uploaded", "queued", "running", "done", "failed"


@dataclass
class PendingImport:
    """An upload and what became of it (no personal data: the text has a key of its own)."""

    id: str
    user_id: int
    file_name: str
    status: str = UPLOADED
    rows_done: int = 0
    rows: int = 0
    settings: dict[str, Any] = field(default_factory=dict)  # what the job is to do
    report: dict[str, Any] | None = None

    @property
    def running(self) -> bool:
        return self.status in (QUEUED, RUNNING)


def _key(import_id: str) -> str:
    return f"heard:import:{import_id}"


def _text_key(import_id: str) -> str:
    return f"heard:import:{import_id}:text"


def stash(redis: Redis, user_id: int, file_name: str, text: str) -> PendingImport:
    """Keep an upload's text for an hour under a new unguessable id, for its uploader only."""
    pending = PendingImport(secrets.token_urlsafe(24), user_id, file_name)
    with redis.pipeline() as pipe:
        pipe.set(_text_key(pending.id), text.encode(), ex=KEPT_SECONDS)
        pipe.set(_key(pending.id), json.dumps(asdict(pending)), ex=KEPT_SECONDS)
        pipe.execute()
    return pending


def pending_import(redis: Redis, import_id: str, user_id: int | None) -> PendingImport | None:
    """The import with this id if `user_id` uploaded it (None: whoever did); else None, as if
    there were none: a guessed id or another user's import is not there."""
    found = redis.get(_key(import_id)) if len(import_id) < 64 else None
    if found is None:
        return None
    pending = PendingImport(**json.loads(found))
    return pending if user_id is None or pending.user_id == user_id else None


def uploaded_text(redis: Redis, import_id: str) -> str | None:
    """The file's text while it is kept (until imported, or an hour)."""
    found = redis.get(_text_key(import_id))
    return None if found is None else cast(bytes, found).decode()  # not decode_responses


def save(redis: Redis, pending: PendingImport, *, again: bool = False) -> None:
    """Write what became of the import, within its hour (`again`: a new hour, for a report)."""
    data = json.dumps(asdict(pending))
    if again:
        redis.set(_key(pending.id), data, ex=KEPT_SECONDS)
    else:
        redis.set(_key(pending.id), data, keepttl=True)


def import_pending(database_url: str, redis: Redis, import_id: str) -> PendingImport | None:
    """Parse the kept file as the user mapped it, write its contacts a chunk at a time (one
    transaction each, progress in Redis after each), log counts in the audit log and forget
    the file. Safe to run twice: contacts are upserted, and a done import has no text."""
    pending = pending_import(redis, import_id, None)
    text = uploaded_text(redis, import_id)
    if pending is None or text is None or pending.status == DONE:
        return pending
    settings = pending.settings
    try:
        contacts, report = parse_contacts(
            text, settings.get("region"), columns=settings["columns"],
            community=settings.get("community"),
            communities=None if settings.get("communities") is None
            else tuple(settings["communities"]))
        pending.status, pending.rows = RUNNING, report.rows
        pending.rows_done = report.rows - len(contacts)  # bad rows and duplicates: read
        save(redis, pending)
        for chunk in chunked(contacts):
            with session_scope(database_url) as db:
                store_contacts(db, chunk, report)
            pending.rows_done += len(chunk)
            save(redis, pending)
        with session_scope(database_url) as db:
            audit.record(db, settings["actor"], audit.IMPORT_CONTACTS, rows=report.rows,
                         created=report.created, updated=report.updated,
                         merged=report.merged_duplicates, bad_rows=len(report.errors),
                         dropped_columns=len(report.dropped_columns),
                         profile_fields=len(report.profile_fields))
        analyze_contacts(database_url, report)
    except Exception:
        pending.status = FAILED
        save(redis, pending, again=True)
        log.exception("contact import %s failed", import_id)  # no row in the message
        raise
    pending.status, pending.report = DONE, report_of(report)
    save(redis, pending, again=True)
    redis.delete(_text_key(import_id))
    return pending


def report_of(report: ImportReport) -> dict[str, Any]:
    """An import's report as kept for its page and its bad-rows download."""
    return {"rows": report.rows, "created": report.created, "updated": report.updated,
            "merged": report.merged_duplicates, "profile_fields": report.profile_fields,
            "dropped_columns": report.dropped_columns,
            "errors": [[error.line, error.message] for error in report.errors]}
