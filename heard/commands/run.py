"""`heard serve`, `heard worker`, `heard cron`, `heard db upgrade`: running the system."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from redis.exceptions import RedisError

from surveys import catalog
from surveys.database import migrate, patiently, session_scope
from surveys.settings import get_settings
from worker.connection import stop_embedded, url_of
from worker.runtime import Runtime, migrated_runtime

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's multiprocess mode (heard.metrics)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _logging() -> None:
    from heard.logs import configure

    configure()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (also done on every start)."""
    _logging()
    url = get_settings().resolved_database_url()
    migrate(url)
    typer.echo(f"database up to date: {url.split('@')[-1]}")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    surveys: Path | None = typer.Option(
        None, help="Folder of survey YAML files to load (default: the bundled examples)."),
    workers: int | None = typer.Option(
        None, help="Worker processes to run alongside (default: 1 without REDIS_URL, else 0)."),
    http_workers: int = typer.Option(
        1, min=1, help="Web server processes (one per core serves the most webhooks)."),
    access_log: bool = typer.Option(True, help="Log every request (path and status)."),
) -> None:
    """The web app (webhooks, API, /simulator, /docs, /healthz); one command is the whole system."""
    import uvicorn

    from heard.app import create_app
    from heard.logs import log_config
    from worker.sweeper import start_in_background

    _logging()
    settings = get_settings()
    # SIGTERM, during start-up or after uvicorn's shutdown (it re-raises the signal), becomes
    # SystemExit: `finally` below then stops the workers and the embedded Redis instead of the
    # process just ending and leaving them running
    signal.signal(signal.SIGTERM, _exit_on_signal)
    children: list[subprocess.Popen[bytes]] = []
    made: str | None = None  # a temporary folder of request metrics, removed at the end
    try:
        current = _runtime_once_reachable()
        folder = surveys or settings.surveys_dir or catalog.EXAMPLES
        with session_scope(current.database_url) as db:
            loaded = catalog.register_folder(db, folder)
            typer.echo(f"surveys from {folder}: "
                       f"{', '.join(row.survey_id for row in loaded) or 'none'}")
        count = workers if workers is not None else (0 if settings.redis_url else 1)
        env = os.environ | {"DATABASE_URL": current.database_url,
                            "REDIS_URL": url_of(current.redis)}
        children += [subprocess.Popen([sys.executable, "-m", "heard", "worker"], env=env)
                     for _ in range(count)]
        if count:
            start_in_background(current.redis, max(5, settings.sweep_after_seconds // 2))
        options: dict[str, Any] = {"host": host, "port": port, "log_level": "info",
                                   "access_log": access_log, "log_config": log_config()}
        if http_workers > 1 or os.environ.get(MULTIPROCESS):
            env[MULTIPROCESS] = _metrics_folder()
            made = None if os.environ.get(MULTIPROCESS) else env[MULTIPROCESS]
        if http_workers > 1:  # each process builds its app from the same settings
            os.environ.update(env)
            uvicorn.run("heard.app:app_from_settings", factory=True, workers=http_workers,
                        **options)
        else:
            uvicorn.run(create_app(current), **options)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)
        if not settings.redis_url:  # the embedded redis-server is this process's: stop it
            stop_embedded(settings.data_dir)
        if made:
            shutil.rmtree(made, ignore_errors=True)


def _metrics_folder() -> str:
    """Where `--http-workers N` processes keep their request metrics for /metrics to add up
    (prometheus_client's multiprocess mode): PROMETHEUS_MULTIPROC_DIR emptied, else a new
    temporary folder; a previous run's files would be counted again."""
    given = os.environ.get(MULTIPROCESS)
    if not given:
        return tempfile.mkdtemp(prefix="heard-metrics-")
    folder = Path(given)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return str(folder)


def _runtime_once_reachable() -> Runtime:
    """The runtime, its schema migrated, waiting for a database that is away (a process
    started during a restart would otherwise exit, and nothing would start it again)."""
    return patiently(migrated_runtime, float("inf"), "start-up until the database is back")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


MAX_REDIS_PAUSE = 2.0  # seconds between a worker's tries while Redis is away: it works again
# within this of Redis coming back


def worker(
    burst: bool = typer.Option(False, help="Stop when the queues are empty."),
    sweep: bool = typer.Option(False, help="Also run the sweeper schedule in this process."),
) -> None:
    """An rq worker for the inbound, outbound and default queues (run as many as you like)."""
    from rq import Queue, SimpleWorker

    from worker.queues import QUEUE_NAMES
    from worker.sweeper import start_in_background

    _logging()
    current = _runtime_once_reachable()
    if sweep:
        start_in_background(current.redis, max(5, get_settings().sweep_after_seconds // 2))
    pause = 0.5
    while True:
        queues = [Queue(name, connection=current.redis) for name in QUEUE_NAMES]
        # SimpleWorker runs jobs in this process: no fork per message. A killed worker loses
        # no message: the inbox row stays unprocessed until a job commits it, and the sweeper
        # re-queues it.
        began = time.monotonic()
        try:
            SimpleWorker(queues, connection=current.redis).work(
                burst=burst, with_scheduler=True, logging_level="WARNING")
            return
        except RedisError as error:  # Redis restarting: wait it out, then work on
            if time.monotonic() - began > MAX_REDIS_PAUSE:  # it had been working: a new outage
                pause = 0.5
            logging.getLogger("heard.worker").warning(
                "Redis unreachable (%s); working again in %.1f s", error, pause)
            time.sleep(pause)
            pause = min(pause * 2, MAX_REDIS_PAUSE)


def cron() -> None:
    """rq's cron scheduler with heard's sweeper (run one per deployment); rides out outages."""
    from worker.sweeper import run_schedule

    _logging()
    current = _runtime_once_reachable()
    run_schedule(current.redis, max(5, get_settings().sweep_after_seconds // 2))
