"""SMS through Twilio: signed webhooks in, the real twilio library out to a local fake API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from surveys import catalog
from surveys.database import session_scope
from surveys.messages import Inbound
from surveys.tables import (
    Contact,
    EarlyStatus,
    InboxMessage,
    OutboxMessage,
    SurveySession,
    utcnow,
)
from tests.cases import CaseFile, answered, delivery, inbox_row, queued
from tests.fakes.twilio_api import FakeTwilio, fake_twilio
from tests.pipeline import answers, client_for, count, drain
from worker import jobs, rounds
from worker.ingest import ingest
from worker.queues import enqueue_outbound
from worker.senders import TransientSendError

TOKEN = "test-auth-token"
PUBLIC = "https://heard.example.org"
FROM = "+15005550006"
AMINA = "+254712345678"
RAHIMA = "+8801712345678"
CASES = CaseFile(Path(__file__).parent / "data" / "twilio" / "incoming.json")


@pytest.fixture
def twilio(runtime, monkeypatch) -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
                            "TWILIO_FROM": FROM, "TWILIO_API_BASE_URL": fake.url,
                            "PUBLIC_BASE_URL": PUBLIC, "HEARD_SMS_PER_SECOND": "1000"}.items():
            monkeypatch.setenv(name, value)
        yield fake


def signed_post(client, path: str, form: dict[str, str], token: str = TOKEN):
    signature = RequestValidator(token).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def sms(client, sender: str, body: str, sid: str, **extra: str):
    form = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender, "To": FROM,
            "Body": body, "NumMedia": "0", **extra}
    return signed_post(client, "/sms/twilio", form)


def launched(runtime, address: str, language: str | None = None, channel: str = "sms",
             wrote_at: datetime | None = None) -> list[int]:
    """The contact (imported as agreeing to be contacted; their last message `wrote_at`, which
    opens WhatsApp's 24-hour window) is invited into a round of test-water by its launch; the
    outbox ids of the invitation."""
    with session_scope(runtime.database_url) as db:
        db.add(Contact(channel=channel, address=address, language=language, consent=True,
                       profile={}, last_inbound_at=wrote_at))
        round_id = rounds.create_round(db, catalog.latest(db, "test-water"), None).id
    rounds.launch(runtime.database_url, runtime.redis, round_id, lambda redis, ids: True)
    with session_scope(runtime.database_url) as db:
        return list(db.scalars(select(OutboxMessage.id).where(OutboxMessage.address == address)
                               .order_by(OutboxMessage.id)))


def invited(runtime, address: str, language: str, channel: str = "sms") -> None:
    """`launched`, the invitation sent, and the contact agrees to the survey's own consent
    question (1 = yes)."""
    enqueue_outbound(runtime.redis, launched(runtime, address, language, channel))
    drain(runtime)
    ingest(runtime.database_url, runtime.redis, Inbound(channel, address, "1", f"yes-{address}"))
    drain(runtime)


def test_forged_or_missing_signature_is_403_and_nothing_stored(runtime, twilio):
    client = client_for(runtime)
    form = {"MessageSid": "SM1", "From": AMINA, "To": FROM, "Body": "1"}
    assert signed_post(client, "/sms/twilio", form, token="not-the-token").status_code == 403
    assert client.post("/sms/twilio", data=form).status_code == 403
    tampered = RequestValidator(TOKEN).compute_signature(PUBLIC + "/sms/twilio", form)
    response = client.post("/sms/twilio", data=form | {"Body": "2"},
                           headers={"X-Twilio-Signature": tampered})
    assert response.status_code == 403
    assert count(runtime, InboxMessage) == 0


def test_a_signed_form_is_read_whatever_its_encoding(runtime, twilio):
    client = client_for(runtime)
    form = {"MessageSid": "SM1", "From": AMINA, "To": FROM, "Body": "Habari & karibu = 1+1"}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/sms/twilio", form)
    as_multipart = client.post("/sms/twilio", files={key: (None, value) for key, value
                                                     in form.items()},
                               headers={"X-Twilio-Signature": signature})
    assert as_multipart.status_code == 200  # not what Twilio sends, still read right
    assert signed_post(client, "/sms/twilio", form | {"MessageSid": "SM2"}).status_code == 200
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(InboxMessage.text)).all() == [form["Body"]] * 2


def test_inbound_answers_with_empty_twiml_and_replies_through_the_worker(runtime, twilio):
    client = client_for(runtime)
    invited(runtime, AMINA, "en")
    assert twilio.bodies_to(AMINA) == [  # an import's consent is not the survey's: asked
        "Five questions about water.",
        "Do you agree?\n1 Yes\n2 No",
        "Where do you get water?\n1 Tap at home\n2 Public well\n3 Other"]
    response = sms(client, AMINA, "2", "SM-a1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response></Response>")
    drain(runtime)
    assert answers(runtime) == {"source": "well"}
    assert twilio.bodies_to(AMINA)[-1] == "How many days a week is there water?"
    sent = twilio.sent[-1]
    assert sent["From"] == FROM and sent["StatusCallback"] == PUBLIC + "/sms/twilio/status"


def test_replayed_webhook_is_one_message(runtime, twilio):
    client = client_for(runtime)
    invited(runtime, AMINA, "en")
    for _ in range(3):
        assert sms(client, AMINA, "1", "SM-replay").status_code == 200
    drain(runtime)
    assert count(runtime, InboxMessage) == 2  # the consent, then the one answer
    assert len(twilio.bodies_to(AMINA)) == 4  # the invitation's three, then one reply


def test_bengali_reply_is_ucs2_and_segments_are_recorded(runtime, twilio):
    client = client_for(runtime)
    invited(runtime, RAHIMA, "bn")
    sms(client, RAHIMA, "১", "SM-bn1")
    drain(runtime)
    assert twilio.bodies_to(RAHIMA)[-1] == "সপ্তাহে কত দিন?"
    with session_scope(runtime.database_url) as db:
        rows = db.scalars(select(OutboxMessage).where(OutboxMessage.address == RAHIMA)
                          .order_by(OutboxMessage.id)).all()
    assert {row.encoding for row in rows} == {"UCS-2"}
    assert all(row.segments == 1 for row in rows)
    assert answers(runtime) == {"source": "tap"}


def test_stop_confirms_once_then_silence_until_start(runtime, twilio):
    client = client_for(runtime)
    invited(runtime, AMINA, "en")
    sms(client, AMINA, "STOP", "SM-s1")
    drain(runtime)
    assert twilio.bodies_to(AMINA)[-1] == (
        "You will get no more messages from us. Reply START to join again.")
    before = len(twilio.sent)
    for number, text in enumerate(["1", "stop", "HELP", "hello?"]):
        sms(client, AMINA, text, f"SM-s2-{number}")
    drain(runtime)
    assert len(twilio.sent) == before  # opted out: nothing more, not even a second confirmation
    assert count(runtime, InboxMessage, InboxMessage.outcome == "opted_out") == 4
    sms(client, AMINA, "START", "SM-s3")
    drain(runtime)
    assert twilio.bodies_to(AMINA)[before:] == [  # back where they were, in the same session
        "You will get our messages again. Reply STOP to stop.",
        "Where do you get water?\n1 Tap at home\n2 Public well\n3 Other"]
    assert count(runtime, SurveySession) == 1
    sms(client, AMINA, "2", "SM-s4")
    drain(runtime)
    assert answers(runtime) == {"source": "well"}


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit"])
def test_every_carrier_stop_word_opts_out(runtime, twilio, word):
    client = client_for(runtime)
    sms(client, AMINA, word, "SM-w")
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact)).one().opted_out is True
    assert len(twilio.bodies_to(AMINA)) == 1


def test_help_from_anyone_says_what_heard_is_and_how_to_stop(runtime, twilio):
    client = client_for(runtime)
    sms(client, AMINA, "help", "SM-h")
    drain(runtime)
    assert twilio.bodies_to(AMINA) == [
        "heard: short surveys about your community, in your language. Reply STOP to stop "
        "getting messages, START to join again."]


def test_21610_unsubscribed_stops_retries_and_opts_the_contact_out(runtime, twilio):
    client_for(runtime)
    twilio.fail(AMINA, 400, 21610, "Attempt to send to unsubscribed recipient")
    invited(runtime, AMINA, "en")
    with session_scope(runtime.database_url) as db:
        rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        contact = db.scalars(select(Contact)).one()
        assert [(row.status, row.error_code) for row in rows] == [
            ("failed", "21610"), ("suppressed", None)]
        assert contact.opted_out is True
    assert twilio.sent == []


def test_21211_invalid_number_marks_contact_unreachable(runtime, twilio):
    client_for(runtime)
    twilio.fail(AMINA, 400, 21211, "The 'To' number is not a valid phone number.")
    invited(runtime, AMINA, "en")
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact)).one().unreachable == "invalid_number"


def test_round_status_names_the_messages_that_never_arrived(runtime, twilio):
    from typer.testing import CliRunner

    from heard.commands.rounds import app
    from surveys.tables import Round

    client_for(runtime)
    twilio.fail("whatsapp:" + AMINA, 400, 63016,
                "Failed to send freeform message because you are outside the allowed window.")
    first = launched(runtime, AMINA, "en", channel="whatsapp",  # within 24 h, as heard sees it
                     wrote_at=utcnow() - timedelta(hours=1))[0]
    jobs.send_outbound_batch([first])  # refused for good: no retry
    with session_scope(runtime.database_url) as db:
        round_id = db.scalars(select(Round.id)).one()
        assert db.get_one(OutboxMessage, first).error_code == "63016"
        assert rounds.round_status(db, round_id).failures == {("whatsapp", "63016"): 1}
    shown = CliRunner().invoke(app, ["status", str(round_id)])
    assert "messages not delivered: 1 on whatsapp (error 63016)" in shown.output, shown.output


def test_round_status_sets_what_was_spent_against_the_estimate(runtime, twilio):
    from typer.testing import CliRunner

    from heard.commands.rounds import app
    from surveys.tables import Round

    client_for(runtime)
    invited(runtime, AMINA, "en")  # invited, agreed: the first question went too
    with session_scope(runtime.database_url) as db:
        round_id = db.scalars(select(Round.id)).one()
        sent = sum(row.segments for row in db.scalars(select(OutboxMessage).where(
            OutboxMessage.status == "sent")))
        segments = rounds.round_status(db, round_id).segments
    assert sent >= 3 and segments["spent"] == sent
    assert segments["spent"] < segments["typical"] <= segments["longest"]
    shown = CliRunner().invoke(app, ["status", str(round_id)])
    assert (f"SMS segments: estimated {segments['typical']}–{segments['longest']} for the "
            f"people invited, spent {sent}") in shown.output, shown.output


def test_429_and_5xx_are_retried_then_sent(runtime, twilio):
    client_for(runtime)
    outbox_ids = launched(runtime, AMINA)
    twilio.fail(AMINA, 429, 20429, "Too Many Requests")
    twilio.fail(AMINA, 503, 20503, "Service Unavailable")
    for _ in range(2):
        with pytest.raises(TransientSendError):
            jobs.send_outbound(outbox_ids[0])
    with session_scope(runtime.database_url) as db:
        assert db.get(OutboxMessage, outbox_ids[0]).status == "retrying"
    assert jobs.send_outbound(outbox_ids[0]) == "sent"
    assert jobs.send_outbound(outbox_ids[0]) == "sent"  # a duplicate job sends nothing
    assert len(twilio.sent) == 1


def test_whatsapp_rate_limit_63018_is_retried_not_failed(runtime, twilio):
    client_for(runtime)
    first = launched(runtime, AMINA, "en", channel="whatsapp", wrote_at=utcnow())[0]
    twilio.fail("whatsapp:" + AMINA, 400, 63018, "Rate limit exceeded for Channel")
    with pytest.raises(TransientSendError, match="63018|Rate limit"):
        jobs.send_outbound(first)
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, first).status == "retrying"
    assert jobs.send_outbound(first) == "sent"
    assert twilio.bodies_to("whatsapp:" + AMINA)


def as_if_its_sender_died_mid_call(runtime, outbox_id: int) -> None:
    """The row as a sender killed between calling Twilio and recording the outcome left it."""
    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, outbox_id)
        row.status, row.provider_id, row.sent_at = "dispatching", None, None
        row.dispatched_at = utcnow() - timedelta(seconds=1)


def test_a_send_whose_outcome_was_lost_is_found_at_twilio_not_sent_again(runtime, twilio):
    client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    assert jobs.send_outbound(first) == "sent"
    as_if_its_sender_died_mid_call(runtime, first)
    assert jobs.send_outbound(first) == "sent"
    assert (twilio.listed, len(twilio.sent)) == (1, 1)
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, first).provider_id == twilio.sent[0]["Sid"]


def test_a_send_that_never_reached_twilio_is_sent_and_an_earlier_same_text_not_taken_for_it(
        runtime, twilio):
    client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    assert jobs.send_outbound(first) == "sent"
    with session_scope(runtime.database_url) as db:  # the same words again, a minute later
        again = OutboxMessage(**{column: getattr(db.get_one(OutboxMessage, first), column)
                                 for column in ("contact_id", "channel", "address", "text",
                                                "reply", "segments", "encoding")})
        db.add(again)
        db.flush()
        second = again.id
    as_if_its_sender_died_mid_call(runtime, second)  # ... and it never reached Twilio
    twilio.list_failures = 1
    with pytest.raises(TransientSendError, match="message list"):
        jobs.send_outbound(second)  # Twilio cannot be asked: nothing is sent, it waits
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, second).status == "dispatching"
    assert jobs.send_outbound(second) == "sent"
    assert twilio.bodies_to(AMINA) == [twilio.sent[0]["Body"]] * 2
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, second).provider_id == twilio.sent[1]["Sid"]


def test_status_callbacks_update_the_outbox_and_never_go_backwards(runtime, twilio):
    client = client_for(runtime)
    invited(runtime, AMINA, "en")
    sid = twilio.sent[0]["Sid"]

    def status(value: str, **extra: str) -> int:
        form = {"MessageSid": sid, "MessageStatus": value, "AccountSid": "AC" + "0" * 32,
                **extra}
        return signed_post(client, "/sms/twilio/status", form).status_code

    assert status("delivered") == 204
    assert status("sent") == 204  # arrives late: ignored
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(OutboxMessage).where(OutboxMessage.provider_id == sid)
                          ).one().status == "delivered"
    assert status("undelivered", ErrorCode="30006") == 204
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact)).one().unreachable == "landline"
    forged = client.post("/sms/twilio/status", data={"MessageSid": sid,
                                                     "MessageStatus": "failed"})
    assert forged.status_code == 403


def test_whatsapp_through_the_same_adapter(runtime, twilio):
    client = client_for(runtime)
    invited(runtime, AMINA, "sw", channel="whatsapp")
    assert twilio.sent[0]["To"] == f"whatsapp:{AMINA}"
    assert twilio.sent[0]["From"] == f"whatsapp:{FROM}"
    sms(client, f"whatsapp:{AMINA}", "kisima", "SM-wa1")
    drain(runtime)
    assert answers(runtime) == {"source": "well"}
    with session_scope(runtime.database_url) as db:
        assert {row.channel for row in db.scalars(select(InboxMessage))} == {"whatsapp"}


def test_national_numbers_are_normalised_to_e164(runtime, twilio, monkeypatch):
    client = client_for(runtime)
    monkeypatch.setenv("HEARD_DEFAULT_REGION", "KE")
    sms(client, "0712 345678", "hello", "SM-n1")
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(InboxMessage)).one().address == AMINA


def test_webhook_without_from_is_a_clear_400(runtime, twilio):
    client = client_for(runtime)
    response = signed_post(client, "/sms/twilio", {"MessageSid": "SM-x", "Body": "hi"})
    assert response.status_code == 400
    assert response.json()["detail"] == "missing Twilio field(s): From"


# --- the labelled webhook cases ------------------------------------------------------------

@pytest.mark.parametrize("case", CASES.params())
def test_twilio_case(runtime, twilio, case):
    """tests/data/twilio/incoming.json: signed form → status → inbox row → queued jobs → what
    the person is answered once a worker has handled it (or, for a status callback, what
    became of the message and its contact)."""
    client = client_for(runtime)
    path = case.get("path", "/sms/twilio")
    if case.get("round"):
        with session_scope(runtime.database_url) as db:
            rounds.create_round(db, catalog.latest(db, "test-water"), None).code = "WATER367"
    sender = case["form"].get("From", AMINA)
    for number, text in enumerate(case.get("before", [])):
        sms(client, sender, text, f"SMbefore{number}")
    if path.endswith("/status"):
        _sent_invitation(runtime, "SMout1")
        for status in case.get("before_status", []):
            signed_post(client, path, {"MessageSid": "SMout1", "MessageStatus": status})
    jobs.drain_inbox()
    runtime.redis.flushdb()  # the case's own jobs only
    token = case.get("signature", TOKEN)
    for _ in range(case.get("repeat", 1)):
        if token is None:
            response = client.post(path, data=case["form"])
        else:
            signature = RequestValidator(token).compute_signature(
                PUBLIC + path, case.get("signed", case["form"]))
            response = client.post(path, data=case["form"],
                                   headers={"X-Twilio-Signature": signature})
    sid = case["form"].get("MessageSid")
    got: dict[str, Any] = {"status": response.status_code, "response": _answer(response)}
    if path.endswith("/status"):
        got["delivery"] = delivery(runtime, "SMout1")
    else:
        channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
        got |= {"inbox": inbox_row(runtime, channel, sid), "queued": queued(runtime),
                "answered": answered(runtime, channel, sid)}
    CASES.check(case, got)


def _answer(response: Any) -> Any:
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.text


def _sent_invitation(runtime: Any, provider_id: str) -> None:
    """An invitation heard sent to Amina, as Twilio knows it: `provider_id`, status sent."""
    first = launched(runtime, AMINA, "en")[0]
    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, first)
        row.provider_id, row.status = provider_id, "sent"



def test_a_status_that_comes_before_its_send_is_recorded_is_applied_later(runtime, twilio):
    """Twilio calls back within milliseconds of accepting a message, sometimes before heard
    has committed the provider id: the report waits and the sweeper applies it."""
    client = client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    early = signed_post(client, "/sms/twilio/status", {
        "MessageSid": "SMearly", "MessageStatus": "undelivered", "ErrorCode": "30006"})
    assert early.status_code == 204
    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, first)
        row.provider_id, row.status = "SMearly", "sent"  # the send's commit, just after
    jobs.sweep()
    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, first)
        assert (row.status, row.error_code) == ("undelivered", "30006")
        assert db.get_one(Contact, row.contact_id).unreachable == "landline"
        assert db.scalars(select(EarlyStatus)).all() == []


def test_a_retry_lost_with_redis_is_sent_by_the_sweeper(runtime, twilio, monkeypatch):
    monkeypatch.setenv("HEARD_SWEEP_AFTER_SECONDS", "0")
    client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    twilio.fail(AMINA, 503, 20503, "Service Unavailable")
    with pytest.raises(TransientSendError):
        jobs.send_outbound(first)
    with session_scope(runtime.database_url) as db:
        row = db.get_one(OutboxMessage, first)
        assert row.status == "retrying" and row.next_attempt_at is not None
        row.next_attempt_at -= timedelta(seconds=10)  # due, and its rq job is gone:
    runtime.redis.flushdb()  # Redis restarted, and keeps no data
    jobs.sweep()
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, first).status == "sent"
    assert twilio.bodies_to(AMINA)


def test_a_killed_senders_lock_holds_others_back_briefly_and_no_worker_idles(runtime, twilio):
    client_for(runtime)
    first = launched(runtime, AMINA, "en")[0]
    with session_scope(runtime.database_url) as db:
        contact_id = db.get_one(OutboxMessage, first).contact_id
    runtime.redis.lock(f"heard:sending:{contact_id}", timeout=jobs.SEND_LOCK_SECONDS).acquire()
    began = time.monotonic()  # ... and the worker holding it is killed: never released
    with pytest.raises(TransientSendError):
        jobs.send_outbound_batch([first])
    assert time.monotonic() - began < jobs.SEND_LOCK_WAIT + 2  # retried later by rq
    assert 0 < runtime.redis.ttl(f"heard:sending:{contact_id}") <= jobs.SEND_LOCK_SECONDS
