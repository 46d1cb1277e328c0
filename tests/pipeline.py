"""Helpers to drive the real pipeline in tests: the app, in-process workers, database reads."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from heard.app import create_app
from surveys import catalog
from surveys.database import session_scope
from surveys.tables import InboxMessage, OutboxMessage, StoredAnswer
from surveys.validation import load_survey
from tests.conftest import EXAMPLES, HERE
from worker.queues import QUEUE_NAMES
from worker.runtime import Runtime


def client_for(runtime: Runtime) -> TestClient:
    with session_scope(runtime.database_url) as db:
        catalog.register(db, load_survey(HERE / "data" / "water.yaml"))
        catalog.register_folder(db, EXAMPLES)
    return TestClient(create_app(runtime))


def drain(runtime: Runtime) -> None:
    """Run every queued job in this process until the queues are empty."""
    queues = [Queue(name, connection=runtime.redis) for name in QUEUE_NAMES]
    SimpleWorker(queues, connection=runtime.redis).work(burst=True, logging_level="WARNING")


def say(client: TestClient, address: str, text: str, survey: str = "test-water",
        **extra: Any) -> Any:
    response = client.post("/api/v1/simulate",
                           json={"survey": survey, "address": address, "text": text, **extra})
    assert response.status_code == 202, response.text
    return response.json()


def conversation(client: TestClient, address: str) -> list[tuple[str, str]]:
    response = client.get(f"/api/v1/simulate/{address}")
    assert response.status_code == 200
    return [(line["direction"], line["text"]) for line in response.json()]


def count(runtime: Runtime, model: Any, *where: Any) -> int:
    with session_scope(runtime.database_url) as db:
        return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def answers(runtime: Runtime) -> dict[str, Any]:
    with session_scope(runtime.database_url) as db:
        return {row.question_id: row.value for row in db.scalars(select(StoredAnswer))}


__all__ = ["StoredAnswer", "InboxMessage", "OutboxMessage", "answers", "client_for", "conversation",
           "count", "drain", "say"]
