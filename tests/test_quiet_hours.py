"""Quiet hours in the person's own time: invitations, reminders and results wait; replies do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from surveys import catalog
from surveys.contact_import import parse_contacts, store_contacts
from surveys.database import session_scope
from surveys.messages import Inbound
from surveys.quiet_hours import parse_window, quiet_until, zone_for, zone_of
from surveys.settings import SettingError, get_settings
from surveys.tables import Contact, OutboxMessage
from tests.pipeline import client_for, drain
from tests.test_sms import AMINA, launched
from worker import jobs, rounds
from worker.ingest import ingest
from worker.senders import TransientSendError

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


def test_the_time_zone_is_the_persons_own_else_their_communitys_else_their_numbers(
        monkeypatch):
    monkeypatch.setenv("HEARD_COMMUNITY_TIME_ZONES",
                       "Surrey=America/Vancouver, kibera=Africa/Nairobi")
    vancouver, toronto = ZoneInfo("America/Vancouver"), ZoneInfo("America/Toronto")
    assert zone_for("sms", "+16135550123") == toronto  # Ottawa's area code
    assert zone_for("sms", "+16135550123", community="surrey") == vancouver
    assert zone_for("sms", "+16135550123", "Asia/Dhaka", "surrey") == ZoneInfo("Asia/Dhaka")
    assert zone_for("telegram", "4242", community="Kibera") == NAIROBI  # no number, a community
    assert zone_for("telegram", "4242", community="mathare") is None


@pytest.mark.parametrize("bad", ["kibera", "kibera=Mars/Olympus", "=Africa/Nairobi"])
def test_a_bad_community_time_zone_names_the_variable_and_the_pair(monkeypatch, bad):
    monkeypatch.setenv("HEARD_COMMUNITY_TIME_ZONES", bad)
    with pytest.raises(SettingError, match=f"HEARD_COMMUNITY_TIME_ZONES=.*{bad!r} is not "
                                           f"community=Time/Zone"):
        get_settings()


def test_an_import_keeps_each_persons_time_zone_and_names_an_unknown_one(runtime):
    contacts, report = parse_contacts(
        "phone,Time Zone,consent\n+16135550123,America/Vancouver,yes\n"
        "+16135550124,Mars/Olympus,yes\n+16135550125,,yes\n")
    assert [str(error) for error in report.errors] == [
        "line 3: unknown time zone 'Mars/Olympus' (an IANA name such as Africa/Nairobi or "
        "Asia/Dhaka)"]
    with session_scope(runtime.database_url) as db:
        store_contacts(db, contacts, report)
    with session_scope(runtime.database_url) as db:
        assert dict(db.execute(select(Contact.address, Contact.time_zone)).tuples().all()) == {
            "+16135550123": "America/Vancouver", "+16135550125": None}


def test_a_telegram_invitation_waits_for_its_communitys_night_to_end(runtime, monkeypatch):
    client_for(runtime)
    now = datetime.now(UTC)
    monkeypatch.setenv("HEARD_QUIET_HOURS", _window_around(now))  # quiet in Nairobi now
    with session_scope(runtime.database_url) as db:
        db.add(Contact(channel="telegram", address="4242", language="en", consent=True,
                       community="kibera", profile={}))
        round_id = rounds.create_round(db, catalog.latest(db, "test-water"), "kibera").id
    rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)
    with session_scope(runtime.database_url) as db:
        first = db.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).first()
    with pytest.raises(TransientSendError, match="TELEGRAM_BOT_TOKEN"):  # no zone is known
        jobs.send_outbound(first)  # for a chat id: it is sent (no bot here) ...
    with session_scope(runtime.database_url) as db:  # (as it was: pending again)
        db.get_one(OutboxMessage, first).status = "pending"
    monkeypatch.setenv("HEARD_COMMUNITY_TIME_ZONES", "kibera=Africa/Nairobi")
    assert jobs.send_outbound(first) == "retrying"  # ... but Kibera's is
    with session_scope(runtime.database_url) as db:
        assert "quiet hours" in (db.get_one(OutboxMessage, first).error or "")
