"""Webhooks store messages with group commit: requests arriving together share one INSERT and
one COMMIT, each answered only once its row is committed; re-deliveries stay no-ops."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event, text

from surveys.database import get_engine
from surveys.messages import Inbound
from tests.pipeline import InboxMessage, client_for, count
from worker import ingest as ingest_module
from worker.ingest import ingest, ingest_many


def simulated(number: int, provider_id: str) -> Inbound:
    return Inbound("simulator", f"g{number}", "hi", provider_id,
                   payload={"survey": "test-water"})


def test_a_redelivery_within_one_group_is_a_duplicate_too(runtime):
    client_for(runtime)
    first, again, other = simulated(1, "p-1"), simulated(1, "p-1"), simulated(2, "p-2")
    ids = ingest_many(runtime.database_url, runtime.redis, [first, again, other])
    assert ids[0] is not None and ids[1] is None and ids[2] not in (None, ids[0])
    assert ingest_many(runtime.database_url, runtime.redis, [again]) == [None]
    assert count(runtime, InboxMessage) == 2


def test_requests_that_arrive_during_a_commit_share_the_next_one(runtime):
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("holds a table lock from another connection: PostgreSQL")
    client_for(runtime)
    inserts: list[int] = []  # rows per INSERT INTO inbox

    def counted(*args: Any) -> None:
        if args[2].startswith("INSERT INTO inbox"):
            parameters = args[3]  # one VALUES list for the whole group: channel__0, channel__1…
            inserts.append(sum(1 for name in parameters if name.startswith("channel"))
                           if isinstance(parameters, dict) else len(parameters))

    def all_arrived() -> bool:  # one group per lane is being written, the rest wait for it
        waiting = sum(lane._waiting.qsize() for lane in committer.lanes)
        return len(inserts) == len(committer.lanes) and sum(inserts) + waiting == 20

    engine = get_engine(runtime.database_url)
    committer = ingest_module._committer(runtime.database_url, runtime.redis)
    event.listen(engine, "before_cursor_execute", counted)
    try:
        with ThreadPoolExecutor(20) as pool, engine.connect() as other:
            other.execute(text("LOCK TABLE inbox IN EXCLUSIVE MODE"))  # the first commit waits
            calls = [pool.submit(ingest, runtime.database_url, runtime.redis,
                                 simulated(number, f"g-{number % 15}")) for number in range(20)]
            deadline = time.monotonic() + 30
            while not all_arrived() and time.monotonic() < deadline:
                time.sleep(0.01)
            other.rollback()
            ids = [call.result(timeout=30) for call in calls]
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    # per lane, the first group, then all that waited
    assert len(inserts) <= 2 * len(committer.lanes) and sum(inserts) == 20
    assert len({inbox_id for inbox_id in ids if inbox_id is not None}) == 15
    assert ids.count(None) == 5  # provider ids sent twice
    assert count(runtime, InboxMessage) == 15


def test_a_database_error_reaches_every_caller_of_the_group(runtime, monkeypatch):
    client_for(runtime)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(ingest_module, "insert_ignore", broken)
    with pytest.raises(RuntimeError, match="database unreachable"):
        ingest(runtime.database_url, runtime.redis, simulated(1, "p-1"))
    monkeypatch.undo()
    assert ingest(runtime.database_url, runtime.redis, simulated(1, "p-1")) is not None


def test_callers_on_an_event_loop_each_hear_their_own_id(runtime):
    """ingest_async: a group's futures on one loop resolved together, each with its own row."""
    import asyncio

    client_for(runtime)

    async def all_at_once() -> list[int | None]:
        return await asyncio.gather(*(
            ingest_module.ingest_async(runtime.database_url, runtime.redis,
                                       simulated(number % 30, f"a-{number % 30}"))
            for number in range(40)))

    ids = asyncio.run(all_at_once())
    assert ids[30:] == [None] * 10  # the second of each provider id is a re-delivery
    assert len(set(ids[:30])) == 30 and None not in ids[:30]
    assert count(runtime, InboxMessage) == 30


def test_sqlite_writers_wait_for_the_write_lock_instead_of_failing(runtime, caplog):
    """The embedded default: a webhook's group commit arriving while a worker holds SQLite's
    write lock waits for it (WAL, BEGIN IMMEDIATE, busy_timeout): no "database is locked"."""
    if not runtime.database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    client_for(runtime)
    engine = get_engine(runtime.database_url)
    with ThreadPoolExecutor(20) as pool, engine.connect() as worker:
        worker.exec_driver_sql("UPDATE inbox SET outcome = outcome")  # BEGIN IMMEDIATE first
        calls = [pool.submit(ingest, runtime.database_url, runtime.redis,
                             simulated(number, f"s-{number}")) for number in range(20)]
        time.sleep(1.5)
        assert not any(call.done() for call in calls)  # waiting, not failed
        worker.commit()
        ids = [call.result(timeout=30) for call in calls]
    assert None not in ids and len(set(ids)) == 20
    assert count(runtime, InboxMessage) == 20
    assert "database is locked" not in caplog.text  # not even retried: waited for
