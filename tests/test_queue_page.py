"""The console's queue page: admins see each rq queue's depth, failed jobs and workers, and
put failed jobs back (a CSRF-protected form); facilitators are refused."""

from __future__ import annotations

import re

from rq import Queue, SimpleWorker, Worker
from sqlalchemy import select

from surveys.database import session_scope
from surveys.tables import AuditEntry
from tests.test_console import _csrf, _sign_in, people  # noqa: F401 - people: a fixture
from worker.queues import DEFAULT, OUTBOUND


def broken() -> None:
    """A job that fails, as one does when a provider is down or a setting is wrong."""
    raise RuntimeError("the provider is down")


def _cell(page: str, queue: str, column: str) -> str:
    row = re.search(rf'<tr data-queue="{queue}">(.*?)</tr>', page, re.S)
    assert row, page
    found = re.search(rf"<td data-{column}>([^<]*)</td>", row[1])
    assert found, row[1]
    return found[1]


def _failed_job(redis) -> None:
    Queue(DEFAULT, connection=redis).enqueue(broken)
    SimpleWorker([Queue(DEFAULT, connection=redis)], connection=redis).work(
        burst=True, logging_level="ERROR")


def test_an_admin_sees_the_queues_and_puts_failed_jobs_back(people, runtime):  # noqa: F811
    client, _ = people
    redis = runtime.redis
    _failed_job(redis)
    Queue(OUTBOUND, connection=redis).enqueue(broken)  # waiting: no worker runs it
    watching = Worker([Queue(OUTBOUND, connection=redis)], connection=redis, name="sender-1")
    watching.register_birth()
    try:
        assert _sign_in(client, "admin").status_code == 303
        page = client.get("/console/queues")
        assert page.status_code == 200
        assert _cell(page.text, DEFAULT, "failed") == "1"
        assert _cell(page.text, OUTBOUND, "waiting") == "1"
        assert _cell(page.text, OUTBOUND, "oldest").endswith("seconds") or _cell(
            page.text, OUTBOUND, "oldest").endswith("second")
        assert _cell(page.text, DEFAULT, "oldest") == "-"
        assert "sender-1" in page.text and "data-no-worker" not in page.text

        forged = client.post("/console/queues/requeue-failed", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert Queue(DEFAULT, connection=redis).failed_job_registry.count == 1

        done = client.post("/console/queues/requeue-failed", data={"csrf": _csrf(page.text)})
        assert done.status_code == 200 and 'data-requeued="1"' in done.text
        assert _cell(done.text, DEFAULT, "failed") == "0"
        assert _cell(done.text, DEFAULT, "waiting") == "1"  # to run again
    finally:
        watching.register_death()
    with session_scope(runtime.database_url) as db:
        entry = db.scalars(select(AuditEntry).where(
            AuditEntry.action == "requeue_failed")).one()
    assert entry.actor == "console:admin" and entry.detail == {"jobs": 1}
    assert "data-no-worker" in client.get("/console/queues").text


def test_a_facilitator_may_not_see_the_queues_nor_requeue(people, runtime):  # noqa: F811
    client, _ = people
    _failed_job(runtime.redis)
    assert _sign_in(client, "wanjiru").status_code == 303
    assert client.get("/console/queues").status_code == 403
    csrf = _csrf(client.get("/console").text)
    refused = client.post("/console/queues/requeue-failed", data={"csrf": csrf})
    assert refused.status_code == 403
    assert Queue(DEFAULT, connection=runtime.redis).failed_job_registry.count == 1
    assert 'href="/console/queues"' not in client.get("/console").text
