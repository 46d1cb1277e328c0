"""SMS through Africa's Talking beside Twilio: callbacks with the URL's secret in, heard's
httpx client out to a local fake of AT's API, chosen by the number's country."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from surveys import catalog
from surveys.database import session_scope
from surveys.settings import SettingError, get_settings
from surveys.tables import Contact, InboxMessage, OutboxMessage, SurveySession
from tests.cases import CaseFile, answered, delivery, inbox_row, queued
from tests.fakes.africastalking_api import API_KEY, FakeAfricasTalking, fake_africastalking
from tests.pipeline import answers, client_for, count, drain
from tests.test_sms import AMINA, RAHIMA, launched, sms
from tests.test_sms import twilio as twilio  # noqa: F401 - the fixture, for Twilio's countries
from worker import jobs, rounds
from worker.queues import enqueue_outbound
from worker.senders import TransientSendError

SECRET = "at-callback-secret-0123456789"
SHORT_CODE = "20880"
CASES = CaseFile(Path(__file__).parent / "data" / "africastalking" / "incoming.json")


@pytest.fixture
def at(runtime, twilio, monkeypatch) -> Iterator[FakeAfricasTalking]:  # noqa: F811
    with fake_africastalking() as fake:
        for name, value in {"AFRICASTALKING_USERNAME": "heard", "AFRICASTALKING_API_KEY": API_KEY,
                            "AFRICASTALKING_API_BASE_URL": fake.url,
                            "AFRICASTALKING_FROM": SHORT_CODE,
                            "AFRICASTALKING_CALLBACK_SECRET": SECRET,
                            "AFRICASTALKING_SMS_PER_SECOND": "1000",
                            "HEARD_SMS_PROVIDERS": "KE=africastalking,default=twilio"}.items():
            monkeypatch.setenv(name, value)
        yield fake


def at_sms(client, sender: str, text: str, message_id: str, secret: str = SECRET):
    """An inbound SMS as AT posts it to the callback URL heard gave it."""
    return client.post(f"/sms/africastalking/{secret}", data={
        "from": sender, "to": SHORT_CODE, "text": text, "date": "2026-12-07 10:00:00",
        "id": message_id, "linkId": "", "networkCode": "63902"})


def report(client, message_id: str, status: str, reason: str = "", secret: str = SECRET):
    """A delivery report as AT posts it."""
    form = {"id": message_id, "status": status, "phoneNumber": AMINA, "networkCode": "63902",
            "retryCount": "0"}
    if reason:
        form["failureReason"] = reason
    return client.post(f"/sms/africastalking/{secret}/delivery", data=form)


def open_round(runtime) -> int:
    with session_scope(runtime.database_url) as db:
        round_ = rounds.create_round(db, catalog.latest(db, "test-water"), None)
        round_.code = "WATER367"
        return round_.id


def test_a_wrong_missing_or_unset_secret_is_403_and_nothing_stored(runtime, at, monkeypatch):
    client = client_for(runtime)
    assert at_sms(client, AMINA, "hello", "ATin1", secret="not-the-secret").status_code == 403
    assert at_sms(client, AMINA, "hello", "ATin2", secret=SECRET[:-1]).status_code == 403
    assert report(client, "ATXid_1", "Success", secret="x" * len(SECRET)).status_code == 403
    monkeypatch.delenv("AFRICASTALKING_CALLBACK_SECRET")
    refused = at_sms(client, AMINA, "hello", "ATin3")
    assert refused.status_code == 403
    assert "AFRICASTALKING_CALLBACK_SECRET" in refused.json()["detail"]
    assert count(runtime, InboxMessage) == 0


def test_a_short_callback_secret_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("AFRICASTALKING_CALLBACK_SECRET", "short")
    with pytest.raises(SettingError, match="AFRICASTALKING_CALLBACK_SECRET"):
        get_settings()


def test_sms_providers_setting_is_read_and_a_bad_pair_named(monkeypatch):
    monkeypatch.setenv("HEARD_SMS_PROVIDERS", "ke=africastalking, MW=AfricasTalking,default=twilio")
    assert get_settings().sms_providers == {"KE": "africastalking", "MW": "africastalking",
                                            "default": "twilio"}
    monkeypatch.setenv("HEARD_SMS_PROVIDERS", "Kenya=africastalking")
    with pytest.raises(SettingError, match="HEARD_SMS_PROVIDERS=.*'Kenya=africastalking'"):
        get_settings()
    monkeypatch.setenv("HEARD_SMS_PROVIDERS", "KE=nexmo")
    with pytest.raises(SettingError, match="'KE=nexmo' is not COUNTRY=provider"):
        get_settings()


def test_each_country_goes_through_its_provider(runtime, at, twilio):  # noqa: F811
    """A Kenyan number's messages go through AT (from the short code, in bulk mode, with the
    app's key), a Bangladeshi one's through Twilio, the default."""
    client_for(runtime)
    enqueue_outbound(runtime.redis, launched(runtime, AMINA, "en"))
    enqueue_outbound(runtime.redis, launched(runtime, RAHIMA, "en"))
    drain(runtime)
    assert at.bodies_to(AMINA) and not twilio.bodies_to(AMINA)
    assert twilio.bodies_to(RAHIMA) and not at.bodies_to(RAHIMA)
    sent = at.sent[0]
    assert (sent["username"], sent["from"], sent["bulkSMSMode"]) == ("heard", SHORT_CODE, "1")
    path, _, headers = at.requests[0]
    assert path == "/version1/messaging" and headers["apiKey"] == API_KEY
    with session_scope(runtime.database_url) as db:
        rows = db.execute(select(OutboxMessage.status, OutboxMessage.provider_id)
                          .where(OutboxMessage.address == AMINA)).all()
    assert {provider_id for _, provider_id in rows if provider_id} == {
        form["messageId"] for form in at.sent}, rows


def test_a_conversation_through_at_end_to_end(runtime, at):
    """Inbound AT SMS → worker → replies sent to AT → delivery reports → the outbox's status."""
    client = client_for(runtime)
    open_round(runtime)
    assert at_sms(client, AMINA, "WATER367", "ATin1").status_code == 200
    drain(runtime)
    assert at.bodies_to(AMINA) == [  # a Kenyan number: in Swahili
        "Maswali matano kuhusu maji.\nJibu LANG kubadilisha lugha.",
        "Unakubali?\n1 Ndiyo\n2 Hapana"]
    at_sms(client, AMINA, "1", "ATin2")
    drain(runtime)
    assert at.bodies_to(AMINA)[-1].startswith("Unapata maji wapi?")
    at_sms(client, AMINA, "2", "ATin3")
    drain(runtime)
    assert answers(runtime) == {"source": "well"}
    first, last = at.sent[0]["messageId"], at.sent[-1]["messageId"]
    assert report(client, first, "Sent").status_code == 200
    assert report(client, first, "Success").status_code == 200
    assert report(client, first, "Buffered").status_code == 200  # late: never backwards
    assert report(client, last, "Failed", "DeliveryFailure").status_code == 200
    assert delivery(runtime, first) == {"status": "delivered", "error_code": None,
                                         "contact": {"opted_out": False, "unreachable": None}}
    assert delivery(runtime, last)["status"] == "undelivered"
    assert delivery(runtime, last)["error_code"] == "DeliveryFailure"


def test_twilio_and_at_messages_of_one_person_are_one_conversation(
        runtime, at, twilio):  # noqa: F811
    """A Kenyan who wrote to a Twilio number first goes on through AT: one contact, one
    session, the answers of both."""
    client = client_for(runtime)
    open_round(runtime)
    sms(client, AMINA, "WATER367", "SMtw1")
    sms(client, AMINA, "1", "SMtw2")
    drain(runtime)
    at_sms(client, AMINA, "2", "ATin1")
    drain(runtime)
    assert answers(runtime) == {"source": "well"}
    assert count(runtime, Contact) == 1 and count(runtime, SurveySession) == 1
    with session_scope(runtime.database_url) as db:
        assert set(db.scalars(select(InboxMessage.channel))) == {"sms"}
    assert twilio.sent == [] and len(at.sent) == 4  # replies go by the country's provider


@pytest.mark.parametrize(("code", "effect"), [
    (406, {"opted_out": True, "unreachable": None}),
    (403, {"opted_out": False, "unreachable": "invalid_number"}),
    (404, {"opted_out": False, "unreachable": "not_mobile"}),
    (502, {"opted_out": False, "unreachable": None}),
])
def test_a_refusal_for_good_is_recorded_with_what_it_means_for_the_person(runtime, at, code,
                                                                           effect):
    client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    at.fail(AMINA, code)
    jobs.send_outbound(first)
    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, first)
        contact = db.get_one(Contact, row.contact_id)
        assert (row.status, row.error_code) == ("failed", str(code))
        assert {"opted_out": contact.opted_out, "unreachable": contact.unreachable} == effect


@pytest.mark.parametrize("failure", [405, 500, 501, ("http", 503), ("http", 429)])
def test_a_passing_refusal_is_retried_then_sent(runtime, at, failure):
    client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    at.fail(AMINA, failure)
    with pytest.raises(TransientSendError):
        jobs.send_outbound(first)
    assert at.sent == []
    jobs.send_outbound(first)
    assert len(at.bodies_to(AMINA)) == 1
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, first).status == "sent"


def test_a_wrong_api_key_holds_messages_back_instead_of_failing_them(runtime, at, monkeypatch):
    client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    monkeypatch.setenv("AFRICASTALKING_API_KEY", "wrong")
    with pytest.raises(TransientSendError, match="401"):
        jobs.send_outbound(first)
    monkeypatch.setenv("AFRICASTALKING_API_KEY", API_KEY)
    jobs.send_outbound(first)
    assert len(at.sent) == 1


# --- the labelled callback cases -----------------------------------------------------------

@pytest.mark.parametrize("case", CASES.params())
def test_africastalking_case(runtime, at, case):
    """tests/data/africastalking/incoming.json: form → status → inbox row → queued jobs →
    what the person is answered (or, for a delivery report, what became of the message)."""
    client = client_for(runtime)
    a_report = case.get("path") == "delivery"
    if case.get("round"):
        open_round(runtime)
    sender = case["form"].get("from", AMINA)
    for number, text in enumerate(case.get("before", [])):
        at_sms(client, sender, text, f"ATbefore{number}")
    if a_report:
        first = launched(runtime, AMINA, "en")[0]
        with session_scope(runtime.database_url) as db:
            row = db.get_one(OutboxMessage, first)
            row.provider_id, row.status = "ATXid_out1", "sent"
    jobs.drain_inbox()
    runtime.redis.flushdb()  # the case's own jobs only
    secret = case.get("secret", SECRET)
    path = f"/sms/africastalking/{secret}" + ("/delivery" if a_report else "")
    for _ in range(case.get("repeat", 1)):
        response = client.post(path, data=case["form"])
    got: dict[str, Any] = {"status": response.status_code,
                           "response": response.json() if response.content else None}
    if a_report:
        got["delivery"] = delivery(runtime, "ATXid_out1")
    else:
        message_id = case["form"].get("id")
        got |= {"inbox": inbox_row(runtime, "sms", message_id), "queued": queued(runtime),
                "answered": answered(runtime, "sms", message_id)}
    CASES.check(case, got)

