"""USSD through Africa's Talking: whole sessions through the webhook, as AT posts them.

AT sends every input of a session joined with `*` in `text`; heard answers CON (a screen that
waits) or END (the last). Each test dials, types, and reads the screens back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from heard.commands.rounds import app as round_cli
from heard.commands.survey import app as survey_cli
from surveys import catalog
from surveys.database import session_scope
from surveys.engine import question_reply, start
from surveys.i18n import translator
from surveys.settings import SettingError, get_settings
from surveys.tables import Contact, InboxMessage, OutboxMessage, Round, SurveySession
from surveys.tokens import create_token
from surveys.validation import load_survey
from surveys.words import keypad_digits
from tests.cases import CaseFile, inbox_row, queued
from tests.pipeline import answers, client_for, count, drain
from tests.test_sms import TOKEN, sms
from ussd.adapter import PageTo, Say, Shown, locate, meaning
from ussd.fit import question_screens
from ussd.screens import fits, survey_screens
from worker import rounds

SECRET = "a-secret-of-our-own-123"
WEBHOOK = f"/ussd/africastalking/{SECRET}"
SERVICE = "*384*123#"
KENYA = "+254712345678"  # Swahili first
USA = "+14155550123"  # a country heard has no language for: the survey's first (English)
MALAWI = "+265991234567"  # Chichewa
HERE = Path(__file__).parent / "data" / "ussd"
WATER = HERE.parent / "water.yaml"
EXAMPLES = HERE.parent.parent.parent / "surveys" / "examples"


@pytest.fixture
def ussd(runtime, monkeypatch) -> None:
    monkeypatch.setenv("HEARD_USSD_SECRET", SECRET)


class Dial:
    """One USSD session as AT drives it: each `type` posts all inputs so far, joined by `*`."""

    def __init__(self, client: Any, session_id: str, phone: str = USA,
                 service: str = SERVICE) -> None:
        self.client, self.session_id, self.phone, self.service = client, session_id, phone, service
        self.inputs: list[str] = []

    def post(self, text: str) -> str:
        response = self.client.post(WEBHOOK, data={
            "sessionId": self.session_id, "serviceCode": self.service,
            "phoneNumber": self.phone, "networkCode": "63902", "text": text})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        body = response.text
        assert body.startswith(("CON ", "END ")), body
        assert fits(body[4:]), f"does not fit one screen: {body!r}"
        return body

    def open(self) -> str:
        return self.post("")

    def type(self, typed: str) -> str:
        self.inputs.append(typed)
        return self.post("*".join(self.inputs))


def open_round(runtime, survey: str = "test-water", code: str = "WATER367",
               continue_by: str = "ussd") -> str:
    with session_scope(runtime.database_url) as db:
        made = rounds.create_round(db, catalog.latest(db, survey), None)
        made.code, made.ussd_continue = code, continue_by
    return code


def joined(client, runtime, session_id: str = "ATUid_1", phone: str = USA) -> Dial:
    open_round(runtime)
    dial = Dial(client, session_id, phone)
    assert dial.open() == "CON Welcome to heard. To answer a survey, enter its code."
    return dial


def test_a_whole_session_answers_every_kind_of_question(runtime, ussd):
    client = client_for(runtime)
    dial = joined(client, runtime)
    assert dial.type("92837367") == ("CON Five questions about water.\n"
                                     "Reply LANG to change the language.\n"
                                     "Do you agree?\n1 Yes\n2 No")
    assert dial.type("1") == ("CON Where do you get water?\n1 Tap at home\n2 Public well\n"
                              "3 Other\n0 Back")
    assert dial.type("3") == "CON Which other source?\n0 Back"
    assert dial.type("Mto*Nairobi") == "CON How many days a week is there water?\n00 Back"
    assert dial.type("0") == ("CON Almost done.\nAny problems?\n1 Dirty water\n2 Too far\n"
                              "3 Costs money\nType the numbers of all that apply, e.g. 13.\n"
                              "0 Back")
    assert dial.type("13") == "CON Is the water safe?\n1 Yes\n2 No\n0 Back"
    assert dial.type("2") == "CON Litres per day?\n00 Back"
    assert dial.type("2.5") == "END Thank you!"
    assert answers(runtime) == {"source": "other", "source_other": "Mto*Nairobi", "days": 0,
                                "problems": ["dirty", "cost"], "safe": "no", "litres": 2.5}
    with session_scope(runtime.database_url) as db:
        contact = db.scalars(select(Contact)).one()
        assert (contact.channel, contact.address) == ("ussd", USA)
        assert db.scalars(select(SurveySession.status)).all() == ["completed"]
        assert db.scalars(select(InboxMessage.provider_id).order_by(InboxMessage.id)).all() == [
            f"ATUid_1:{step}" for step in range(9)]
        assert set(db.scalars(select(OutboxMessage.status))) == {"sent"}


def test_a_swahili_session_pages_long_screens_and_the_intro_has_its_own(runtime, ussd):
    client = client_for(runtime)
    code = open_round(runtime, "water-access", "MAJI123")
    dial = Dial(client, "ATUid_sw", KENYA)
    assert dial.open() == "CON Karibu heard. Kujibu utafiti, andika msimbo wake."
    intro = dial.type(keypad_digits(code))
    assert intro == ("CON Habari! Utafiti huu mfupi unahusu maji katika jamii yako. Unachukua "
                     "takriban dakika 5. Jibu STOP wakati wowote kusitisha.\n"
                     "Jibu LANG kubadilisha lugha.\n1 Endelea")
    consent = dial.type("1")  # on from the intro: the question on a screen of its own
    assert consent == ("CON Je, unakubali kujibu? Majibu yako hayataonyesha jina lako.\n"
                       "1 Ndiyo\n2 Hapana\n0 Rudi")
    assert dial.type("0") == intro  # back a page
    assert dial.type("98") == consent
    assert dial.type("1").startswith("CON Jinsia yako ni ipi?\n1 Mwanamke")
    assert dial.type("1").startswith("CON Una umri gani?")
    source = dial.type("2")  # age group 18-29
    assert source.startswith("CON Mnapata maji ya kunywa hasa kutoka wapi?\n1 Bomba nyumbani")
    assert source.endswith("\n98 Zaidi\n0 Rudi") and "7 Kwingine" not in source
    rest = dial.type("98")
    assert rest.startswith("CON ") and "7 Kwingine" in rest and rest.endswith("\n0 Rudi")
    assert "98 Zaidi" not in rest
    assert dial.type("0") == source  # the first page again; 0 there is the question before
    assert dial.type("7").startswith("CON Tafadhali")  # an option of the second page, typed
    assert answers(runtime) == {"gender": "female", "age_group": "age_18_29", "source": "other"}
    with session_scope(runtime.database_url) as db:  # pages turned are kept, as handled
        assert db.scalars(select(InboxMessage.outcome).where(
            InboxMessage.outcome == "page")).all() == ["page"] * 5


def test_a_bengali_screen_fits_ucs2_and_keys_read_in_bengali_digits(runtime, ussd):
    client = client_for(runtime)
    code = open_round(runtime, "water-access", "PANI123")
    dial = Dial(client, "ATUid_bn", "+8801712345678")
    dial.open()
    intro = dial.type(keypad_digits(code))
    assert intro.startswith("CON হ্যালো!") and intro.endswith("১ চালিয়ে যান")
    for screen in (intro, dial.type("১")):
        assert len(screen[4:].encode("utf-16-le")) // 2 <= 80


def test_back_goes_back_a_question_and_its_answer_is_taken_again(runtime, ussd):
    client = client_for(runtime)
    dial = joined(client, runtime)
    dial.type("92837367")
    dial.type("1")
    assert dial.type("1") == "CON How many days a week is there water?\n00 Back"
    # (0 days is an answer: 00 goes back)
    assert dial.type("00") == ("CON Where do you get water?\n1 Tap at home\n2 Public well\n"
                               "3 Other\n0 Back")
    assert answers(runtime) == {}
    dial.type("2")
    assert dial.type("7").startswith("CON Almost done.")
    assert dial.type("0") == "CON How many days a week is there water?\n00 Back"
    assert answers(runtime) == {"source": "well"}
    dial.type("0")
    assert answers(runtime) == {"source": "well", "days": 0}


def test_consent_has_no_back_and_a_no_ends_the_session(runtime, ussd):
    client = client_for(runtime)
    dial = joined(client, runtime)
    assert dial.type("92837367").endswith("Do you agree?\n1 Yes\n2 No")
    assert dial.type("2") == "END Thank you. We will not ask you again for this survey."


def test_a_chichewa_session_answers_a_date_and_a_rating_with_short_texts(runtime, ussd):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        catalog.register(db, load_survey(HERE / "clinic.yaml"))
    code = open_round(runtime, "test-clinic", "CHIPA123")
    dial = Dial(client, "ATUid_ny", MALAWI)
    assert dial.open().startswith("CON Takulandirani ku heard.")
    assert dial.type("CHIPA123") == (
        "CON Mafunso atatu okhudza chipatala.\nYankhani LANG kuti musinthe chiyankhulo.\n"
        "Chipatala chiti munapitako komaliza?\n"
        "1 Chipatala cha boma\n2 Malo azaumoyo\n3 Chachinsinsi\n0 Bwererani")
    assert dial.type("2") == "CON Munapita liti?\n0 Bwererani"
    assert dial.type("2026-11-30").startswith("CON Chithandizo chinali bwanji?\n1-5 (")
    assert dial.type("4") == "END Zikomo!"
    assert answers(runtime) == {"visit": "health_centre", "when": "2026-11-30", "service": 4}
    assert code


def test_a_replayed_callback_gets_the_same_screen_and_stores_nothing_twice(runtime, ussd):
    client = client_for(runtime)
    dial = joined(client, runtime)
    first = dial.type("92837367")
    stored = count(runtime, InboxMessage)
    assert dial.post("92837367") == first  # AT asks again: the same step
    assert dial.post("") == "CON Welcome to heard. To answer a survey, enter its code."
    assert count(runtime, InboxMessage) == stored
    where = dial.type("1")
    assert dial.post("92837367*1") == where
    assert count(runtime, InboxMessage) == stored + 1
    dial.type("98")  # a page turned (nothing to turn: the answer 98, refused) is a step too
    assert count(runtime, InboxMessage) == stored + 2


def test_a_session_that_timed_out_goes_on_at_the_next_question_when_dialled_again(
        runtime, ussd):
    client = client_for(runtime)
    dial = joined(client, runtime)
    dial.type("92837367")
    dial.type("1")
    dial.type("1")
    assert dropped(client, "ATUid_1").status_code == 204  # the round goes on by USSD
    again = Dial(client, "ATUid_2")
    assert again.open() == "CON How many days a week is there water?\n00 Back"
    assert again.type("3").startswith("CON Almost done.")
    assert answers(runtime) == {"source": "tap", "days": 3}
    assert count(runtime, OutboxMessage, OutboxMessage.channel == "sms") == 0


def test_a_round_may_go_on_by_sms_after_a_timeout(runtime, ussd, twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    client = client_for(runtime)
    open_round(runtime, continue_by="sms")
    dial = Dial(client, "ATUid_1")
    dial.open()
    dial.type("92837367")
    dial.type("1")
    assert dropped(client, "ATUid_1").status_code == 204
    assert dropped(client, "ATUid_1").status_code == 204  # told twice: moved once
    drain(runtime)
    assert twilio.bodies_to(USA) == [
        "Your USSD session ended before the survey did. It goes on here: reply to this SMS.",
        "Where do you get water?\n1 Tap at home\n2 Public well\n3 Other"]
    assert sms(client, USA, "2", "SM1").status_code == 200
    drain(runtime)
    assert answers(runtime) == {"source": "well"}
    with session_scope(runtime.database_url) as db:
        session = db.scalars(select(SurveySession)).one()
        contact = db.get_one(Contact, session.contact_id)
        assert (contact.channel, contact.address) == ("sms", USA)


def test_a_session_that_ended_well_moves_nothing(runtime, ussd, twilio):
    client = client_for(runtime)
    open_round(runtime, continue_by="sms")
    dial = Dial(client, "ATUid_1")
    dial.open()
    dial.type("92837367")
    assert dropped(client, "ATUid_1", "Success").status_code == 204
    assert count(runtime, OutboxMessage, OutboxMessage.channel == "sms") == 0


def test_a_service_code_opens_its_round_at_once(runtime, ussd, monkeypatch):
    monkeypatch.setenv("HEARD_USSD_ROUNDS", f"{SERVICE}=WATER367")
    client = client_for(runtime)
    open_round(runtime)
    dial = Dial(client, "ATUid_1")
    assert dial.open().endswith("Do you agree?\n1 Yes\n2 No")


def test_a_wrong_code_is_asked_again_and_one_who_opted_out_may_take_part_again(runtime, ussd):
    client = client_for(runtime)
    dial = joined(client, runtime)
    assert dial.type("12345") == ("CON That code is not for a survey that is open now. Enter "
                                  "it again.")
    dial.type("92837367")
    assert dial.type("STOP") == ("END You will get no more messages from us. Reply START to "
                                 "join again.")
    again = Dial(client, "ATUid_2")
    assert again.open() == ("CON You asked us not to contact you, so we will not. To take "
                            "part again, reply 1.")
    assert again.type("1").endswith("Do you agree?\n1 Yes\n2 No")


@pytest.mark.parametrize("secret", [None, "wrong-secret-of-the-same-size", ""])
def test_a_callback_without_the_secret_is_refused_and_nothing_stored(runtime, ussd, secret):
    client = client_for(runtime)
    path = WEBHOOK.replace(SECRET, secret) if secret else "/ussd/africastalking/"
    response = client.post(path, data={"sessionId": "ATUid_1", "serviceCode": SERVICE,
                                       "phoneNumber": USA, "text": ""})
    assert response.status_code in (403, 404, 405)
    if secret:
        assert response.status_code == 403
        assert response.json()["detail"] == "wrong secret in the USSD callback URL"
    assert count(runtime, InboxMessage) == 0


def test_callbacks_are_refused_while_no_secret_is_set(runtime):
    client = client_for(runtime)
    response = client.post(WEBHOOK, data={"sessionId": "ATUid_1", "serviceCode": SERVICE,
                                          "phoneNumber": USA, "text": ""})
    assert response.status_code == 403
    assert "HEARD_USSD_SECRET" in response.json()["detail"]


@pytest.mark.parametrize(("form", "detail"), [
    ({"serviceCode": SERVICE, "phoneNumber": USA, "text": ""},
     "missing Africa's Talking field(s): sessionId"),
    ({"sessionId": "ATUid_1", "serviceCode": SERVICE, "text": ""},
     "missing Africa's Talking field(s): phoneNumber"),
    ({"sessionId": "ATUid_1", "serviceCode": SERVICE, "phoneNumber": USA},
     "missing Africa's Talking field(s): text"),
    ({"sessionId": "ATUid 1;drop", "serviceCode": SERVICE, "phoneNumber": USA, "text": ""},
     "sessionId: expected up to 100 letters, digits and _.:-, got 'ATUid 1;drop'"),
    ({"sessionId": "ATUid_1", "serviceCode": SERVICE, "phoneNumber": "anonymous", "text": ""},
     "phoneNumber: "),
])
def test_a_bad_payload_is_a_400_naming_the_field(runtime, ussd, form, detail):
    client = client_for(runtime)
    response = client.post(WEBHOOK, data=form)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert count(runtime, InboxMessage) == 0


def test_a_bad_end_notification_is_a_400_naming_the_field(runtime, ussd):
    client = client_for(runtime)
    response = client.post(WEBHOOK + "/end", data={"sessionId": "ATUid_1", "phoneNumber": USA,
                                                   "status": "Lost"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("status: expected one of Failed, Incomplete")


# --- the adapter, pure ------------------------------------------------------------------

def test_the_newest_input_is_what_follows_the_text_read_before_stars_and_all():
    assert locate([], "") == locate([], "") and locate([], "").step == 0
    assert locate([0], "1") .input == "1"
    assert locate([0, 1], "1*Mto*Nairobi").input == "Mto*Nairobi"
    assert locate([0, 1, 13], "1*Mto*Nairobi*2") .input == "2"
    assert locate([0, 1, 13], "1*Mto*Nairobi").replay
    assert locate([0, 1, 13], "1*Mto*Nairobi").step == 2
    assert locate([0, 1, 13], "1*Mto").replay  # an older one never answered: the newest


def test_keys_read_by_the_screen_they_answer():
    assert meaning("98", Shown(0, 2)) == PageTo(1)
    assert meaning("98", Shown(1, 2)) == Say("98")  # the last page: an answer
    assert meaning("0", Shown(1, 2)) == PageTo(0)
    assert meaning("0", Shown(0, 2)) == Say("back")
    assert meaning("0", Shown(0, 1, back_key="00")) == Say("0")
    assert meaning("5", Shown(0, 2, messages_only=True)) == PageTo(1)
    assert meaning("135", Shown(multi_choices=3)) == Say("1 3 5")
    assert meaning("12", Shown(multi_choices=12)) == Say("12")
    assert meaning("১", Shown(rejoin=True)) == Say("start")


def dropped(client, session_id: str, status: str = "Incomplete", phone: str = USA) -> Any:
    """AT's end-of-session notification."""
    return client.post(WEBHOOK + "/end", data={
        "sessionId": session_id, "serviceCode": SERVICE, "networkCode": "63902",
        "phoneNumber": phone, "status": status, "durationInMillis": "45000",
        "hopsCount": "3", "input": "", "lastAppResponse": "", "errorMessage": "", "cost": "0"})



# --- the round setting, the CLI and the API ----------------------------------------------

def test_the_cli_and_the_api_create_a_round_that_goes_on_by_sms(runtime, ussd):
    made = CliRunner().invoke(round_cli, ["create", "--survey", str(WATER),
                                          "--ussd-continue", "sms"])
    assert made.exit_code == 0, made.output
    assert "a USSD session that times out goes on by sms" in made.output
    refused = CliRunner().invoke(round_cli, ["create", "--survey", str(WATER),
                                             "--ussd-continue", "fax"])
    assert refused.exit_code == 1
    assert "--ussd-continue: 'fax' is not one of ussd, sms" in refused.output
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        headers = {"Authorization": f"Bearer {create_token(db, 'facilitator', 'f')}"}
        assert db.scalars(select(Round.ussd_continue)).all() == ["sms"]
    created = client.post("/api/v1/rounds", headers=headers,
                          json={"survey": "test-water", "ussd_continue": "sms"})
    assert created.status_code == 201 and created.json()["ussd_continue"] == "sms"
    plain = client.post("/api/v1/rounds", headers=headers, json={"survey": "test-water"})
    assert plain.json()["ussd_continue"] == "ussd"
    wrong = client.post("/api/v1/rounds", headers=headers,
                        json={"survey": "test-water", "ussd_continue": "fax"})
    assert wrong.status_code == 422 and "ussd_continue" in wrong.text


# --- validate: USSD screens per language ---------------------------------------------------

def test_validate_reports_paged_screens_and_refuses_a_short_text_too_long(tmp_path):
    result = CliRunner().invoke(survey_cli, ["validate", str(HERE / "clinic.yaml"),
                                             str(EXAMPLES / "water-access.yaml")])
    assert result.exit_code == 0, result.output
    assert "clinic.yaml: USSD screens: ny 0 of 3 questions paged, en 0 of 3" in result.output
    assert ("water-access.yaml: USSD screens: en 2 of 9 questions paged (question 'source' "
            "(2), question 'problems' (2))") in result.output
    long = tmp_path / "long.yaml"
    long.write_text((HERE / "clinic.yaml").read_text().replace(
        "short: {ny: Chipatala chiti munapitako komaliza?",
        "short: {ny: " + "Chipatala chiti munapitako komaliza " * 6 + "?"))
    result = CliRunner().invoke(survey_cli, ["validate", str(long)])
    assert result.exit_code == 1
    assert ("long.yaml: error: question 'visit' short (ny) takes 2 USSD screens: shorten it "
            "to fit one") in result.output
    piped = tmp_path / "piped.yaml"
    piped.write_text((HERE / "clinic.yaml").read_text().replace(
        "short: {ny: Munapita", "short: {xx: Munapita").replace(
        "text: {ny: Munapita liti?, en: When did you go?}",
        "text: {ny: Munapita liti?, en: When did you go?}\n    short: {fr: Quand?}"))
    result = CliRunner().invoke(survey_cli, ["validate", str(piped)])
    assert result.exit_code == 1
    assert "question 'when' short: language 'fr' is not in the survey's languages" in (
        result.output)


def test_nothing_is_sent_to_a_ussd_contact_outside_their_session():
    from surveys.tables import OutboxMessage as Row
    from ussd.sender import ussd_sender
    from worker.senders import PermanentSendError

    with pytest.raises(PermanentSendError) as refused:
        ussd_sender()(Row(channel="ussd", address=USA, text="Reminder"))
    assert refused.value.code == "ussd_no_push"


# --- the labelled webhook cases ------------------------------------------------------------

CASES = CaseFile(HERE / "incoming.json")


@pytest.mark.parametrize("case", CASES.params())
def test_ussd_case(runtime, ussd, case):
    """tests/data/ussd/incoming.json: form → status → answer → the step's inbox row → the
    jobs queued (none: a session is answered inline)."""
    client = client_for(runtime)
    if case.get("round"):
        survey = case["round"] if isinstance(case["round"], str) else "test-water"
        open_round(runtime, survey, "WATER367")
    form = case["form"]
    for text in case.get("before", []):
        assert client.post(WEBHOOK, data=form | {"text": text}).status_code == 200
    runtime.redis.flushdb()  # the case's own jobs only
    path = WEBHOOK.replace(SECRET, case.get("secret", SECRET)) + case.get("path", "")
    for _ in range(case.get("repeat", 1)):
        response = client.post(path, data=form)
    answer = (response.json() if response.headers.get("content-type", "").startswith(
        "application/json") else response.text)
    got: dict[str, Any] = {
        "status": response.status_code, "response": answer,
        "inbox": inbox_row(runtime, "ussd", case.get("provider_id", f"{form['sessionId']}:0")),
        "queued": queued(runtime)}
    CASES.check(case, got)


def test_every_screen_of_the_examples_fits_and_twenty_question_screens_need_pages():
    """heard's own examples: every page fits a screen (182 GSM-7 or 80 UCS-2 characters); the
    first screen's question is never cut off behind its intro; 20 question screens page."""
    paged = 0
    for path in sorted(EXAMPLES.glob("*.yaml")):
        survey = load_survey(path)
        for lang in survey.languages:
            screens = question_screens(survey, lang)
            for what, screen in screens:
                assert all(fits(page) for page in screen.pages), (path.name, lang, what)
            first, asked = screens[0][1], start(survey, lang, ask_consent=True).replies[-1]
            if len(first.pages) > 1:  # the intro on its own page(s); the question begins one
                assert first.pages[first.messages_only].startswith(asked.text[:20]), (
                    path.name, lang)
            paged += sum(len(screen.pages) > 1 for _, screen in screens[1:])
    assert paged == 20


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("HEARD_USSD_ROUNDS", "384123=WATER367", "'384123=WATER367' is not service code=round code"),
    ("HEARD_USSD_ROUNDS", "*384*123#=", "'*384*123#=' is not service code=round code"),
    ("HEARD_USSD_SECRET", "short", "HEARD_USSD_SECRET='short': expected a secret of at least "
                                   "16 characters"),
])
def test_a_bad_ussd_setting_names_its_variable(monkeypatch, name, value, problem):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as refused:
        get_settings()
    assert problem in str(refused.value)


def test_ussd_rounds_are_read_into_service_codes_and_round_codes(monkeypatch):
    monkeypatch.setenv("HEARD_USSD_ROUNDS", "*384*123#=water367, *384*124*1#=MAJI123")
    assert get_settings().ussd_rounds == {"*384*123#": "WATER367", "*384*124*1#": "MAJI123"}


def test_a_long_number_question_pages_back_with_00_as_0_is_an_answer():
    survey = load_survey(HERE.parent / "water.yaml")
    days = survey.question("days").model_copy(update={"text": {
        lang: "How many days a week is there water at the place where you get it? " * 3
        for lang in survey.languages}})
    reply = question_reply(days, "en", "en")
    screens = survey_screens([reply], survey, "en", translator("en"))
    assert len(screens.pages) == 2 and screens.back_key == "00"
    assert screens.pages[0].endswith("\n98 More\n00 Back")
    assert screens.pages[1].endswith("\n00 Back")
    assert meaning("00", screens.shown(1)) == PageTo(0)
    assert meaning("0", screens.shown(1)) == Say("0")  # the answer 0
    assert meaning("00", screens.shown(0)) == Say("back")
