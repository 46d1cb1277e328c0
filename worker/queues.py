"""The three rq queues and how work is put on them."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, RateLimit, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

log = logging.getLogger(__name__)

INBOUND, OUTBOUND, DEFAULT = "inbound", "outbound", "default"
QUEUE_NAMES = (INBOUND, OUTBOUND, DEFAULT)
SEND_RETRY = Retry(max=6, interval=[2, 10, 30, 120, 600, 1800])


def contact_key(channel: str, address: str) -> str:
    """A rate-limit key per contact that keeps phone numbers and chat ids out of Redis."""
    digest = hashlib.blake2b(f"{channel}:{address}".encode(), digest_size=12).hexdigest()
    return f"heard:contact:{digest}"


DRAIN_FLAG = "heard:drain:requested"


def request_drain(redis: Redis) -> bool:
    """Queue one `drain_inbox` job for a burst of messages, not one job per message.

    The flag lives until a worker starts draining (or 30 s), so a webhook costs one SET NX;
    whatever arrives while a drain runs queues the next drain, which another worker can take.
    False (logged) when Redis is unreachable: the rows wait in the inbox for the sweeper.
    """
    try:
        if redis.set(DRAIN_FLAG, "1", nx=True, ex=30):
            Queue(INBOUND, connection=redis).enqueue("worker.jobs.drain_inbox", job_timeout=600,
                                                     result_ttl=0)
    except RedisError as error:
        log.warning("inbox rows stored but no drain queued (%s); the sweeper will", error)
        return False
    return True


def enqueue_outbound(redis: Redis, outbox_ids: list[int],
                     contact: tuple[str, str] | None = None, *,
                     at: datetime | None = None) -> bool:
    """Queue one job that sends `outbox_ids` in order (a step's replies stay in order).

    With `contact` (channel, address), a contact's send jobs also run one at a time, so the
    replies to consecutive messages cannot overtake each other across workers. With `at`, the
    job waits in rq's scheduled registry until then (a worker's scheduler queues it).
    """
    if not outbox_ids:
        return True
    rate_limit = RateLimit("out:" + contact_key(*contact), 1) if contact else None
    arguments = {"retry": SEND_RETRY, "job_timeout": 300, "result_ttl": 0,
                 "rate_limit": rate_limit}
    try:
        queue = Queue(OUTBOUND, connection=redis)
        if at is not None and at > datetime.now(UTC):
            queue.enqueue_at(at, "worker.jobs.send_outbound_batch", list(outbox_ids),
                             **arguments)
        else:
            queue.enqueue("worker.jobs.send_outbound_batch", list(outbox_ids), **arguments)
    except RedisError as error:
        log.warning("outbox %s stored but not queued (%s); the sweeper will queue them",
                    outbox_ids, error)
        return False
    return True


def enqueue_launch(redis: Redis, round_id: int, over: timedelta | None = None) -> None:
    """Queue a round's launch (the API's and the console's): its invitations are written by a
    worker, spread over `over` when given."""
    Queue(DEFAULT, connection=redis).enqueue(
        "worker.jobs.launch_round", round_id, over.total_seconds() if over else None,
        job_timeout=3600, result_ttl=86400)


def enqueue_contact_import(redis: Redis, import_id: str) -> None:
    """Queue a console upload's import: a worker writes it a chunk at a time, so a file of
    100,000 rows holds no web request."""
    Queue(DEFAULT, connection=redis).enqueue("worker.jobs.import_contacts", import_id,
                                             job_timeout=3600, result_ttl=0)


FETCH_RETRY = Retry(max=6, interval=[5, 30, 120, 600, 1800, 3600])  # then the sweeper's turn
LIVE = frozenset({"queued", "started", "scheduled", "deferred"})


def recording_job_id(recording_id: str) -> str:
    return f"heard-recording-{recording_id}"


def enqueue_recording_fetch(redis: Redis, recording_id: str) -> bool:
    """Queue the job that fetches a recording from the provider and deletes it there (one job
    per recording: one already queued or retrying is left alone). False (logged) when Redis is
    unreachable: the sweeper queues it later."""
    return _enqueue_once(redis, recording_job_id(recording_id), "worker.jobs.fetch_recording",
                         recording_id)


def enqueue_airtime(redis: Redis, reward_ids: list[int]) -> bool:
    """Queue the job sending each airtime top-up (one job per top-up, as for recordings);
    False (logged) when Redis is unreachable: the sweeper queues them later."""
    return all([_enqueue_once(redis, f"heard-airtime-{reward_id}", "worker.jobs.send_airtime",
                              reward_id) for reward_id in reward_ids])


def _enqueue_once(redis: Redis, job_id: str, function: str, argument: object) -> bool:
    """Queue `function(argument)` as job `job_id`, retried, unless that job is queued or
    retrying already."""
    try:
        if Job.exists(job_id, connection=redis) and Job.fetch(
                job_id, connection=redis).get_status(refresh=False) in LIVE:
            return True
        Queue(DEFAULT, connection=redis).enqueue(
            function, argument, job_id=job_id, retry=FETCH_RETRY, job_timeout=300,
            result_ttl=0)
    except NoSuchJobError:  # gone between the two reads: finished meanwhile
        return True
    except RedisError as error:
        log.warning("%s kept but not queued (%s); the sweeper will", job_id, error)
        return False
    return True
