"""Quiet hours in the person's own time: invitations, reminders and results wait; replies do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from surveys.database import session_scope
from surveys.messages import Inbound
from surveys.quiet_hours import parse_window, quiet_until, zone_of
from surveys.settings import SettingError
from surveys.tables import OutboxMessage
from tests.pipeline import client_for, drain
from tests.test_sms import AMINA, launched
from worker import jobs
from worker.ingest import ingest

NAIROBI = ZoneInfo("Africa/Nairobi")  # UTC+3 all year


@pytest.mark.parametrize(("window", "now", "until"), [
    ("21-8", "2026-12-01T19:00", "2026-12-02T05:00"),  # 22:00 in Nairobi: until 08:00 there
    ("21-8", "2026-12-01T02:00", "2026-12-01T05:00"),  # 05:00 there, the same night
    ("21-8", "2026-12-01T10:00", None),  # 13:00 there: no wait
    ("21-8", "2026-12-01T18:00", "2026-12-02T05:00"),  # 21:00 sharp: quiet
    ("21-8", "2026-12-01T05:00", None),  # 08:00 sharp: awake
    ("12:30-14", "2026-12-01T10:00", "2026-12-01T11:00"),  # a window within the day
])
def test_quiet_hours_end_at_the_window_end_in_the_persons_time(window, now, until):
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    expected = datetime.fromisoformat(until).replace(tzinfo=UTC) if until else None
    assert quiet_until(parse_window(window), NAIROBI, moment) == expected


@pytest.mark.parametrize("bad", ["21", "25-8", "21-8-9", "8-8", "nine-five"])
def test_a_bad_window_names_the_variable(bad):
    with pytest.raises(SettingError, match="HEARD_QUIET_HOURS"):
        parse_window(bad)


def test_the_time_zone_comes_from_the_number():
    assert zone_of("sms", "+8801712345678") == ZoneInfo("Asia/Dhaka")
    assert zone_of("whatsapp", AMINA) == NAIROBI
    assert zone_of("telegram", "4242") is None  # no number: never held


def _window_around(now: datetime) -> str:
    local = now.astimezone(NAIROBI)
    return f"{local.hour}-{(local.hour + 2) % 24}"


def test_an_invitation_waits_for_the_end_of_quiet_hours_and_a_reply_does_not(
        runtime, twilio, monkeypatch):
    client_for(runtime)
    now = datetime.now(UTC)
    monkeypatch.setenv("HEARD_QUIET_HOURS", _window_around(now))  # it is quiet in Nairobi now
    first = launched(runtime, AMINA, "en")[0]
    assert jobs.send_outbound(first) == "retrying"
    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, first)
        assert now + timedelta(hours=1) <= row.next_attempt_at.replace(tzinfo=UTC) \
            <= now + timedelta(hours=2)
        assert "quiet hours" in (row.error or "")
    assert twilio.sent == []
    ingest(runtime.database_url, runtime.redis, Inbound("sms", AMINA, "help", "q-1"))
    drain(runtime)  # she wrote: the answer goes now, whatever the hour
    assert len(twilio.sent) >= 1
    monkeypatch.setenv("HEARD_QUIET_HOURS", _window_around(now + timedelta(hours=12)))
    assert jobs.send_outbound(first) == "sent"  # awake hours: it goes
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(OutboxMessage.status).where(OutboxMessage.id == first)).one() \
            == "sent"
