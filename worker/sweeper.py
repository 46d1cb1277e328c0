"""Run the sweeper every few seconds, and the retention purge hourly, through rq's cron."""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from rq.cron import CronScheduler

from surveys.audit import SWEEPER
from surveys.retention import Purged, purge, purge_simulator
from surveys.settings import SettingError, get_settings
from worker.jobs import keep_round_schedules, sweep
from worker.queues import DEFAULT, INBOUND
from worker.runtime import migrated_runtime

log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600


def cron_scheduler(redis: Redis, every_seconds: int) -> CronScheduler:
    scheduler = CronScheduler(connection=redis, name=f"heard-sweeper-{time.time_ns()}")
    # first in every worker's line: recovery (and a round's opening) must not wait behind a
    # backlog of sends
    scheduler.register(sweep, INBOUND, interval=every_seconds, result_ttl=0,
                       job_timeout=300, name="sweep")
    scheduler.register(keep_round_schedules, INBOUND, interval=every_seconds, result_ttl=0,
                       job_timeout=300, name="round schedules")
    scheduler.register(purge_expired, DEFAULT, interval=PURGE_EVERY_SECONDS, result_ttl=0,
                       job_timeout=PURGE_EVERY_SECONDS, name="purge")
    return scheduler


def purge_expired() -> Purged | None:
    """The scheduled purge: simulated conversations a day old, always; messages past
    HEARD_RETENTION_DAYS when it is set (a bad value is logged, each hour until fixed,
    instead of failing the job with a traceback)."""
    simulated = purge_simulator(migrated_runtime().database_url)
    if simulated:
        log.info("retention purge: %s simulated contacts deleted", simulated)
    try:
        days = get_settings().retention_days()
    except SettingError as error:
        log.error("retention purge skipped: %s", error)
        return None
    if not days:
        return None
    report = purge(migrated_runtime().database_url, days, SWEEPER)
    if report.messages:
        log.info("retention purge: %s", report.summary())
    return report


def run_schedule(redis: Redis, every_seconds: int) -> None:
    """The cron loop, for ever: a Redis or database outage is logged and waited out, never
    the end of the process (nothing would restart it, and recovery would stop)."""
    scheduler = cron_scheduler(redis, every_seconds)
    while True:
        try:
            scheduler.enqueue_jobs()
            pause = scheduler.calculate_sleep_interval()
        except Exception as error:  # noqa: BLE001 - Redis away: try again next tick
            log.warning("sweeper could not enqueue (%s); retrying", error)
            pause = every_seconds
        time.sleep(max(0.5, min(every_seconds, pause)))


def start_in_background(redis: Redis, every_seconds: int) -> threading.Thread:
    """The cron loop in a daemon thread, beside a web server or a worker."""
    thread = threading.Thread(target=run_schedule, args=(redis, every_seconds),
                              name="heard-sweeper", daemon=True)
    thread.start()
    return thread
