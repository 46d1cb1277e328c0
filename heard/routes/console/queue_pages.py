"""The console's queue page (admins only): each queue's depth, running, scheduled and failed
jobs and its oldest wait, the workers, and failed jobs put back on their queues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from heard.routes.console.base import RuntimeDep, SessionCookie, admin, page
from surveys import audit
from surveys.database import session_scope
from surveys.users import SignedIn
from worker.queue_health import queue_states, requeue_failed, worker_states
from worker.runtime import Runtime

router = APIRouter(include_in_schema=False)


@router.get("/console/queues", response_class=HTMLResponse)
def queues_page(runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    """What the workers have to do and are doing: a backlog or a stuck worker shows here."""
    with session_scope(runtime.database_url) as db:
        user = admin(db, cookie)
    return _queues(runtime, user)


@router.post("/console/queues/requeue-failed", response_class=HTMLResponse)
def requeue_failed_jobs(runtime: RuntimeDep, csrf: Annotated[str, Form()] = "",
                        cookie: SessionCookie = None) -> Response:
    """Every failed job back on its queue (after the cause is fixed: a provider's outage, a
    bad setting), written to the audit log."""
    with session_scope(runtime.database_url) as db:
        user = admin(db, cookie, csrf)
    requeued = requeue_failed(runtime.redis)
    with session_scope(runtime.database_url) as db:
        audit.record(db, f"console:{user.name}", audit.REQUEUE_FAILED, jobs=requeued)
    return _queues(runtime, user, requeued=requeued)


def _queues(runtime: Runtime, user: SignedIn, requeued: int | None = None) -> Response:
    return HTMLResponse(page("console_queues.html", user.language, user=user,
                             queues=queue_states(runtime.redis),
                             workers=worker_states(runtime.redis), requeued=requeued))
