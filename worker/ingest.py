"""Store inbound messages in the inbox and queue them: what every webhook does, fast.

A webhook answers only once its message is committed, so the commit is the cost: one fsync
per request would cap a server at the disk's flush rate. Requests that arrive together
therefore share one INSERT and one COMMIT (group commit): while one group is being committed,
the next one gathers.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Any

from redis import Redis

from surveys.database import patiently, session_scope, unreachable
from surveys.messages import Inbound, clean_text
from surveys.settings import get_settings
from surveys.sql import insert_ignore
from surveys.tables import InboxMessage
from worker.queues import request_drain

log = logging.getLogger(__name__)
GROUP_LIMIT = 500  # rows per INSERT: big enough to absorb a burst, small enough to stay quick


def ingest(database_url: str, redis: Redis, message: Inbound) -> int | None:
    """The new inbox id, or None when this provider message was already stored (a re-delivery).

    The row is committed before it is queued: if Redis is down the message is still kept, and
    the sweeper queues it later. Safe to call from many threads at once: they commit together.
    """
    return _committer(database_url, redis).submit(message).result()


async def ingest_async(database_url: str, redis: Redis, message: Inbound) -> int | None:
    """`ingest` for async endpoints: the event loop goes on serving while the group commits,
    and hears of the whole group's outcome at once."""
    return await _committer(database_url, redis).submit_async(message)


def inbox_row(message: Inbound) -> dict[str, Any]:
    """The inbox row of `message`, as every way of storing one writes it."""
    return {"channel": message.channel, "provider_id": message.provider_id,
            "address": message.address, "text": clean_text(message.text),
            "payload": message.payload, "received_at": message.received_at}


def ingest_many(database_url: str, redis: Redis, messages: list[Inbound]) -> list[int | None]:
    """Store `messages` in one transaction; per message its new id, or None for a re-delivery
    (of an earlier message, or of one earlier in this list)."""
    rows = [inbox_row(message) for message in messages]
    with session_scope(database_url) as db:
        stored = {(channel, provider_id): inbox_id for inbox_id, channel, provider_id in
                  insert_ignore(db, InboxMessage.__table__, rows, conflict=["channel",
                                                                            "provider_id"],
                                returning=(InboxMessage.id, InboxMessage.channel,
                                           InboxMessage.provider_id))}
    ids = [stored.pop((message.channel, message.provider_id), None) for message in messages]
    if any(inbox_id is not None for inbox_id in ids):
        request_drain(redis)
    return ids


Waiter = Future[int | None] | asyncio.Future[int | None]


class GroupCommitter:
    """Messages submitted together share one transaction; each future resolves once its row is
    committed. One leader at a time writes whatever is waiting, on a small shared pool."""

    def __init__(self, database_url: str, redis: Redis) -> None:
        self.database_url, self.redis = database_url, redis
        self._waiting: queue.SimpleQueue[tuple[Inbound, Waiter]] = queue.SimpleQueue()
        self._leading = threading.Lock()
        self._called = False  # a leader is on its way: no need to call another

    def submit(self, message: Inbound) -> Future[int | None]:
        done: Future[int | None] = Future()
        self._enqueue(message, done)
        return done

    def submit_async(self, message: Inbound) -> asyncio.Future[int | None]:
        """`submit` from an event loop: its future is resolved on that loop, in one callback
        for every message of the group that came from it (not a thread wake-up each)."""
        done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._enqueue(message, done)
        return done

    def _enqueue(self, message: Inbound, done: Waiter) -> None:
        self._waiting.put((message, done))
        if not self._leading.locked() and not self._called:  # else a leader will find it
            self._called = True
            _LEADERS.submit(self._lead)

    def _lead(self) -> None:
        self._called = False
        # re-checked after letting go: a message may have come just as the last group ended
        while not self._waiting.empty() and self._leading.acquire(blocking=False):
            try:
                self._write_waiting()
            finally:
                self._leading.release()

    def _write_waiting(self) -> None:
        while True:
            group: list[tuple[Inbound, Waiter]] = []
            try:
                while len(group) < GROUP_LIMIT:
                    group.append(self._waiting.get_nowait())
            except queue.Empty:
                pass
            if not group:
                return
            self._write(group)

    def _write(self, group: list[tuple[Inbound, Waiter]]) -> None:
        """Commit the group; if the database refuses it, each message alone, so one bad row
        fails only its own webhook, never the others committed with it."""
        try:
            ids = self._patiently([message for message, _ in group])
        except Exception as error:  # noqa: BLE001 - each caller gets the error to answer
            if len(group) > 1 and not unreachable(error):
                for item in group:
                    self._write([item])
                return
            _settle([(done, None, error) for _, done in group])
            return
        _settle([(done, inbox_id, None) for (_, done), inbox_id in zip(group, ids, strict=True)])

    def _patiently(self, messages: list[Inbound]) -> list[int | None]:
        """`ingest_many`, tried again while the database is unreachable, for as long as a
        provider waits for its answer: a restart or failover loses no message."""
        return patiently(lambda: ingest_many(self.database_url, self.redis, messages),
                         get_settings().ingest_patience_seconds, f"{len(messages)} messages")


Outcome = tuple[Waiter, int | None, BaseException | None]


def _settle(outcomes: list[Outcome]) -> None:
    """Resolve each waiter with its id or error: thread futures at once, event loops' futures
    in one call per loop."""
    on_loops: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        done = outcome[0]
        if isinstance(done, asyncio.Future):
            on_loops.setdefault(done.get_loop(), []).append(outcome)
        else:
            _resolve(outcome)
    for loop, theirs in on_loops.items():
        try:
            loop.call_soon_threadsafe(_resolve_all, theirs)
        except RuntimeError:  # that loop is closed: its server stopped, nobody is waiting
            log.warning("%s committed messages' requests were gone", len(theirs))


def _resolve_all(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        _resolve(outcome)


def _resolve(outcome: Outcome) -> None:
    done, inbox_id, error = outcome
    if done.cancelled():  # the client went away: its row is committed all the same
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(inbox_id)


_LEADERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="inbox-commit")


class Lanes:
    """Group commits side by side on PostgreSQL, so a server waits on a commit less often; a
    contact's messages always take the same lane, so they are committed in the order they came.
    SQLite has one write lock: one lane."""

    def __init__(self, database_url: str, redis: Redis) -> None:
        count = 1 if database_url.startswith("sqlite") else LANES
        self.lanes = [GroupCommitter(database_url, redis) for _ in range(count)]

    def _lane(self, message: Inbound) -> GroupCommitter:
        return self.lanes[hash((message.channel, message.address)) % len(self.lanes)]

    def submit(self, message: Inbound) -> Future[int | None]:
        return self._lane(message).submit(message)

    def submit_async(self, message: Inbound) -> asyncio.Future[int | None]:
        return self._lane(message).submit_async(message)


LANES = 2


@cache
def _committer(database_url: str, redis: Redis) -> Lanes:
    return Lanes(database_url, redis)
