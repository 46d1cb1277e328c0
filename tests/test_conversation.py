"""What a message means for the contact: keywords as typed, codes as typed, walk-ins' language,
media, edits, and never silence; pure rules first, then through the SMS webhook."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from surveys import catalog
from surveys.channels import CHANNELS, channel, importable
from surveys.conversation import (
    edited_reply,
    media_reply,
    not_in_a_survey,
    unknown_code,
    walk_in_language,
)
from surveys.database import session_scope
from surveys.engine import start, step
from surveys.i18n import translator
from surveys.tables import Contact, InboxMessage, SurveySession
from surveys.tokens import create_token
from surveys.validation import load_survey
from surveys.words import bare_word, command_of, join_code
from tests.conftest import HERE
from tests.pipeline import answers, client_for, count, drain, say
from tests.test_sms import AMINA, FROM, RAHIMA, signed_post
from worker import rounds
from worker.senders import sender_for

WATER = load_survey(HERE / "data" / "water.yaml")
TOKEN = "t"  # the shared twilio fixture's (tests/conftest.py)


def sms(client, sender: str, body: str, sid: str, **extra: str):
    form = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender, "To": FROM,
            "Body": body, "NumMedia": "0", **extra}
    return signed_post(client, "/sms/twilio", form, token=TOKEN)


@pytest.mark.parametrize(("text", "command"), [
    ("STOP.", "stop"), ("stop!", "stop"), (" Start. ", "start"), ("HELP?", "help"),
    ("lang sw", "lang"), ("(skip)", "skip"), ("1", None), ("stop it", None)])
def test_one_keyword_parser_reads_keywords_as_people_type_them(text, command):
    assert command_of(text, "en") == command


def test_codes_are_read_with_native_digits_spaces_and_a_full_stop():
    assert join_code("water৩৬৭.") == join_code(" WATER 367 ") == "WATER367"
    assert join_code("...") is None and bare_word("৩।") == "3"


def test_a_walk_in_gets_their_apps_language_else_their_countrys():
    assert walk_in_language(["en", "sw", "bn"], "sw-KE", "+8801712345678") == "sw"
    assert walk_in_language(["en", "sw", "bn"], None, "+8801712345678") == "bn"
    assert walk_in_language(["en", "sw"], "vi", "+84912345678") is None


def test_stop_then_start_resumes_the_same_session_where_it_was():
    opened = start(WATER, "en")
    answered = step(WATER, opened.state, "2")
    stopped = step(WATER, answered.state, "STOP.")
    assert stopped.state["status"] == "stopped" and "stop" in stopped.events
    back = step(WATER, stopped.state, "start")
    assert "resumed" in back.events and back.state["status"] == "active"
    assert back.state["current"] == answered.state["current"]
    assert back.state["answers"] == answered.state["answers"]


def test_stop_with_a_full_stop_outside_a_survey_opts_out_and_start_brings_back(runtime, twilio):
    client = client_for(runtime)
    sms(client, AMINA, "STOP.", "SM-c1")
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact.opted_out)).one() is True
    sms(client, AMINA, "start.", "SM-c2")
    drain(runtime)
    assert twilio.bodies_to(AMINA)[-2:] == [
        translator("en").gettext("You will get our messages again. Reply STOP to stop."),
        not_in_a_survey("en")]


def test_a_first_message_that_is_no_code_is_answered_with_what_to_do(runtime, twilio):
    client = client_for(runtime)
    sms(client, AMINA, "Hi, I saw your poster", "SM-c3")
    sms(client, "+254712345679", "WATER999", "SM-c4")
    drain(runtime)
    assert twilio.bodies_to(AMINA) == [not_in_a_survey("en")]
    assert twilio.bodies_to("+254712345679") == [unknown_code("en")]


def test_a_code_with_native_digits_joins_in_the_language_of_the_number(runtime, twilio):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        code = rounds.create_round(db, catalog.latest(db, "test-water"), None).code
    native = "".join("০১২৩৪৫৬৭৮৯"[int(ch)] if ch.isdigit() else ch for ch in code.lower())
    sms(client, RAHIMA, native + ".", "SM-c5")
    drain(runtime)
    assert count(runtime, SurveySession) == 1
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(SurveySession.state)).one()["lang"] == "bn"
    assert twilio.bodies_to(RAHIMA)[0] == WATER.intro["bn"] + "\n" + translator("bn").gettext(
        "Reply LANG to change the language.")  # heard guessed: it says how to change it


def test_a_photo_by_mms_is_no_answer_and_costs_no_attempt(runtime, twilio):
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        code = rounds.create_round(db, catalog.latest(db, "test-water"), None).code
    sms(client, AMINA, code, "SM-c6")
    sms(client, AMINA, "1", "SM-c7")  # consent
    drain(runtime)
    for number in range(3):
        sms(client, AMINA, "", f"SM-m{number}", NumMedia="1",
            MediaUrl0="https://api.twilio.com/x.jpg")
    drain(runtime)
    assert twilio.bodies_to(AMINA)[-3:] == [media_reply("sw")] * 3  # a Kenyan number
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(SurveySession.state)).one()["attempts"] == 0
    assert count(runtime, InboxMessage, InboxMessage.outcome == "media") == 3
    sms(client, AMINA, "2", "SM-c8")
    drain(runtime)
    assert answers(runtime) == {"source": "well"}


def test_an_unknown_twilio_status_is_refused_naming_it(runtime, twilio):
    client = client_for(runtime)
    response = signed_post(client, "/sms/twilio/status",
                           {"MessageSid": "SM-x", "MessageStatus": "teleported"}, token=TOKEN)
    assert response.status_code == 400 and "teleported" in response.text


def test_edits_say_how_to_change_an_answer():
    assert "BACK" in edited_reply("en")


def test_an_imported_consent_is_not_the_surveys_consent(runtime, twilio):
    """Agreeing to be contacted (an import's consent=yes) is not agreeing to this survey."""
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        db.add(Contact(channel="sms", address=AMINA, language="en", consent=True, profile={}))
        code = rounds.create_round(db, catalog.latest(db, "test-water"), None).code
    sms(client, AMINA, code, "SM-i1")
    drain(runtime)
    assert twilio.bodies_to(AMINA)[-1] == "Do you agree?\n1 Yes\n2 No"
    sms(client, AMINA, "yes", "SM-i2")
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(SurveySession.state)).one()["consent"] == "yes"


def test_one_registry_names_every_channel_and_what_it_can_do():
    """No module lists channel names: each asks the registry (surveys/channels.py)."""
    assert importable() == ("sms", "whatsapp", "telegram", "voice")
    assert channel("sms").sms_text and not channel("telegram").sms_text
    assert channel("telegram").charts and channel("whatsapp").phone_addresses
    assert channel("voice").keypad and not channel("voice").sms_text
    assert sender_for("simulator")(None) is None  # type: ignore[arg-type]
    name = r"""["'](?:sms|whatsapp|telegram)["']"""
    listed = re.compile(rf"[({{\[]\s*{name}\s*,\s*{name}")  # a list of two names or more
    root = Path(__file__).resolve().parent.parent
    offenders = [str(path.relative_to(root)) for folder in ("bot", "sms", "voice", "surveys",
                                                            "worker", "heard")
                 for path in (root / folder).rglob("*.py")
                 if path.name != "channels.py" and listed.search(path.read_text("utf-8"))]
    assert offenders == [] and set(CHANNELS) >= {"sms", "whatsapp", "telegram", "simulator"}


def test_every_channel_package_has_the_same_shape():
    """Each channel's adapter is pure and speaks surveys.actions; its webhook writes nothing
    itself (worker.pipeline does); its sender is the one the registry names."""
    root = Path(__file__).resolve().parent.parent
    io = ("sqlalchemy", "redis", "rq", "httpx", "requests", "worker", "surveys.database",
          "surveys.tables", "surveys.sql", "fastapi")
    writes = ("surveys.database", "surveys.tables", "surveys.sql", "worker.ingest")
    packages = {path.partition(".")[0] for path in (found.sender for found in CHANNELS.values())
                if not path.startswith("worker.")}
    assert packages == {"sms", "bot", "voice", "ussd"}
    for package in sorted(packages):
        adapter, webhook = (imports_of(root / package / f"{name}.py")
                            for name in ("adapter", "webhook"))
        assert "surveys.actions" in adapter, package
        assert not [name for name in adapter if name.startswith(io)], package
        assert not [name for name in webhook if name.startswith(writes)], package
        assert (root / package / "sender.py").exists()


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_simulated_people_never_join_a_real_round(runtime):
    """A round's code is guessable: typed into the simulator it starts no session in the
    round (nothing in its status or exports), only the simulator's own survey."""
    client = client_for(runtime)
    with session_scope(runtime.database_url) as db:
        round_ = rounds.create_round(db, catalog.latest(db, "test-water"), None)
        code, round_id = round_.code, round_.id
    say(client, "faker", code)
    say(client, "faker", "yes")
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(SurveySession.round_id)).all() == [None]
        assert db.scalars(select(SurveySession).where(SurveySession.round_id == round_id)
                          ).first() is None


def test_the_simulator_needs_a_facilitator_token_in_production(runtime, monkeypatch):
    client = client_for(runtime)
    monkeypatch.setenv("HEARD_SIMULATOR", "token")
    message = {"survey": "test-water", "address": "x", "text": "hi"}
    assert client.post("/api/v1/simulate", json=message).status_code == 401
    assert client.get("/api/v1/simulate/x").status_code == 401
    with session_scope(runtime.database_url) as db:
        token = create_token(db, "facilitator", "test")
        analyst = create_token(db, "analyst", "test")
    assert client.post("/api/v1/simulate", json=message,
                       headers={"Authorization": f"Bearer {analyst}"}).status_code == 403
    assert client.post("/api/v1/simulate", json=message,
                       headers={"Authorization": f"Bearer {token}"}).status_code == 202
    monkeypatch.setenv("HEARD_SIMULATOR", "off")
    assert client.post("/api/v1/simulate", json=message).status_code == 404
    monkeypatch.delenv("HEARD_SIMULATOR")  # production (DATABASE_URL set): token by default
    assert client.get("/api/v1/simulate/x").status_code == 401
    assert client.get("/simulator").status_code == 200  # the page asks for the token
