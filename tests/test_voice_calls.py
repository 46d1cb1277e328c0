"""Calls heard makes (invitations, reminders, results, call-backs) through a fake Twilio Voice
API, answered through signed webhooks as Twilio makes them; the TwiML checked element by element."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from heard.commands.rounds import app as round_cli
from surveys import catalog
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.settings import get_settings
from surveys.tables import Contact, InboxMessage, OutboxMessage, Round
from surveys.words import keypad_digits
from tests.pipeline import answers, client_for, count, drain
from tests.test_round_targets import _signed_in
from tests.test_sms import PUBLIC, TOKEN, launched, signed_post
from tests.test_voice import CALLER, KEYS, NUMBER, WHERE, asked, ended, press
from worker import rounds
from worker.queues import enqueue_outbound
from worker.share import share

STATUS = "/voice/twilio/status"


@pytest.fixture
def calls(twilio, monkeypatch):
    """The fake Twilio, taking calls too; English and Swahili have voices, Bengali none."""
    monkeypatch.setenv("HEARD_VOICE_LANGUAGES", "en=en-US,sw=sw-KE:Google.sw-KE-Standard-A")
    monkeypatch.setenv("HEARD_CALLS_PER_SECOND", "1000")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HEARD_CALL_RETRY_MINUTES", "15,120")
    return twilio


def answered(client, call: dict[str, str], sid: str) -> ET.Element:
    """Twilio asks the call's URL once the person picks up (a call heard made: To is them)."""
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": call["From"],
            "To": call["To"], "CallStatus": "in-progress", "Direction": "outbound-api"}
    response = signed_post(client, call["Url"].removeprefix(PUBLIC), form)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


def pressed(client, sid: str, action: str, digits: str, to: str = CALLER) -> ET.Element:
    """A key press in a call heard made (Twilio posts it with the call's own From and To)."""
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": NUMBER, "To": to,
            "CallStatus": "in-progress", "Direction": "outbound-api", "Digits": digits}
    response = signed_post(client, action.removeprefix(PUBLIC), form)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


def ended_as(client, sid: str, status: str, direction: str = "outbound-api",
             caller: str = CALLER) -> None:
    """Twilio's status callback at the end of call `sid`."""
    ours = direction.startswith("outbound")
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "CallStatus": status,
            "From": NUMBER if ours else caller, "To": caller if ours else NUMBER,
            "Direction": direction}
    response = signed_post(client, STATUS, form)
    assert response.status_code == 204, response.text


def row(runtime, outbox_id: int) -> OutboxMessage:
    with session_scope(runtime.database_url) as db:
        found = db.get_one(OutboxMessage, outbox_id)
        db.expunge(found)
        return found


def test_an_invitation_is_one_call_that_says_it_and_takes_the_answers(runtime, calls):
    client = client_for(runtime)
    invitation = launched(runtime, CALLER, "en", channel="voice")
    assert len(invitation) == 2  # the introduction, the consent question: one call says both
    enqueue_outbound(runtime.redis, invitation)
    drain(runtime)
    [call] = calls.calls_to(CALLER)
    assert call["From"] == NUMBER and call["Method"] == "POST"
    assert call["Url"] == f"{PUBLIC}/voice/twilio?step=0&outbox={invitation[0]}"
    assert call["StatusCallback"] == PUBLIC + STATUS and call["Timeout"] == "30"
    assert [row(runtime, outbox_id).status for outbox_id in invitation] == ["sent", "sent"]
    assert row(runtime, invitation[0]).provider_id == call["Sid"]
    said, action = asked(answered(client, call, call["Sid"]), one_key=True)
    assert said == ["Five questions about water.", KEYS, "Do you agree?", "Press 1 for Yes.",
                    "Press 2 for No."]
    said, action = asked(pressed(client, call["Sid"], action, "1"), one_key=True)
    assert said == WHERE
    asked(pressed(client, call["Sid"], action, "2"), one_key=False)
    assert answers(runtime) == {"source": "well"}
    ended_as(client, call["Sid"], "completed")  # the person hung up: the call was made
    assert row(runtime, invitation[0]).status == "delivered"


def test_a_call_nobody_answers_is_made_again_on_the_schedule_then_given_up(runtime, calls):
    client = client_for(runtime)
    invitation = launched(runtime, CALLER, "en", channel="voice")
    enqueue_outbound(runtime.redis, invitation)
    drain(runtime)
    before = datetime.now(UTC)
    ended_as(client, calls.calls_to(CALLER)[0]["Sid"], "no-answer")
    first = row(runtime, invitation[0])
    assert first.status == "retrying" and first.error_code is None
    assert "no-answer" in (first.error or "")
    waited = first.next_attempt_at.replace(tzinfo=UTC) - before
    assert timedelta(minutes=15) <= waited <= timedelta(minutes=16)
    ended_as(client, calls.calls_to(CALLER)[0]["Sid"], "no-answer")  # re-delivered
    assert row(runtime, invitation[0]).next_attempt_at == first.next_attempt_at
    enqueue_outbound(runtime.redis, invitation[:1])  # (the sweeper, when it is due)
    drain(runtime)
    second = calls.calls_to(CALLER)[1]
    ended_as(client, second["Sid"], "busy")
    waited = row(runtime, invitation[0]).next_attempt_at.replace(tzinfo=UTC) - before
    assert timedelta(minutes=120) <= waited <= timedelta(minutes=121)
    enqueue_outbound(runtime.redis, invitation[:1])
    drain(runtime)
    third = calls.calls_to(CALLER)[2]
    ended_as(client, third["Sid"], "no-answer")  # three calls: the schedule has run out
    given_up = row(runtime, invitation[0])
    assert (given_up.status, given_up.error_code) == ("undelivered", "no-answer")
    assert given_up.reply["unanswered"] == 3
    enqueue_outbound(runtime.redis, invitation)
    drain(runtime)
    assert len(calls.calls_to(CALLER)) == 3  # nothing more
    said, _ = asked(answered(client, third, third["Sid"]), one_key=True)  # answered at last?
    assert said[-3:] == ["Do you agree?", "Press 1 for Yes.", "Press 2 for No."]


def test_a_dropped_call_goes_on_at_the_next_question_when_the_reminder_calls(runtime, calls):
    client = client_for(runtime)
    invitation = launched(runtime, CALLER, "en", channel="voice")
    enqueue_outbound(runtime.redis, invitation)
    drain(runtime)
    [call] = calls.calls_to(CALLER)
    _, action = asked(answered(client, call, call["Sid"]), one_key=True)
    _, action = asked(pressed(client, call["Sid"], action, "1"), one_key=True)
    asked(pressed(client, call["Sid"], action, "1"), one_key=False)  # tap; the line drops
    ended_as(client, call["Sid"], "completed")
    with session_scope(runtime.database_url) as db:
        round_id = db.scalars(select(Round.id)).one()
    reminded = rounds.remind(runtime.database_url, runtime.redis, round_id, enqueue_outbound)
    assert reminded.part_way == 1
    drain(runtime)
    again = calls.calls_to(CALLER)[1]
    said, action = asked(answered(client, again, again["Sid"]), one_key=False)
    assert said == ["A reminder: you have not finished the survey. Here is where you stopped.",
                    KEYS, "How many days a week is there water?",
                    "Type your answer with the number keys, then press the hash key."]
    asked(pressed(client, again["Sid"], action, "4"), one_key=False)
    assert answers(runtime) == {"source": "tap", "days": 4}


def test_a_missed_call_is_rejected_free_and_called_back_once(runtime, calls, monkeypatch):
    monkeypatch.setenv("HEARD_VOICE_CALL_BACK", "true")
    client = client_for(runtime)
    root, first = press(client, "CA50")  # they ring heard's number
    assert [(child.tag, child.get("reason")) for child in root] == [("Reject", "busy")]
    assert press(client, "CA50")[1] == first  # Twilio asks again: still one call back
    ended_as(client, "CA50", "busy", direction="inbound")  # and its end changes nothing
    drain(runtime)
    [back] = calls.calls_to(CALLER)
    assert back["Url"].startswith(f"{PUBLIC}/voice/twilio?step=0&outbox=")
    assert count(runtime, InboxMessage, InboxMessage.outcome == "missed_call") == 1
    said, action = asked(answered(client, back, back["Sid"]), one_key=False)
    assert said == ["Welcome to heard. To answer a survey, type its code with your phone's "
                    "keys, then press the hash key."]
    press(client, "CA51")  # they ring again at once: rejected, not called back twice
    ended_as(client, "CA52", "no-answer", direction="inbound")
    drain(runtime)
    assert len(calls.calls_to(CALLER)) == 1


def test_one_who_rings_and_hangs_up_before_heard_answers_is_called_back(runtime, calls,
                                                                        monkeypatch):
    monkeypatch.setenv("HEARD_VOICE_CALL_BACK", "true")
    client = client_for(runtime)
    invitation = launched(runtime, CALLER, "en", channel="voice")  # invited, not yet called
    ended_as(client, "CA60", "canceled", direction="inbound")
    drain(runtime)
    calls_made = calls.calls_to(CALLER)
    back = [call for call in calls_made if f"outbox={invitation[0]}" not in call["Url"]]
    assert len(back) == 1
    said, _ = asked(answered(client, back[0], back[0]["Sid"]), one_key=True)
    assert said == [KEYS, "Do you agree?", "Press 1 for Yes.", "Press 2 for No."]


def test_without_call_backs_a_hang_up_before_answering_is_only_noted(runtime, calls):
    client = client_for(runtime)
    ended_as(client, "CA70", "canceled", direction="inbound")
    drain(runtime)
    assert calls.calls_to(CALLER) == [] and count(runtime, OutboxMessage) == 0


def completed_by_call(runtime, client, caller: str) -> int:
    """A round whose one participant answered every question by calling in; closed."""
    with session_scope(runtime.database_url) as db:
        made = rounds.create_round(db, catalog.latest(db, "test-water"), None)
        round_id, code = made.id, made.code or ""
    _, action = asked(press(client, "CA80", caller=caller)[0], one_key=False)
    # (keys pressed, whether what they are asked next takes one key)
    for keys, one_key in ((keypad_digits(code), True), ("1", True), ("1", False),
                          ("5", False), ("13", True)):
        _, action = asked(press(client, "CA80", action, keys, caller)[0], one_key)
    assert ended(press(client, "CA80", action, "1", caller)[0]) == ["Thank you!"]
    with session_scope(runtime.database_url) as db:
        rounds.close_round(db, round_id)
    return round_id


def test_results_are_called_where_a_voice_speaks_the_language(runtime, calls):
    client = client_for(runtime)
    round_id = completed_by_call(runtime, client, CALLER)
    report = share(runtime.database_url, runtime.redis, round_id, k=1)
    assert report.sent_to == 1
    drain(runtime)
    [call] = calls.calls_to(CALLER)
    said = ended(answered(client, call, call["Sid"]))
    with session_scope(runtime.database_url) as db:
        texts = db.scalars(select(OutboxMessage.text).where(
            OutboxMessage.reply["purpose"].as_string() == "results")
            .order_by(OutboxMessage.id)).all()
    assert said and " ".join(said).split() == " ".join(texts).split()
    assert calls.bodies_to(CALLER) == []  # no SMS


def test_results_in_a_language_no_call_speaks_go_by_sms_to_the_same_number(runtime, calls,
                                                                            monkeypatch):
    client = client_for(runtime)
    round_id = completed_by_call(runtime, client, CALLER)
    monkeypatch.setenv("HEARD_VOICE_LANGUAGES", "sw=sw-KE")  # English has no voice any more
    share(runtime.database_url, runtime.redis, round_id, k=1)
    drain(runtime)
    assert calls.calls_to(CALLER) == []
    with session_scope(runtime.database_url) as db:
        texts = db.scalars(select(OutboxMessage.text).where(
            OutboxMessage.reply["purpose"].as_string() == "results")
            .order_by(OutboxMessage.id)).all()
    assert calls.bodies_to(CALLER) == texts


def test_an_invitation_no_call_can_speak_fails_saying_why(runtime, calls):
    client_for(runtime)
    invitation = launched(runtime, "+8801712345678", "bn", channel="voice")
    enqueue_outbound(runtime.redis, invitation)
    drain(runtime)
    assert {(row(runtime, i).status, row(runtime, i).error_code) for i in invitation} == {
        ("failed", "no_voice")}
    assert calls.calls_to("+8801712345678") == []


def test_no_call_is_made_in_quiet_hours(runtime, calls, monkeypatch):
    client_for(runtime)
    local = datetime.now(UTC).astimezone(ZoneInfo("America/Los_Angeles"))  # +1 415
    monkeypatch.setenv("HEARD_QUIET_HOURS", f"{local.hour}-{(local.hour + 2) % 24}")
    invitation = launched(runtime, CALLER, "en", channel="voice")
    enqueue_outbound(runtime.redis, invitation)
    drain(runtime)
    assert calls.calls_to(CALLER) == []
    assert row(runtime, invitation[0]).status == "retrying"
    assert "quiet hours" in (row(runtime, invitation[0]).error or "")


def test_a_call_for_another_persons_row_says_nothing_of_it(runtime, calls):
    client = client_for(runtime)
    invitation = launched(runtime, CALLER, "en", channel="voice")
    call = {"From": NUMBER, "To": "+14155550999",
            "Url": f"{PUBLIC}/voice/twilio?step=0&outbox={invitation[0]}"}
    said, _ = asked(answered(client, call, "CA90"), one_key=False)
    assert said == ["Welcome to heard. To answer a survey, type its code with your phone's "
                    "keys, then press the hash key."]  # a stranger: asked for a code


@pytest.mark.parametrize("form, error", [
    ({"CallSid": "CA1", "CallStatus": "ringing-ish", "Direction": "outbound-api"},
     "CallStatus: unknown status 'ringing-ish'"),
    ({"CallSid": "CA1"}, "missing Twilio field(s): CallStatus"),
])
def test_a_malformed_status_callback_is_a_400_naming_the_field(runtime, calls, form, error):
    client = client_for(runtime)
    response = signed_post(client, STATUS, form)
    assert response.status_code == 400 and error in response.json()["detail"]


def test_a_launch_plan_counts_a_voice_line_in_call_minutes_and_their_price(runtime, calls,
                                                                             monkeypatch):
    monkeypatch.setenv("HEARD_PRICE_PER_CALL_MINUTE", "0.5")
    client_for(runtime)
    with session_scope(runtime.database_url) as db:
        for number in ("+14155550101", "+14155550102"):
            db.add(Contact(channel="voice", address=number, language="en", consent=True,
                           profile={}, community="kibera"))
        db.add(Contact(channel="sms", address="+14155550103", language="en", consent=True,
                       profile={}, community="kibera"))
        round_id = rounds.create_round(db, catalog.latest(db, "test-water"), "kibera").id
        plan = rounds.plan_launch(db, round_id)
    prices = rounds.prices_of(get_settings())
    voice = next(line for line in plan.lines(prices) if line.channel == "voice")
    sms = next(line for line in plan.lines(prices) if line.channel == "sms")
    assert (voice.unit, voice.contacts, sms.unit) == ("minutes", 2, "segments")
    # five questions said and answered, and the opening: one to a few minutes a person
    assert 2 <= voice.typical <= voice.longest <= 2 * 4
    assert voice.cost_typical == pytest.approx(voice.typical * 0.5)
    low, high = plan.cost(prices)
    assert low == pytest.approx(voice.cost_typical + sms.cost_typical)
    assert plan.invitation_cost(prices) == pytest.approx(
        plan.total("minutes") * 0.5 + plan.total("segments") * prices["segments"])
    dry = CliRunner().invoke(round_cli, ["launch", str(round_id), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{voice.typical}–{voice.longest} minutes" in dry.output or (
        f"{voice.typical} minutes" in dry.output)
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://testserver")  # (its cookies over http)
    console = _signed_in(client_for(runtime), runtime, "zawadi", "sw")  # of kibera
    page = console.get(f"/console/rounds/{round_id}").text
    t = translator("sw")
    assert t.gettext("{low} to {high} call minutes", low=t.number(voice.typical),
                     high=t.number(voice.longest)) in page or t.ngettext(
        "{n} call minute", "{n} call minutes", voice.typical) in page
    assert "data-call-price" in page and t.money(0.5, "USD", exact=True) in page


def test_round_status_counts_the_calls_made_answered_and_their_minutes(runtime, calls):
    client = client_for(runtime)
    first = launched(runtime, CALLER, "en", channel="voice")
    second = launched(runtime, "+14155550199", "en", channel="voice")
    enqueue_outbound(runtime.redis, first + second)
    drain(runtime)
    [answered_call] = calls.calls_to(CALLER)
    [missed_call] = calls.calls_to("+14155550199")
    signed_post(client, STATUS, {"CallSid": answered_call["Sid"], "CallStatus": "completed",
                                 "CallDuration": "75", "Direction": "outbound-api",
                                 "From": NUMBER, "To": CALLER})
    ended_as(client, missed_call["Sid"], "no-answer", caller="+14155550199")
    with session_scope(runtime.database_url) as db:
        round_ids = db.scalars(select(Round.id).order_by(Round.id)).all()
        status = rounds.round_status(db, round_ids[0])
        other = rounds.round_status(db, round_ids[1])
    assert {key: status.calls[key] for key in ("made", "answered", "unanswered", "minutes")} \
        == {"made": 1, "answered": 1, "unanswered": 0, "minutes": 2}  # 75 s: two minutes begun
    assert {key: other.calls[key] for key in ("made", "answered", "unanswered", "minutes")} \
        == {"made": 1, "answered": 0, "unanswered": 1, "minutes": 0}
    assert 0 < status.calls["typical"] <= status.calls["longest"]
    shown = CliRunner().invoke(round_cli, ["status", str(round_ids[0])])
    assert shown.exit_code == 0, shown.output
    assert "1 made, 1 answered, 0 not answered; 2 minutes" in shown.output
