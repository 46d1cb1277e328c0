"""What rq's queues and workers are doing, for the console's queue page, and failed jobs put
back on their queues: an admin sees a backlog or a stuck worker without a tool of rq's own.

Nothing here holds personal data: jobs are named by their function, never their arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from worker.queues import QUEUE_NAMES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueState:
    name: str
    waiting: int  # queued, ready for a worker
    running: int
    scheduled: int  # held until their time (a paced launch's, retries' backoff)
    failed: int  # in the failed job registry: out of retries, or crashed
    oldest: timedelta | None  # how long the job at the head of the queue has waited


@dataclass(frozen=True)
class WorkerState:
    name: str
    state: str  # rq's: idle, busy, suspended, ...
    queues: list[str]
    job: str | None  # the function it runs now


def queue_states(redis: Redis, now: datetime | None = None) -> list[QueueState]:
    """Each of heard's queues: its depth, running, scheduled and failed jobs, oldest wait."""
    now = now or datetime.now(UTC)
    found = []
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=redis)
        found.append(QueueState(
            name, queue.count, queue.started_job_registry.count,
            queue.scheduled_job_registry.count, queue.failed_job_registry.count,
            _oldest(queue, now)))
    return found


def _oldest(queue: Queue, now: datetime) -> timedelta | None:
    for job_id in queue.get_job_ids(0, 1):
        job = Job.fetch(job_id, connection=queue.connection) if Job.exists(
            job_id, connection=queue.connection) else None
        if job is not None and job.enqueued_at is not None:
            return max(now - job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or UTC),
                       timedelta(0))
    return None


def worker_states(redis: Redis) -> list[WorkerState]:
    """The workers registered in Redis (each heartbeats; a dead one drops out), by name."""
    found = []
    for worker in Worker.all(connection=redis):
        job = worker.get_current_job()
        found.append(WorkerState(worker.name, str(worker.get_state()), worker.queue_names(),
                                 job.func_name if job is not None else None))
    return sorted(found, key=lambda worker: worker.name)


def requeue_failed(redis: Redis) -> int:
    """Every failed job back on its queue, to run again; how many. A job whose data has
    expired meanwhile is dropped from the registry (there is nothing left to run)."""
    requeued = 0
    for name in QUEUE_NAMES:
        registry = Queue(name, connection=redis).failed_job_registry
        for job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
                requeued += 1
            except (NoSuchJobError, InvalidJobOperation):
                registry.remove(job_id)
    log.info("requeued %d failed jobs", requeued)
    return requeued
