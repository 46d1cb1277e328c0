"""What /metrics shows: is a round healthy, is anything stuck, is a provider refusing.

Three sources, each chosen so several web processes and any number of workers on any machines
show one truth whichever web process is scraped:

- the database and Redis, read at scrape time (`HeardCollector`) with cheap queries: the inbox
  backlog (the `ix_inbox_pending` index), outbox rows still to send (`ix_outbox_pending`),
  outbox rows and inbox rows set aside over the last hour (index ranges), rq's queues;
- counters workers keep in Redis (`worker.metrics`): provider errors, send slots per limit;
- request latency, the only figure kept in a web process's memory: with `--http-workers N`
  each process writes it to prometheus_client's multiprocess files (PROMETHEUS_MULTIPROC_DIR,
  which `heard serve` makes when it is unset) and the scrape adds them up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from surveys.actions import STATUS_RANK
from surveys.database import session_scope
from surveys.tables import STILL_TO_SEND, InboxMessage, OutboxMessage, utcnow
from worker.metrics import provider_errors, send_slots
from worker.queues import QUEUE_NAMES
from worker.runtime import Runtime

RECENT = timedelta(hours=1)  # the window of the outbox's and failed inbox rows' figures
# every status an outbox row takes: listed, so the count is an index range per status
OUTBOX_STATUSES = sorted({*STILL_TO_SEND, *STATUS_RANK, "suppressed"})
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_SECONDS = Histogram(
    "heard_http_request_duration_seconds", "Time to answer a request, by route template.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


class HeardCollector:
    """The figures read from the database and Redis at each scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        yield from self._database()
        yield from self._redis(self.runtime.redis)

    def _database(self) -> Iterator[Metric]:
        now = utcnow()
        with session_scope(self.runtime.database_url) as db:
            backlog, oldest = db.execute(
                select(func.count(), func.min(InboxMessage.received_at))
                .where(InboxMessage.processed_at.is_(None))).one()
            failed = db.scalar(select(func.count()).where(
                InboxMessage.processed_at >= now - RECENT, InboxMessage.outcome == "failed"))
            recent = db.execute(
                select(OutboxMessage.channel, OutboxMessage.status, func.count())
                .where(OutboxMessage.status.in_(OUTBOX_STATUSES),
                       OutboxMessage.created_at >= now - RECENT)
                .group_by(OutboxMessage.channel, OutboxMessage.status)).all()
            unsent = db.execute(
                select(OutboxMessage.channel, OutboxMessage.status, func.count(),
                       func.min(OutboxMessage.created_at))
                .where(OutboxMessage.status.in_(STILL_TO_SEND))
                .group_by(OutboxMessage.channel, OutboxMessage.status)).all()
        yield GaugeMetricFamily("heard_inbox_backlog",
                                "Inbox rows received and not processed yet.", value=backlog)
        yield GaugeMetricFamily(
            "heard_inbox_backlog_oldest_seconds",
            "Age of the oldest unprocessed inbox row (0: none).",
            value=(now - oldest).total_seconds() if oldest is not None else 0)
        yield GaugeMetricFamily(
            "heard_inbox_failed_last_hour",
            "Inbox rows set aside as failed (failed twice) in the last hour.", value=failed)
        by_status = GaugeMetricFamily(
            "heard_outbox_last_hour", "Outbox rows written in the last hour, by channel and "
            "status now.", labels=["channel", "status"])
        for channel, status, count in recent:
            by_status.add_metric([channel, status], count)
        yield by_status
        still = GaugeMetricFamily("heard_outbox_unsent", "Outbox rows still to send (any age), "
                                  "by channel and status.", labels=["channel", "status"])
        oldest_unsent = GaugeMetricFamily(
            "heard_outbox_unsent_oldest_seconds", "Age of the oldest outbox row still to send, "
            "by channel (held for quiet hours or a launch spread over hours included).",
            labels=["channel"])
        ages: dict[str, float] = {}
        for channel, status, count, created in unsent:
            still.add_metric([channel, status], count)
            ages[channel] = max(ages.get(channel, 0.0), (now - created).total_seconds())
        for channel, age in ages.items():
            oldest_unsent.add_metric([channel], age)
        yield still
        yield oldest_unsent

    def _redis(self, redis: Redis) -> Iterator[Metric]:
        errors = CounterMetricFamily(
            "heard_provider_errors", "Sends a provider refused or failed, by channel and the "
            "provider's error code (a Redis counter: reset when Redis loses its data).",
            labels=["channel", "code"])
        for (channel, code), count in sorted(provider_errors(redis).items()):
            errors.add_metric([channel, code], count)
        yield errors
        slots = CounterMetricFamily(
            "heard_send_slots", "Send slots taken (one a provider call) by every worker, "
            "per rate limit.", labels=["limit"])
        limits = GaugeMetricFamily("heard_send_limit_per_second",
                                   "The rate each limit allows, a second.", labels=["limit"])
        for limit, (count, rate) in sorted(send_slots(redis).items()):
            slots.add_metric([limit], count)
            limits.add_metric([limit], rate)
        yield slots
        yield limits
        depth = GaugeMetricFamily("heard_rq_queue_jobs", "Jobs waiting in each rq queue.",
                                  labels=["queue"])
        failed = GaugeMetricFamily("heard_rq_failed_jobs",
                                   "Jobs in each rq queue's failed registry.", labels=["queue"])
        for name in QUEUE_NAMES:
            queue = Queue(name, connection=redis)
            depth.add_metric([name], queue.count)
            failed.add_metric([name], FailedJobRegistry(queue=queue).count)
        yield depth
        yield failed


def exposition(runtime: Runtime) -> bytes:
    """The text a scrape gets: this deployment's figures, and request latency of every web
    process on this machine (multiprocess files) or of this one."""
    process = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROCESS):
        MultiProcessCollector(process)
    else:
        process.register(REQUEST_SECONDS)
    deployment = CollectorRegistry(auto_describe=False)
    deployment.register(HeardCollector(runtime))
    return generate_latest(process) + generate_latest(deployment)


class RequestTimer:
    """Each request's time into REQUEST_SECONDS, labelled by its route's template
    (`/api/v1/rounds/{round_id}`), never the raw path: ids and tokens stay out of labels."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            REQUEST_SECONDS.labels(scope.get("method", ""), route_of(scope), str(status)
                                   ).observe(time.perf_counter() - began)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (FastAPI leaves it in the scope), else the
    mount it fell under (/vendor), else `unmatched`."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return str(route.path)
    root = scope.get("root_path", "")
    return root if root else "unmatched"
