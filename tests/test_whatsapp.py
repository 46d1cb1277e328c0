"""WhatsApp's 24-hour window: free-form inside it, Content API templates outside it, and SMS
where WhatsApp refuses (63016, no template); the real twilio library against the fake API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from surveys import catalog
from surveys.database import get_engine, session_scope
from surveys.settings import SettingError, get_settings
from surveys.tables import Contact, InboxMessage, OutboxMessage, utcnow
from surveys.validation import load_survey
from tests.conftest import HERE
from tests.fakes.twilio_api import FakeTwilio
from tests.pipeline import client_for, drain
from tests.test_sms import AMINA, FROM, TOKEN, as_if_its_sender_died_mid_call, signed_post, sms
from worker import jobs, rounds
from worker.queues import enqueue_outbound
from worker.share import share

WHATSAPP = f"whatsapp:{AMINA}"
CODE = "WATER367"
INVITATION_EN, INVITATION_SW = "HX" + "1" * 32, "HX" + "2" * 32
REMINDER_EN, RESULTS_SW = "HX" + "3" * 32, "HX" + "4" * 32
TEMPLATES = {"invitation:en": INVITATION_EN, "invitation:sw": INVITATION_SW,
             "reminder:en": REMINDER_EN, "results:sw": RESULTS_SW}


@pytest.fixture
def whatsapp(runtime, twilio, monkeypatch) -> Iterator[FakeTwilio]:
    """Twilio's fake, with a template configured per purpose and language (not results:en)."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)  # what tests.test_sms signs with
    configured(monkeypatch, TEMPLATES)
    yield twilio


def configured(monkeypatch: pytest.MonkeyPatch, templates: dict[str, str],
               fallback: bool = False) -> None:
    """These templates configured, and the SMS fallback on or off."""
    monkeypatch.setenv("HEARD_WHATSAPP_TEMPLATES",
                       ",".join(f"{key}={sid}" for key, sid in templates.items()))
    monkeypatch.setenv("HEARD_WHATSAPP_SMS_FALLBACK", "true" if fallback else "false")


def flattened(*texts: str) -> str:
    """What {{1}} must carry for these messages: every line, none breaking the variable."""
    return " · ".join(line.strip() for text in texts for line in text.splitlines()
                      if line.strip())


def a_contact(runtime, language: str, wrote_hours_ago: float | None = None) -> None:
    """Amina on WhatsApp, imported as agreeing to be contacted; she last wrote that long ago."""
    wrote = None if wrote_hours_ago is None else utcnow() - timedelta(hours=wrote_hours_ago)
    with session_scope(runtime.database_url) as db:
        db.add(Contact(channel="whatsapp", address=AMINA, language=language, consent=True,
                       profile={}, last_inbound_at=wrote))


def a_round(runtime, survey: str = "test-water") -> int:
    """An open round of `survey`, joined by texting CODE; its id."""
    with session_scope(runtime.database_url) as db:
        survey_row = catalog.latest(db, survey)
        assert survey_row is not None
        round_ = rounds.create_round(db, survey_row, None)
        round_.code = CODE
        return round_.id


def launched(runtime, survey: str = "test-water") -> int:
    """A round of `survey` launched and its invitations sent; the round's id."""
    round_id = a_round(runtime, survey)
    rounds.launch(runtime.database_url, runtime.redis, round_id, enqueue_outbound)
    drain(runtime)
    return round_id


def joined(runtime, client) -> int:
    """Amina, a walk-in on WhatsApp (Swahili, as her number says), texts the round's code,
    agrees and answers the first question; the round's id."""
    round_id = a_round(runtime)
    for number, text in enumerate([CODE, "1", "1"]):
        sms(client, WHATSAPP, text, f"SMjoin{number}")
        drain(runtime)
    return round_id


def wrote_hours_ago(runtime, hours: float) -> None:
    """Time passes: Amina's last WhatsApp message is this old."""
    with session_scope(runtime.database_url) as db:
        db.scalars(select(Contact).where(Contact.channel == "whatsapp")).one().last_inbound_at = (
            utcnow() - timedelta(hours=hours))


def results_shared(runtime, round_id: int) -> list[OutboxMessage]:
    """The round closed, its results shared and sent; the result rows."""
    with session_scope(runtime.database_url) as db:
        rounds.close_round(db, round_id)
    share(runtime.database_url, runtime.redis, round_id, k=1)
    drain(runtime)
    return [row for row in outbox(runtime) if row.reply.get("summary_round") == round_id
            and row.channel == "whatsapp"]


def outbox(runtime) -> list[OutboxMessage]:
    """Every outbox row, oldest first."""
    with session_scope(runtime.database_url) as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def fallbacks(runtime) -> list[OutboxMessage]:
    """The SMS rows written where WhatsApp refused."""
    return [row for row in outbox(runtime) if row.channel == "sms"]


def failures(runtime, round_id: int) -> dict[tuple[str, str], int]:
    """What `heard round status` counts as not delivered, by channel and error code."""
    with session_scope(runtime.database_url) as db:
        return dict(rounds.round_status(db, round_id).failures)


def delivery_report(client, sid: str, status: str, code: str) -> int:
    """Twilio's signed status callback for message `sid`; the HTTP status it got."""
    form = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code,
            "AccountSid": "AC" + "0" * 32}
    return signed_post(client, "/sms/twilio/status", form).status_code


def sent_as(sent: dict[str, str]) -> str:
    """How the fake received a message: as a template or free-form."""
    return "template" if "ContentSid" in sent else "free-form"


# --- inside and outside the window ---------------------------------------------------------

def test_inside_the_window_an_invitation_goes_free_form(runtime, whatsapp):
    client_for(runtime)
    a_contact(runtime, "sw", wrote_hours_ago=23)
    launched(runtime)
    assert [sent_as(sent) for sent in whatsapp.by_to[WHATSAPP]] == ["free-form"] * 2
    assert whatsapp.bodies_to(WHATSAPP) == [row.text for row in outbox(runtime)]


def test_outside_the_window_the_invitation_is_one_template_in_the_persons_language(
        runtime, whatsapp):
    client = client_for(runtime)
    a_contact(runtime, "sw", wrote_hours_ago=23.92)  # 23 h 55 min: too near its end
    launched(runtime)
    intro, consent = outbox(runtime)
    assert whatsapp.templates_to(WHATSAPP) == [(INVITATION_SW,
                                                {"1": flattened(intro.text, consent.text)})]
    assert "Body" not in whatsapp.sent[0] and "\n" not in whatsapp.sent[0]["ContentVariables"]
    assert (intro.status, consent.status) == ("sent", "suppressed")
    assert consent.error == f"sent inside WhatsApp template {INVITATION_SW} with outbox {intro.id}"
    sms(client, WHATSAPP, "1", "SMyes")  # she answers the template: her window opens
    drain(runtime)
    assert [sent_as(sent) for sent in whatsapp.by_to[WHATSAPP]] == ["template", "free-form"]
    assert whatsapp.by_to[WHATSAPP][-1]["Body"].startswith("Unapata maji wapi?")


def test_a_reminder_outside_the_window_goes_as_the_reminder_template(runtime, whatsapp):
    client_for(runtime)
    a_contact(runtime, "en", wrote_hours_ago=48)
    round_id = launched(runtime)
    rounds.remind(runtime.database_url, runtime.redis, round_id, enqueue_outbound)
    drain(runtime)
    *_, reminder, question = outbox(runtime)
    assert [sid for sid, _ in whatsapp.templates_to(WHATSAPP)] == [INVITATION_EN, REMINDER_EN]
    assert whatsapp.templates_to(WHATSAPP)[-1][1] == {"1": flattened(reminder.text,
                                                                   question.text)}
    assert reminder.text.startswith("A reminder:") and question.text.startswith("Do you agree?")


def test_results_outside_the_window_go_as_the_results_template(runtime, whatsapp):
    client = client_for(runtime)
    round_id = joined(runtime, client)
    wrote_hours_ago(runtime, 30)
    before = len(whatsapp.by_to[WHATSAPP])
    results = results_shared(runtime, round_id)
    assert whatsapp.templates_to(WHATSAPP) == [(RESULTS_SW, {"1": flattened(
        *(row.text for row in results))})]
    assert len(whatsapp.by_to[WHATSAPP]) == before + 1
    assert [row.reply["purpose"] for row in results] == ["results"] * len(results)


def test_messages_too_long_for_one_template_go_as_several_in_order(runtime, whatsapp, tmp_path):
    client_for(runtime)
    with_long_texts(runtime, tmp_path, intro=600, consent=500)
    a_contact(runtime, "en")
    launched(runtime, "long-water")
    intro, consent = outbox(runtime)
    assert whatsapp.templates_to(WHATSAPP) == [(INVITATION_EN, {"1": flattened(intro.text)}),
                                               (INVITATION_EN, {"1": flattened(consent.text)})]
    assert (intro.status, consent.status) == ("sent", "sent")


def test_a_message_too_long_for_any_template_fails_visibly_and_goes_by_sms(
        runtime, whatsapp, tmp_path, monkeypatch):
    client_for(runtime)
    configured(monkeypatch, TEMPLATES, fallback=True)
    with_long_texts(runtime, tmp_path, intro=1200, consent=20)
    a_contact(runtime, "en")
    round_id = launched(runtime, "long-water")
    intro, consent, *sms_rows = outbox(runtime)
    assert (intro.status, intro.error_code) == ("failed", "too_long")
    assert "1200 characters" in (intro.error or "")
    assert whatsapp.templates_to(WHATSAPP) == [(INVITATION_EN, {"1": flattened(consent.text)})]
    assert [(row.text, row.reply["fallback_of"]) for row in sms_rows] == [(intro.text, intro.id)]
    assert whatsapp.bodies_to(AMINA) == [intro.text]
    assert failures(runtime, round_id) == {("whatsapp", "too_long"): 1}


def with_long_texts(runtime, folder: Path, intro: int, consent: int) -> None:
    """test-water as `long-water`, its intro and consent question this many characters long."""
    words = "Please tell us about the water where you live, "
    text = (HERE / "data" / "water.yaml").read_text().replace("id: test-water", "id: long-water")
    text = text.replace("intro: {en: Five questions about water.,",
                        f"intro: {{en: \"{(words * 30)[:intro - 1]}.\",")
    text = text.replace("consent: {en: Do you agree?,",
                        f"consent: {{en: \"{(words * 30)[:consent - 1]}?\",")
    (folder / "long.yaml").write_text(text)
    with session_scope(runtime.database_url) as db:
        catalog.register(db, load_survey(folder / "long.yaml"))


# --- refused: no template, 63016 -----------------------------------------------------------

@pytest.mark.parametrize("fallback", [True, False], ids=["sms-fallback", "no-fallback"])
def test_no_template_for_its_purpose_and_language_fails_visibly_and_sends_nothing_free_form(
        runtime, whatsapp, monkeypatch, fallback):
    client = client_for(runtime)
    configured(monkeypatch, {"invitation:sw": INVITATION_SW}, fallback)  # no results:sw
    round_id = joined(runtime, client)
    wrote_hours_ago(runtime, 30)
    before = len(whatsapp.by_to[WHATSAPP])
    results = results_shared(runtime, round_id)
    assert len(whatsapp.by_to[WHATSAPP]) == before  # nothing WhatsApp would refuse
    assert {(row.status, row.error_code) for row in results} == {("failed", "no_template")}
    assert "results:sw (HEARD_WHATSAPP_TEMPLATES)" in (results[0].error or "")
    assert failures(runtime, round_id) == {("whatsapp", "no_template"): len(results)}
    if fallback:
        assert [row.text for row in fallbacks(runtime)] == [row.text for row in results]
        assert whatsapp.bodies_to(AMINA) == [row.text for row in results]  # SMS, same number
        assert {row.status for row in fallbacks(runtime)} == {"sent"}
    else:
        assert fallbacks(runtime) == [] and AMINA not in whatsapp.by_to


def test_63016_when_the_send_is_refused_fails_it_and_sends_sms_to_the_same_number(
        runtime, whatsapp, monkeypatch):
    client = client_for(runtime)
    configured(monkeypatch, TEMPLATES, fallback=True)
    round_id = joined(runtime, client)  # she wrote just now: free-form, and yet WhatsApp says
    whatsapp.fail(WHATSAPP, 400, 63016, "Failed to send freeform message because you are "
                  "outside the allowed window.", times=5)
    results = results_shared(runtime, round_id)
    assert {(row.status, row.error_code) for row in results} == {("failed", "63016")}
    assert [(row.text, row.status, row.reply["fallback_of"]) for row in fallbacks(runtime)] == [
        (row.text, "sent", row.id) for row in results]
    assert whatsapp.sent[-1]["To"] == AMINA and whatsapp.sent[-1]["From"] == FROM
    assert failures(runtime, round_id) == {("whatsapp", "63016"): len(results)}


def test_63016_in_the_delivery_report_fails_it_and_sends_sms_once(runtime, whatsapp,
                                                                   monkeypatch):
    client = client_for(runtime)
    configured(monkeypatch, TEMPLATES, fallback=True)
    round_id = joined(runtime, client)
    wrote_hours_ago(runtime, 30)
    template = results_shared(runtime, round_id)[0]
    assert fallbacks(runtime) == []
    for status in ("failed", "failed", "undelivered"):  # a report repeated changes nothing
        assert delivery_report(client, template.provider_id or "", status, "63016") == 204
        drain(runtime)
    assert [(row.text, row.status) for row in fallbacks(runtime)] == [(template.text, "sent")]
    assert whatsapp.bodies_to(AMINA) == [template.text]
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, template.id).error_code == "63016"
    assert failures(runtime, round_id) == {("whatsapp", "63016"): 1}


def test_a_template_refused_later_brings_every_message_it_carried_by_sms(runtime, whatsapp,
                                                                         monkeypatch):
    client = client_for(runtime)
    configured(monkeypatch, TEMPLATES, fallback=True)
    a_contact(runtime, "sw")
    round_id = launched(runtime)
    intro, consent = outbox(runtime)
    assert delivery_report(client, intro.provider_id or "", "undelivered", "63016") == 204
    drain(runtime)
    assert whatsapp.bodies_to(AMINA) == [intro.text, consent.text]  # SMS: one choice a line
    assert "\n1 " in consent.text
    whatsapp_rows = [row for row in outbox(runtime) if row.channel == "whatsapp"]
    assert [(row.status, row.error_code) for row in whatsapp_rows] == [("undelivered", "63016")] * 2
    assert failures(runtime, round_id) == {("whatsapp", "63016"): 2}


def test_a_template_twilio_refuses_otherwise_fails_every_message_it_carried(
        runtime, whatsapp, monkeypatch):
    client_for(runtime)
    configured(monkeypatch, TEMPLATES, fallback=True)
    a_contact(runtime, "en")
    whatsapp.fail(WHATSAPP, 400, 63027, "Template does not exist for a language and locale")
    round_id = launched(runtime)
    assert [(row.status, row.error_code) for row in outbox(runtime)] == [("failed", "63027")] * 2
    assert failures(runtime, round_id) == {("whatsapp", "63027"): 2}
    assert AMINA not in whatsapp.by_to  # not a refusal for the window: no SMS


def test_without_the_fallback_63016_is_a_visible_failure_only(runtime, whatsapp):
    client_for(runtime)
    a_contact(runtime, "en", wrote_hours_ago=2)
    whatsapp.fail(WHATSAPP, 400, 63016, "outside the allowed window", times=5)
    round_id = launched(runtime)
    assert fallbacks(runtime) == [] and AMINA not in whatsapp.by_to
    assert failures(runtime, round_id) == {("whatsapp", "63016"): 2}


# --- the window's bookkeeping --------------------------------------------------------------

def test_a_persons_message_reopens_the_window_one_update_per_batch(runtime, whatsapp):
    client = client_for(runtime)
    round_id = joined(runtime, client)
    wrote_hours_ago(runtime, 30)
    other = "+254722000111"
    for number, sender in enumerate([WHATSAPP, f"whatsapp:{other}", "+254733000222"]):
        sms(client, sender, "hello", f"SMhello{number}")
    updates: list[str] = []

    def seen(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Counts the statements that keep the window."""
        if statement.startswith("UPDATE contacts SET last_inbound_at"):
            updates.append(statement)

    engine = get_engine(runtime.database_url)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        jobs.drain_inbox()  # the three messages, one batch
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(updates) == 1
    with session_scope(runtime.database_url) as db:
        wrote = {(contact.channel, contact.address): contact.last_inbound_at
                 for contact in db.scalars(select(Contact))}
        received = {(row.channel, row.address): row.received_at for row in db.scalars(
            select(InboxMessage).where(InboxMessage.provider_id.startswith("SMhello")))}
    assert wrote[("whatsapp", AMINA)] == received[("whatsapp", AMINA)]
    assert wrote[("whatsapp", other)] == received[("whatsapp", other)]
    assert wrote[("sms", "+254733000222")] is None  # SMS has no window to keep
    drain(runtime)
    results_shared(runtime, round_id)
    assert whatsapp.templates_to(WHATSAPP) == []  # her window is open again: free-form


def test_a_template_send_whose_outcome_was_lost_is_found_at_twilio_not_sent_again(
        runtime, whatsapp):
    client = client_for(runtime)
    round_id = joined(runtime, client)
    wrote_hours_ago(runtime, 30)
    template = results_shared(runtime, round_id)[0]
    as_if_its_sender_died_mid_call(runtime, template.id)
    assert jobs.send_outbound(template.id) == "sent"
    assert len(whatsapp.templates_to(WHATSAPP)) == 1
    with session_scope(runtime.database_url) as db:
        assert db.get_one(OutboxMessage, template.id).provider_id == whatsapp.sent[-1]["Sid"]


@pytest.mark.parametrize("value, named", [
    ("invitation=HX" + "1" * 32, "'invitation=HX1"),
    ("invite:sw=HX" + "1" * 32, "'invite:sw=HX"),
    ("results:sw=HX123", "'results:sw=HX123'"),
    (f"results:sw={RESULTS_SW},results:SW={INVITATION_SW}", "results:sw is given twice"),
])
def test_a_malformed_template_setting_names_the_variable_and_the_pair(monkeypatch, value,
                                                                       named):
    monkeypatch.setenv("HEARD_WHATSAPP_TEMPLATES", value)
    with pytest.raises(SettingError, match="HEARD_WHATSAPP_TEMPLATES") as raised:
        get_settings()
    assert named in str(raised.value)


def test_the_template_setting_reads_each_purpose_and_language(monkeypatch):
    monkeypatch.setenv("HEARD_WHATSAPP_TEMPLATES", f" invitation:pt-BR={INVITATION_EN} , "
                       f"results:sw={RESULTS_SW},")
    settings = get_settings()
    assert settings.whatsapp_template("invitation", "pt-br") == INVITATION_EN
    assert settings.whatsapp_template("results", "sw") == RESULTS_SW
    assert settings.whatsapp_template("reminder", "sw") is None
