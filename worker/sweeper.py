"""Run the sweeper every few seconds through rq's cron scheduler."""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from rq.cron import CronScheduler

from worker.jobs import sweep
from worker.queues import DEFAULT

log = logging.getLogger(__name__)


def cron_scheduler(redis: Redis, every_seconds: int) -> CronScheduler:
    scheduler = CronScheduler(connection=redis, name=f"heard-sweeper-{time.time_ns()}")
    scheduler.register(sweep, DEFAULT, interval=every_seconds, result_ttl=0,
                       job_timeout=300, name="sweep")
    return scheduler


def start_in_background(redis: Redis, every_seconds: int) -> threading.Thread:
    """The cron loop in a daemon thread (CronScheduler.start wants the main thread)."""
    scheduler = cron_scheduler(redis, every_seconds)

    def loop() -> None:
        while True:
            try:
                scheduler.enqueue_jobs()
            except Exception:  # Redis away: try again next tick, never die
                log.exception("sweeper could not enqueue; retrying")
            time.sleep(max(0.5, min(every_seconds, scheduler.calculate_sleep_interval())))

    thread = threading.Thread(target=loop, name="heard-sweeper", daemon=True)
    thread.start()
    return thread
