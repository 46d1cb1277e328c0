"""/metrics against the database it describes, and JSON logs that follow one message by its
ids without ever showing a number or a text (issue #23)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue
from sqlalchemy import func, select

from heard.logs import formatter_for, log_config
from surveys.database import session_scope
from surveys.messages import Inbound
from surveys.settings import SettingError
from surveys.tables import STILL_TO_SEND, InboxMessage, OutboxMessage
from tests.fakes.twilio_api import FakeTwilio
from tests.pipeline import client_for, drain
from tests.test_sms import AMINA, RAHIMA, TOKEN, invited, launched, signed_post, sms
from worker.ingest import ingest
from worker.queues import INBOUND, enqueue_outbound
from worker.runtime import Runtime

METRICS_TOKEN = "scrape-me"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def provider(twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> FakeTwilio:
    """Twilio's fake, with webhooks signed by test_sms's token and /metrics turned on."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HEARD_METRICS_TOKEN", METRICS_TOKEN)
    return twilio


def samples(exposition: str) -> Samples:
    """Every sample of a scrape by (name, sorted labels)."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples}


def scrape(client: Any) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def outbox_by_channel_and_status(runtime: Runtime) -> dict[tuple[str, str], int]:
    with session_scope(runtime.database_url) as db:
        return {(channel, status): count for channel, status, count in db.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.channel, OutboxMessage.status))}


def test_metrics_are_off_without_their_token_and_refused_without_it(runtime, twilio,
                                                                   monkeypatch):
    client = client_for(runtime)
    assert client.get("/metrics").status_code == 404
    monkeypatch.setenv("HEARD_METRICS_TOKEN", METRICS_TOKEN)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}
                      ).status_code == 401
    assert scrape(client)[("heard_inbox_backlog", ())] == 0


def test_metrics_show_what_the_database_and_redis_hold(runtime: Runtime, provider: FakeTwilio):
    client = client_for(runtime)
    invited(runtime, AMINA, "en")  # invitation sent, consent answered, first question sent
    provider.fail(RAHIMA, 400, 21211, "The 'To' number is not a valid phone number.")
    enqueue_outbound(runtime.redis, launched(runtime, RAHIMA, "en"))
    drain(runtime)
    assert sms(client, AMINA, "2", "SM-metrics-1").status_code == 200  # stored, not drained
    client.get("/api/v1/rounds/999/summary")  # a route with an id in its path
    scraped = scrape(client)

    with session_scope(runtime.database_url) as db:
        backlog = db.scalar(select(func.count()).where(InboxMessage.processed_at.is_(None)))
        refused = db.scalar(select(func.count()).where(OutboxMessage.error_code == "21211"))
    assert backlog == 1 and scraped[("heard_inbox_backlog", ())] == 1
    assert scraped[("heard_inbox_backlog_oldest_seconds", ())] >= 0
    assert scraped[("heard_inbox_failed_last_hour", ())] == 0
    shown = {(dict(labels)["channel"], dict(labels)["status"]): value
             for (name, labels), value in scraped.items() if name == "heard_outbox_last_hour"}
    assert shown == outbox_by_channel_and_status(runtime)
    assert shown[("sms", "failed")] == 1  # Rahima's number refused
    assert refused == 1
    assert scraped[("heard_provider_errors_total", (("channel", "sms"), ("code", "21211")))] == 1
    calls = len(provider.sent) + 1  # every accepted send, and the refused one
    assert scraped[("heard_send_slots_total", (("limit", "twilio_messages"),))] == calls
    assert scraped[("heard_send_limit_per_second", (("limit", "twilio_messages"),))] == 1000
    assert scraped[("heard_rq_queue_jobs", (("queue", INBOUND),))] == Queue(
        INBOUND, connection=runtime.redis).count == 1  # the drain the webhook asked for
    routes = {dict(labels).get("route") for (name, labels) in scraped
              if name.startswith("heard_http_request_duration_seconds")}
    assert {"/sms/twilio", "/api/v1/rounds/{round_id}/summary"} <= routes
    assert not any("999" in route for route in routes if route)
    unsent = {(dict(labels)["channel"], dict(labels)["status"]): value
              for (name, labels), value in scraped.items() if name == "heard_outbox_unsent"}
    assert unsent == {key: count for key, count in outbox_by_channel_and_status(runtime).items()
                      if key[1] in STILL_TO_SEND}


@pytest.fixture
def json_logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Every log line of the test, as HEARD_LOG_FORMAT=json writes it."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(formatter_for("json"))
    caplog.set_level(logging.INFO)
    logging.getLogger().addHandler(handler)
    try:
        yield written
    finally:
        logging.getLogger().removeHandler(handler)


def events(written: io.StringIO) -> list[dict[str, Any]]:
    lines = written.getvalue().splitlines()
    assert lines
    return [json.loads(line) for line in lines]  # every line one JSON object


def test_json_logs_follow_a_message_and_show_no_number_or_text(runtime, provider, json_logs):
    client = client_for(runtime)
    invited(runtime, AMINA, "en")
    assert sms(client, AMINA, "2", "SM-follow-me").status_code == 200
    drain(runtime)
    reply_sid = provider.sent[-1]["Sid"]
    form = {"MessageSid": reply_sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    assert signed_post(client, "/sms/twilio/status", form).status_code == 204

    logged = events(json_logs)
    (stored,) = [event for event in logged if event["message"] == "inbox stored"
                 and event.get("provider_id") == "SM-follow-me"]
    inbox_id = stored["inbox_id"]
    assert stored["channel"] == "sms"
    (processed,) = [event for event in logged if event["message"] == "inbox processed"
                    and event.get("inbox_id") == inbox_id]
    assert processed["round_id"] is not None and processed["outcome"]
    written = processed["outbox_ids"]
    (sent,) = [event for event in logged if event["message"] == "outbox sent"
               and event.get("outbox_id") in written]
    assert sent["provider_id"] == reply_sid and sent["inbox_id"] == inbox_id
    (status,) = [event for event in logged if event["message"] == "outbox status"]
    assert (status["outbox_id"], status["provider_id"], status["status"]) == (
        sent["outbox_id"], reply_sid, "delivered")

    everything = json_logs.getvalue()
    assert AMINA not in everything and AMINA.lstrip("+") not in everything
    assert AMINA[-9:] not in everything  # nor the national number
    for body in provider.bodies_to(AMINA):  # nor anything said to her
        for line in body.splitlines():
            assert line not in everything, line


def test_a_message_received_and_never_processed_is_the_backlog(runtime, provider):
    client = client_for(runtime)
    ingest(runtime.database_url, runtime.redis, Inbound("sms", AMINA, "hi", "SM-waiting"))
    assert scrape(client)[("heard_inbox_backlog", ())] == 1
    drain(runtime)
    scraped = scrape(client)
    assert scraped[("heard_inbox_backlog", ())] == 0
    assert scraped[("heard_inbox_backlog_oldest_seconds", ())] == 0


def test_log_settings_choose_the_format_and_level(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("HEARD_LOG_FORMAT", raising=False)
    monkeypatch.delenv("HEARD_LOG_LEVEL", raising=False)
    assert log_config()["formatters"]["heard"]["log_format"] == "text"  # a laptop
    assert log_config()["root"]["level"] == "INFO"
    monkeypatch.setenv("DATABASE_URL", "postgresql://heard@db/heard")
    assert log_config()["formatters"]["heard"]["log_format"] == "json"  # production
    monkeypatch.setenv("HEARD_LOG_FORMAT", "text")
    monkeypatch.setenv("HEARD_LOG_LEVEL", "WARNING")
    assert log_config()["formatters"]["heard"]["log_format"] == "text"
    assert log_config()["root"]["level"] == "WARNING"
    monkeypatch.setenv("HEARD_LOG_FORMAT", "xml")
    with pytest.raises(SettingError, match="HEARD_LOG_FORMAT='xml'"):
        log_config()


def test_text_lines_carry_the_same_ids_as_key_value():
    record = logging.LogRecord("worker.jobs", logging.INFO, __file__, 1, "outbox sent", None,
                               None)
    record.outbox_id, record.provider_id, record.channel = 42, "SMabc", "sms"
    line = formatter_for("text").format(record)
    assert line.endswith("worker.jobs: outbox sent outbox_id=42 channel=sms provider_id=SMabc")
    assert json.loads(formatter_for("json").format(record)) | {"time": None} == {
        "time": None, "level": "INFO", "logger": "worker.jobs", "message": "outbox sent",
        "outbox_id": 42, "provider_id": "SMabc", "channel": "sms"}
