"""Inbound ingest and end-to-end rates, against the raw ceilings measured in the same run.

Ceilings: redis-benchmark RPUSH (or a redis-py RPUSH loop when the binary is absent); a plain
one-row-per-transaction INSERT loop into the same database (what one webhook's commit costs at
best), plus COPY for scale; rq's no-op job rate; and the HTTP ceiling, uvicorn + FastAPI with
the simulator's models and no I/O (bench/echo_app.py). heard: `ingest()` from 1 and from 32
concurrent callers (group commit), POST /api/v1/simulate through `heard serve`, both HTTP
figures driven by bench/http_load.py; and end to end (inbox row → engine → answers, state and
outbox committed → send jobs queued) with 1 and 2 worker processes.

Environment: BENCH_DATABASE_URL (default: database heard_bench on the local PostgreSQL),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/14), BENCH_MESSAGES (default 8000)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from redis import Redis
from sqlalchemy import create_engine, func, select, text

from bench import http_load
from surveys import catalog
from surveys.database import get_engine, migrate, session_scope
from surveys.messages import Inbound
from surveys.settings import normalize_database_url
from surveys.tables import STILL_TO_SEND, Base, InboxMessage, OutboxMessage
from surveys.validation import load_survey
from worker.ingest import ingest, ingest_many

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = normalize_database_url(os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/heard_bench"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "8000"))
CALLERS = 32  # concurrent webhook requests
HTTP_CONNECTIONS = 64
GOAL_WORKER_CPU = 150  # µs of worker CPU per message, handled and its reply sent (#24)
CONVERSATION = ["hi", "1", "2", "1", "yes", "1 3", "skip", "fine"]


def reset(redis: Redis, database_url: str | None = None) -> None:
    """Empty every table (and `redis`); then the example survey, registered again."""
    database_url = database_url or DATABASE_URL
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with get_engine(database_url).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    redis.flushdb()
    register_example(database_url)


def register_example(database_url: str) -> None:
    """The water-access example survey, which the conversations answer (a no-op if stored)."""
    with session_scope(database_url) as db:
        catalog.register(db, load_survey(ROOT / "surveys" / "examples" / "water-access.yaml"))


def redis_ceiling(redis: Redis) -> tuple[float, str]:
    binary = shutil.which("redis-benchmark")
    kwargs = redis.connection_pool.connection_kwargs
    if binary and "host" in kwargs:
        output = subprocess.run(
            [binary, "-h", kwargs["host"], "-p", str(kwargs["port"]), "-t", "rpush",
             "-n", "100000", "-c", "1", "-P", "1", "-q", "--csv"],
            capture_output=True, text=True, timeout=120).stdout
        rate = float(output.strip().splitlines()[-1].split(",")[1].strip('"'))
        return rate, "redis-benchmark RPUSH, 1 client, unpipelined"
    began = time.perf_counter()
    for _ in range(20000):
        redis.rpush("bench:ceiling", "x")
    redis.delete("bench:ceiling")
    return 20000 / (time.perf_counter() - began), "redis-py RPUSH loop, unpipelined"


def rq_ceiling(redis: Redis, jobs: int = 1000) -> float:
    """No-op jobs per second through one rq SimpleWorker: rq's own floor cost per job."""
    from rq import Queue, SimpleWorker

    queue = Queue("bench-noop", connection=redis)
    for _ in range(jobs):
        queue.enqueue("builtins.len", "x", result_ttl=0)
    began = time.perf_counter()
    SimpleWorker([queue], connection=redis).work(burst=True, logging_level="WARNING")
    return jobs / (time.perf_counter() - began)


def database_ceilings() -> tuple[float, float]:
    """(one-row INSERT + COMMIT per row, COPY or executemany) rows per second."""
    engine = get_engine(DATABASE_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_ceiling"))
        connection.execute(text("CREATE TABLE bench_ceiling (id SERIAL PRIMARY KEY, "
                                "channel TEXT, provider_id TEXT, address TEXT, body TEXT)"))
    count = 2000
    began = time.perf_counter()
    for number in range(count):
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO bench_ceiling (channel, provider_id, address, "
                                    "body) VALUES ('sms', :p, '+254700000000', 'hello')"),
                               {"p": str(number)})
    insert_rate = count / (time.perf_counter() - began)
    rows = 100_000
    raw = engine.raw_connection()
    began = time.perf_counter()
    cursor = raw.cursor()
    if engine.dialect.name == "postgresql":
        with cursor.copy("COPY bench_ceiling (channel, provider_id, address, body) FROM STDIN"
                         ) as copy:
            for number in range(rows):
                copy.write_row(("sms", str(number), "+254700000000", "hello"))
    else:
        cursor.executemany("INSERT INTO bench_ceiling (channel, provider_id, address, body) "
                           "VALUES ('sms', ?, '+254700000000', 'hello')",
                           [(str(number),) for number in range(rows)])
    raw.commit()
    copy_rate = rows / (time.perf_counter() - began)
    raw.close()
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE bench_ceiling"))
    return insert_rate, copy_rate


def messages(count: int, prefix: str) -> list[Inbound]:
    """`count` messages from count/len(CONVERSATION) contacts, each a whole conversation."""
    contacts = max(1, count // len(CONVERSATION))
    return [Inbound("simulator", f"{prefix}{contact}", CONVERSATION[turn % len(CONVERSATION)],
                    f"{prefix}{contact}-{turn}", payload={"survey": "water-access"})
            for turn in range(len(CONVERSATION)) for contact in range(contacts)][:count]


def ingest_rate(redis: Redis, count: int, callers: int) -> float:
    """`ingest()` from `callers` threads at once, as concurrent webhook requests call it."""
    batch = messages(count, f"i{callers}-")
    parts = [batch[index::callers] for index in range(callers)]

    def ingest_all(part: list[Inbound]) -> None:
        for message in part:
            ingest(DATABASE_URL, redis, message)

    began = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(ingest_all, parts))
    return len(batch) / (time.perf_counter() - began)


@contextmanager
def server(port: int, env: dict[str, str], app: str | None = None,  # type: ignore[no-untyped-def]
           processes: int = 1, workers: int | None = 0, log: Path | None = None):
    """heard serve (`workers` rq workers, none by default, None: as many as it chooses; no
    access log), or uvicorn serving `app`; its output written to `log`, else dropped."""
    command = ([sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level",
                "warning", "--no-access-log", "--workers", str(processes)] if app else
               [sys.executable, "-m", "heard", "serve", "--port", str(port), "--no-access-log",
                "--http-workers", str(processes),
                *(["--workers", str(workers)] if workers is not None else [])])
    output = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs")
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)
        if log:
            output.close()  # type: ignore[union-attr]


TWILIO_TOKEN = "bench-auth-token"  # the server under test checks signatures with it


def twilio_ingest_rate(port: int, count: int) -> float:
    """Signed Twilio SMS webhooks (form, X-Twilio-Signature) through `heard serve`."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TWILIO_TOKEN)
    url = f"http://127.0.0.1:{port}/sms/twilio"
    requests = []
    for number, message in enumerate(messages(count, "t")):
        form = {"MessageSid": f"SM{number:032x}", "AccountSid": "AC" + "0" * 32,
                "From": f"+2547{number % 10_000_000:08d}", "To": "+15005550006",
                "Body": message.text, "NumMedia": "0"}
        signature = validator.compute_signature(url, form)
        requests.append(http_load.post_form("/sms/twilio", form,
                                            {"X-Twilio-Signature": signature}))
    http_load.run("127.0.0.1", port, requests[:200], HTTP_CONNECTIONS)  # warm up
    return http_load.run("127.0.0.1", port, requests[200:], HTTP_CONNECTIONS)


def http_ingest_rate(port: int, count: int, prefix: str) -> float:
    requests = [http_load.post_json("/api/v1/simulate",
                                    {"survey": "water-access", "address": m.address,
                                     "text": m.text, "id": m.provider_id})
                for m in messages(count, prefix)]
    http_load.run("127.0.0.1", port, requests[:200], HTTP_CONNECTIONS)  # warm up
    return http_load.run("127.0.0.1", port, requests[200:], HTTP_CONNECTIONS)


def end_to_end_rate(redis: Redis, env: dict[str, str], workers: int, count: int,
                    database_url: str | None = None,
                    prefix: str | None = None) -> tuple[float, float, float]:
    """(messages per second, worker CPU µs per message, PostgreSQL CPU µs per message), from
    the inbox rows' arrival to their replies sent (the simulator's sender: no provider).

    With a `database_url` (the workers' DATABASE_URL in `env` must be the same) the database
    is used as it is, not emptied first: bench/growth.py measures it full of history."""
    if database_url is None:
        database_url = DATABASE_URL
        reset(redis)
    batch = messages(count, prefix or f"e{workers}-")
    for start in range(0, len(batch), 500):
        ingest_many(database_url, redis, batch[start:start + 500])
    postgres_before = cpu_seconds("postgres")
    began = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "heard", "worker", "--burst"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(workers)]
    while True:  # every message handled and every reply sent: the whole of a worker's work
        stopped = all(process.poll() is not None for process in processes)
        with session_scope(database_url) as db:
            left = db.scalar(select(func.count()).select_from(InboxMessage)
                             .where(InboxMessage.processed_at.is_(None)))
            left = left or db.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.status.in_(STILL_TO_SEND)))
        if not left:
            break
        if stopped:
            raise RuntimeError(f"the burst workers stopped with {left} messages unprocessed: "
                               "their drain jobs went (another program flushed Redis?)")
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    worker_cpu = sum(cpu_seconds(pid=process.pid) for process in processes)
    postgres_cpu = cpu_seconds("postgres") - postgres_before
    for process in processes:
        process.terminate()
        process.wait(timeout=30)
    return count / elapsed, worker_cpu / count * 1e6, postgres_cpu / count * 1e6


def cpu_seconds(command: str | None = None, pid: int | None = None) -> float:
    """CPU time (user + system) of process `pid`, or of every process named `command` (Linux
    /proc; 0 elsewhere, or when the database runs on another machine)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for stat in ([Path(f"/proc/{pid}/stat")] if pid else Path("/proc").glob("[0-9]*/stat")):
        try:
            name, _, rest = stat.read_text().partition(") ")
        except OSError:
            continue
        if command is None or name.split("(", 1)[-1] == command:
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def worker_startup(env: dict[str, str]) -> float:
    """A burst worker over empty queues: the fixed time inside each end-to-end figure."""
    return worker_startup_costs(env)[0]


def worker_startup_costs(env: dict[str, str]) -> tuple[float, float]:
    """A burst worker over empty queues: its time and its CPU time (importing, connecting),
    in seconds, the fixed costs inside each end-to-end figure."""
    began, used = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-m", "heard", "worker", "--burst"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began, _children_cpu() - used


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def create_database(database_url: str | None = None) -> None:
    """The benchmark's own database (never the tests'), created on first use."""
    database_url = database_url or DATABASE_URL
    if not database_url.startswith("postgresql"):
        return
    base, name = database_url.rsplit("/", 1)
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                    {"n": name.split("?")[0]}).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name.split("?")[0]}"'))
    admin.dispose()


def main() -> None:
    create_database()
    migrate(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
                        "HEARD_DATA_DIR": str(ROOT / "data" / "bench"),
                        "HEARD_SIMULATOR": "open"}  # the load drives the simulator API
    database = DATABASE_URL.split("+")[0].split(":")[0]
    print(f"pipeline benchmark on {database} + Redis, {MESSAGES} messages")
    redis_rate, redis_how = redis_ceiling(redis)
    insert_rate, copy_rate = database_ceilings()
    job_rate = rq_ceiling(redis)
    print(f"  ceiling Redis: {redis_rate:,.0f} ops/s ({redis_how})")
    print(f"  ceiling rq: {job_rate:,.0f} no-op jobs/s through one SimpleWorker")
    print(f"  ceiling DB: {insert_rate:,.0f} rows/s one-row INSERT+COMMIT; "
          f"{copy_rate:,.0f} rows/s bulk ({'COPY' if database == 'postgresql' else 'executemany'})")
    reset(redis)
    single = ingest_rate(redis, MESSAGES // 4, 1)
    print(f"  ingest(), 1 caller (one INSERT+COMMIT each): {single:,.0f} msg/s = "
          f"{single / insert_rate:.0%} of one-row INSERT+COMMIT")
    rate = ingest_rate(redis, MESSAGES, CALLERS)
    print(f"  ingest(), {CALLERS} concurrent callers (group commit): {rate:,.0f} msg/s = "
          f"{rate / insert_rate:.1f}× one-row INSERT+COMMIT, {rate / copy_rate:.1%} of COPY, "
          f"{rate / redis_rate:.0%} of RPUSH")
    with server(8798, env, "bench.echo_app:app") as port:
        ceiling = http_ingest_rate(port, MESSAGES, "c")
    print(f"  ceiling HTTP: {ceiling:,.0f} req/s (uvicorn + FastAPI, the same models, no I/O; "
          f"{HTTP_CONNECTIONS} keep-alive connections from bench/http_load.py on the same cores)")
    reset(redis)
    with server(8799, env) as port:
        rate = http_ingest_rate(port, MESSAGES, "h")
    print(f"  HTTP ingest (POST /api/v1/simulate): {rate:,.0f} req/s = {rate / ceiling:.0%} "
          f"of the HTTP ceiling, {rate / insert_rate:.1f}× one-row INSERT+COMMIT")
    reset(redis)
    signed = env | {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "PUBLIC_BASE_URL": "http://127.0.0.1:8797"}
    with server(8797, signed) as port:
        rate = twilio_ingest_rate(port, MESSAGES)
    print(f"  HTTP ingest (POST /sms/twilio, signed form): {rate:,.0f} req/s = "
          f"{rate / ceiling:.0%} of the HTTP ceiling")
    reset(redis)
    startup, startup_cpu = worker_startup_costs(env)
    for workers in (1, 2):
        rate, worker_cpu, postgres_cpu = end_to_end_rate(redis, env, workers, MESSAGES)
        worker_cpu -= workers * startup_cpu / MESSAGES * 1e6  # each worker's start, once
        steady = MESSAGES / max(MESSAGES / rate - startup, 1e-9)
        print(f"  end to end, {workers} worker(s): {rate:,.0f} msg/s "
              f"({rate / workers:,.0f} per worker; includes {startup:.1f}s worker start-up; "
              f"{steady / workers:,.0f} per worker without it) = "
              f"{rate / insert_rate:.0%} of one-row INSERT+COMMIT, "
              f"{rate / workers / job_rate:.1f}× rq's no-op job rate (drains batch messages); "
              f"CPU per message: workers {worker_cpu:,.0f} µs (goal ≤ {GOAL_WORKER_CPU:.0f} µs: "
              f"{'met' if worker_cpu <= GOAL_WORKER_CPU else 'NOT met'}, "
              f"{worker_cpu / GOAL_WORKER_CPU:.1f}× it; start-up's {startup_cpu:.1f} s left "
              f"out), "
              f"PostgreSQL {postgres_cpu:,.0f} µs")
    reset(redis)


if __name__ == "__main__":
    main()
