"""Labelled webhook cases, courier's `handlertest`: one case file per channel, one test per case.

A case is a request and what must follow: the HTTP answer, the row stored (or none), the jobs
queued and what the person is answered once a worker has handled it. A case file's
expectations are rewritten with `HEARD_REWRITE_CASES=1` when a change is intended (then read
the diff).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import select

from surveys.database import session_scope
from surveys.tables import Contact, InboxMessage, OutboxMessage
from worker import jobs
from worker.queues import INBOUND, QUEUE_NAMES

REWRITE = "HEARD_REWRITE_CASES"


class CaseFile:
    """A channel's case file: its cases as labelled pytest parameters, checked or rewritten."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.document = json.loads(path.read_text(encoding="utf-8"))

    def params(self) -> list[Any]:
        return [pytest.param(case, id=case["label"]) for case in self.document["cases"]]

    def check(self, case: dict[str, Any], got: dict[str, Any]) -> None:
        wanted = {key: case.get(key) for key in got}
        if got != wanted and os.environ.get(REWRITE):
            case.update(got)
            self.path.write_text(cases_json(self.document), encoding="utf-8")
            return
        assert got == wanted, (f"{case['label']}:\n  wanted {wanted}\n  got    {got}\n"
                               f"(rewrite the cases: {REWRITE}=1)")


def cases_json(document: dict[str, Any]) -> str:
    """The case file as it is kept: one line per field of a case; lone surrogates escaped."""
    def dumps(value: Any) -> str:
        return re.sub("[\ud800-\udfff]", lambda found: f"\\u{ord(found.group()):04x}",
                      json.dumps(value, ensure_ascii=False))

    cases = ",\n".join(" {\n" + ",\n".join(f"  {dumps(key)}: {dumps(value)}"
                                            for key, value in case.items()) + "\n }"
                        for case in document["cases"])
    return f'{{\n "_about": {dumps(document["_about"])},\n "cases": [\n{cases}\n ]\n}}\n'


def queued(runtime: Any) -> list[str]:
    """Jobs waiting, by what they do (the worker's job names are its own business)."""
    found = []
    for name in QUEUE_NAMES:
        for job in Queue(name, connection=runtime.redis).jobs:
            if name == INBOUND:
                found.append("inbound")
            elif job.func_name.startswith("worker.jobs.send_outbound"):
                found.append("outbound:send")
            else:
                found.append(f"{name}:{job.func_name.rsplit('.', 1)[-1]}")
    return sorted(found)


def inbox_row(runtime: Any, channel: str, provider_id: str | None) -> dict[str, Any] | None:
    """The stored inbound message, as the webhook left it."""
    with session_scope(runtime.database_url) as db:
        row = db.scalars(select(InboxMessage).where(
            InboxMessage.channel == channel, InboxMessage.provider_id == provider_id)).first()
        if row is None:
            return None
        text = row.text  # a huge one as its start and length: the case file stays readable
        if len(text) > 200:
            text = f"{text[:40]}… ({len(text)} characters)"
        found = {"address": row.address, "provider_id": row.provider_id, "text": text,
                 "payload": row.payload, "processed": row.processed_at is not None}
        if row.outcome is not None:
            found["outcome"] = row.outcome
        return found


def answered(runtime: Any, channel: str, provider_id: str | None) -> dict[str, Any] | None:
    """Once a worker has handled the inbox: the message's outcome and the replies it got."""
    jobs.drain_inbox()
    with session_scope(runtime.database_url) as db:
        row = db.scalars(select(InboxMessage).where(
            InboxMessage.channel == channel, InboxMessage.provider_id == provider_id)).first()
        if row is None:
            return None
        return {"outcome": row.outcome, "replies": list(db.scalars(
            select(OutboxMessage.text).where(OutboxMessage.inbox_id == row.id)
            .order_by(OutboxMessage.seq)))}


def delivery(runtime: Any, provider_id: str) -> dict[str, Any] | None:
    """The outbox row the provider knows as `provider_id`, after its delivery report: its
    status and error, and what the report said of the person."""
    with session_scope(runtime.database_url) as db:
        row = db.scalars(select(OutboxMessage)
                         .where(OutboxMessage.provider_id == provider_id)).first()
        if row is None:
            return None
        contact = db.get_one(Contact, row.contact_id)
        return {"status": row.status, "error_code": row.error_code,
                "contact": {"opted_out": contact.opted_out, "unreachable": contact.unreachable}}
