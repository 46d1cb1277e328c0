"""The production layout as separate processes on PostgreSQL and Redis (issue #23): migrations
first, a web server of two HTTP processes (`heard serve --workers 0 --http-workers 2`), two
`heard worker`s and one `heard cron`. A round runs through signed Twilio webhooks against the
local Twilio fake; /metrics is checked against the database, and one message is followed
through the JSON logs from its webhook to the provider's delivery report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from surveys.database import get_engine, session_scope
from surveys.tables import (
    STILL_TO_SEND,
    Contact,
    InboxMessage,
    OutboxMessage,
    Round,
    SurveySession,
)
from tests.conftest import EXAMPLES, postgres_schema
from tests.fakes.twilio_api import FakeTwilio, fake_twilio
from tests.test_faults import wait_for
from tests.test_observability import METRICS_TOKEN, samples
from tests.test_serve import children_of, free_port, serving
from tests.test_sms import FROM, PUBLIC, TOKEN

AMINA = "+254712345678"
REFUSED = "+254733000111"  # Twilio answers 21211 for this one
# consent, gender, age group, water source, daily, problems, comment: water-access's questions
ANSWERS = ["1", "1", "2", "1", "yes", "1 3", "skip"]
CLOSING = "Thank you!"
LAYOUT = ("migrate", "web", "worker-1", "worker-2", "cron")


@pytest.fixture
def layout_env(tmp_path: Path, redis_server_url: str, redis) -> Iterator[dict[str, Any]]:
    """An empty PostgreSQL schema, a flushed Redis database and Twilio's fake, as the
    environment every process of the layout gets."""
    with postgres_schema("heard_production") as database_url, fake_twilio() as twilio:
        env = os.environ | {
            "DATABASE_URL": database_url, "REDIS_URL": redis_server_url,
            "HEARD_DATA_DIR": str(tmp_path / "data"), "HEARD_LOG_FORMAT": "json",
            "HEARD_METRICS_TOKEN": METRICS_TOKEN, "HEARD_SWEEP_AFTER_SECONDS": "2",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM": FROM, "TWILIO_API_BASE_URL": twilio.url, "PUBLIC_BASE_URL": PUBLIC,
            "HEARD_SMS_PER_SECOND": "1000", "HEARD_DEFAULT_REGION": "KE"}
        for name in ("HEARD_SURVEYS_DIR", "HEARD_SIMULATOR"):
            env.pop(name, None)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")  # as heard-web.service
        yield {"env": env, "twilio": twilio, "database_url": database_url, "logs": tmp_path}
        get_engine(database_url).dispose()


class Layout:
    """The layout's processes, each logging to its own files; all stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.err").open("wb") as err, \
                (self.logs / f"{name}.out").open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "heard", *args], env=self.env,
                                       stdout=out, stderr=err, start_new_session=True)
        self.processes[name] = process
        return process

    def run(self, name: str, *args: str) -> str:
        """A command run to its end (a migration, an import, a launch): its output."""
        process = self.start(name, *args)
        assert process.wait(timeout=120) == 0, (self.logs / f"{name}.err").read_text()
        return (self.logs / f"{name}.out").read_text()

    def stop(self) -> None:
        for process in self.processes.values():
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log_lines(self, *names: str) -> list[str]:
        """Every line these processes (default: all, the commands run too) logged on stderr."""
        paths = [self.logs / f"{name}.err" for name in names] or sorted(self.logs.glob("*.err"))
        return [line for path in paths for line in path.read_text(encoding="utf-8").splitlines()]


def signed(client: httpx.Client, path: str, form: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def one(database_url: str, statement: Any) -> Any:
    with session_scope(database_url) as db:
        return db.scalar(statement)


def test_a_round_on_the_production_layout(layout_env: dict[str, Any]):
    env, twilio, url = layout_env["env"], layout_env["twilio"], layout_env["database_url"]
    assert url.startswith("postgresql")
    layout = Layout(env, layout_env["logs"])
    try:
        run_round(layout, twilio, url)
    finally:
        layout.stop()
    follow_one_message(layout.log_lines(*LAYOUT), twilio)
    no_number_or_text(layout.log_lines(), twilio)


def run_round(layout: Layout, twilio: FakeTwilio, url: str) -> None:
    assert "database up to date" in layout.run("migrate", "db", "upgrade")
    port = free_port()
    web = layout.start("web", "serve", "--host", "127.0.0.1", "--port", str(port),
                       "--workers", "0", "--http-workers", "2")
    for number in (1, 2):
        layout.start(f"worker-{number}", "worker")
    layout.start("cron", "cron")
    base = serving(port)
    assert len(children_of(web.pid)) >= 2  # uvicorn's two HTTP processes

    people = layout.logs / "people.csv"
    people.write_text(f"phone,language,community,consent\n{AMINA},en,kibera,yes\n"
                      f"{REFUSED},en,kibera,yes\n")
    twilio.fail(REFUSED, 400, 21211, "The 'To' number is not a valid phone number.")
    layout.run("import", "contacts", "import", str(people))
    layout.run("create", "round", "create", "--survey", str(EXAMPLES / "water-access.yaml"),
               "--community", "kibera")
    round_id = one(url, select(func.max(Round.id)))
    layout.run("launch", "round", "launch", str(round_id))

    inbound = statuses = 0
    # a connection per request, so both HTTP processes take some
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, timeout=30, limits=fresh) as client:
        wait_for(lambda: len(twilio.by_to.get(AMINA, ())) >= 2, what="the invitation")
        for step, answer in enumerate(ANSWERS):
            seen = len(twilio.by_to[AMINA])
            form = {"MessageSid": f"SMprod{step:02d}", "AccountSid": "AC" + "0" * 32,
                    "From": AMINA, "To": FROM, "Body": answer, "NumMedia": "0"}
            assert signed(client, "/sms/twilio", form).status_code == 200
            inbound += 1
            wait_for(lambda seen=seen: len(twilio.by_to[AMINA]) > seen,
                     what=f"the reply to answer {step}")
        wait_for(lambda: any(CLOSING in body for body in twilio.bodies_to(AMINA)),
                 what="the closing message")
        wait_for(lambda: one(url, select(func.count()).where(
            OutboxMessage.status.in_(STILL_TO_SEND))) == 0, what="every message sent")
        for sent in twilio.by_to[AMINA]:
            form = {"MessageSid": sent["Sid"], "MessageStatus": "delivered",
                    "AccountSid": "AC" + "0" * 32}
            assert signed(client, "/sms/twilio/status", form).status_code == 204
            statuses += 1
        assert one(url, select(SurveySession.status).join(
            Contact, Contact.id == SurveySession.contact_id).where(
            Contact.address == AMINA)) == "completed"
        assert client.get("/metrics").status_code == 401
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        for _ in range(4):  # whichever HTTP process answers, the same figures
            scraped = samples(client.get("/metrics", headers=headers).text)
            check_metrics(scraped, url, twilio, inbound, statuses)
    for name in LAYOUT[1:]:
        assert layout.processes[name].poll() is None, f"{name} exited"
    served = {path.stem.rsplit("_", 1)[-1] for path in (layout.logs / "metrics").glob(
        "histogram_*.db")}
    assert len(served) == 2, served  # both HTTP processes answered, and /metrics added them up


def check_metrics(scraped: dict[Any, float], url: str, twilio: FakeTwilio, inbound: int,
                  statuses: int) -> None:
    """Every figure /metrics shows against the database (and Twilio's own count)."""
    with session_scope(url) as db:
        by_status = {(channel, status): count for channel, status, count in db.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.channel, OutboxMessage.status))}
        backlog = db.scalar(select(func.count()).where(InboxMessage.processed_at.is_(None)))
        refused = db.scalar(select(func.count()).where(OutboxMessage.error_code == "21211"))
    assert scraped[("heard_inbox_backlog", ())] == backlog == 0
    assert scraped[("heard_inbox_failed_last_hour", ())] == 0
    assert {(dict(labels)["channel"], dict(labels)["status"]): value
            for (name, labels), value in scraped.items()
            if name == "heard_outbox_last_hour"} == by_status
    assert by_status[("sms", "delivered")] == len(twilio.by_to[AMINA])
    assert scraped[("heard_provider_errors_total", (("channel", "sms"), ("code", "21211")))] \
        == refused == 1
    assert scraped[("heard_send_slots_total", (("limit", "twilio_messages"),))] \
        == len(twilio.sent) + refused
    for queue in ("inbound", "outbound", "default"):
        assert scraped[("heard_rq_queue_jobs", (("queue", queue),))] >= 0
    requests = {dict(labels)["route"]: value for (name, labels), value in scraped.items()
                if name == "heard_http_request_duration_seconds_count"
                and dict(labels)["method"] == "POST"}
    # both HTTP processes' requests, whichever answered the scrape
    assert requests == {"/sms/twilio": inbound, "/sms/twilio/status": statuses}


def follow_one_message(lines: list[str], twilio: FakeTwilio) -> None:
    """Answer 3's webhook → its inbox row → its replies' outbox rows → Twilio's sids → the
    status callbacks, by the ids the JSON lines carry; and no line shows her number or a text."""
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    (stored,) = [event for event in events if event["message"] == "inbox stored"
                 and event.get("provider_id") == "SMprod03"]
    inbox_id = stored["inbox_id"]
    (processed,) = [event for event in events if event["message"] == "inbox processed"
                    and event.get("inbox_id") == inbox_id]
    assert processed["channel"] == "sms" and processed["round_id"] is not None
    written = set(processed["outbox_ids"])
    assert written
    sent = [event for event in events
            if event["message"] == "outbox sent" and event.get("outbox_id") in written]
    assert len(sent) == len(written)
    sids = {event["provider_id"] for event in sent}
    assert sids <= {message["Sid"] for message in twilio.by_to[AMINA]}
    delivered = [event for event in events if event["message"] == "outbox status"
                 and event.get("provider_id") in sids]
    assert {event["outbox_id"] for event in delivered} == written
    assert {event["status"] for event in delivered} == {"delivered"}


def no_number_or_text(lines: list[str], twilio: FakeTwilio) -> None:
    everything = "\n".join(lines)
    for number in (AMINA, REFUSED):
        assert number[-9:] not in everything, "a phone number in the logs"
    for body in twilio.bodies_to(AMINA):
        for line in body.splitlines():
            if len(line) > 8:  # "1 Yes" is also in any word
                assert line not in everything, f"a message text in the logs: {line!r}"
