"""Voice calls through Twilio: signed webhooks in, TwiML out, answered with the phone's keys."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from surveys import catalog
from surveys.database import session_scope
from surveys.numbers import read_number
from surveys.settings import SettingError, get_settings
from surveys.tables import Contact, InboxMessage, SurveySession
from surveys.validation import load_survey
from surveys.words import keypad_digits
from tests.pipeline import answers, client_for, count
from tests.test_sms import PUBLIC, TOKEN, launched, signed_post
from voice.adapter import keys_as_text
from worker import rounds

NUMBER = "+15005550006"  # heard's number, which people call
CALLER = "+14155550123"  # a country heard has no language for: the survey's first (English)
RAHIMA = "+8801712345678"  # Bangladesh: Bengali
WEBHOOK = PUBLIC + "/voice/twilio"


@pytest.fixture
def voice(runtime, monkeypatch) -> None:
    for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
                        "PUBLIC_BASE_URL": PUBLIC,
                        "HEARD_VOICE_LANGUAGES": "en=en-US,sw=sw-KE:Google.sw-KE-Standard-A"
                        }.items():
        monkeypatch.setenv(name, value)


def open_round(runtime) -> str:
    """A round of test-water, open now: the code a caller types on the keys."""
    with session_scope(runtime.database_url) as db:
        return rounds.create_round(db, catalog.latest(db, "test-water"), None).code or ""


def press(client, sid: str, action: str = WEBHOOK, digits: str | None = None,
          caller: str = CALLER) -> tuple[ET.Element, bytes]:
    """One request of call `sid` as Twilio makes it, to `action` (a Gather's); the TwiML."""
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound"}
    if digits is not None:
        form["Digits"] = digits
    response = signed_post(client, action.removeprefix(PUBLIC), form)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root, response.content


def asked(root: ET.Element, one_key: bool, language: str = "en-US",
          again: bool = True) -> tuple[list[str], str]:
    """A TwiML that waits for keys: one Gather saying sentences in `language`, then (`again`)
    a Redirect that asks once more when no key comes; what it says and where it posts keys."""
    assert [child.tag for child in root] == ["Gather"] + (["Redirect"] if again else [])
    if again:
        assert "silent=1" in (silence(root) or "") and root[1].get("method") == "POST"
    gather = root[0]
    assert gather.get("input") == "dtmf" and gather.get("method") == "POST"
    assert gather.get("finishOnKey") == "#"
    assert gather.get("numDigits") == ("1" if one_key else None)
    assert gather.get("action", "").startswith(WEBHOOK + "?step=")
    assert [child.tag for child in gather] == ["Say"] * len(gather)
    assert {say.get("language") for say in gather} == {language}
    return [say.text or "" for say in gather], gather.get("action", "")


def silence(root: ET.Element) -> str | None:
    """Where the call goes when no key is pressed (None: it ends)."""
    redirect = root.find("Redirect")
    return redirect.text if redirect is not None else None


def ended(root: ET.Element) -> list[str]:
    """A TwiML that says its sentences and hangs up."""
    assert [child.tag for child in root][-1] == "Hangup"
    assert [child.tag for child in root][:-1] == ["Say"] * (len(root) - 1)
    return [say.text or "" for say in root[:-1]]


KEYS = ("Answer with your phone's keys. Press star at any time to hear the question again, go "
        "back, get help or stop these calls.")
MENU = ["To hear the question again, press 1. To go back to the question before, press 2. "
        "For help, press 3. To get no more calls from us, press 4."]
WHERE = ["Where do you get water?", "Press 1 for Tap at home.", "Press 2 for Public well.",
         "Press 3 for Other."]


def joined(client, runtime, sid: str, caller: str = CALLER) -> tuple[list[str], str]:
    """A walk-in calls and types the round's code: the survey's opening, asked."""
    code = open_round(runtime)
    said, action = asked(press(client, sid)[0], one_key=False)
    assert said == ["Welcome to heard. To answer a survey, type its code with your phone's "
                    "keys, then press the hash key."]
    return asked(press(client, sid, action, keypad_digits(code), caller)[0], one_key=True)


def test_a_whole_call_answers_every_kind_of_question_with_keys(runtime, voice):
    client = client_for(runtime)
    said, action = joined(client, runtime, "CA1")
    assert said == ["Five questions about water.", KEYS, "Do you agree?", "Press 1 for Yes.",
                    "Press 2 for No."]  # written-only hints (Reply LANG) are not said
    said, action = asked(press(client, "CA1", action, "1")[0], one_key=True)
    assert said == WHERE
    said, action = asked(press(client, "CA1", action, "1")[0], one_key=False)
    assert said == ["How many days a week is there water?",
                    "Type your answer with the number keys, then press the hash key."]
    said, action = asked(press(client, "CA1", action, "5")[0], one_key=False)
    assert said == ["Almost done.", "Any problems?", "Press 1 for Dirty water.",
                    "Press 2 for Too far.", "Press 3 for Costs money.",
                    "Press the numbers of all that apply, then the hash key."]
    assert action.endswith("&keys=each")  # 13# is options 1 and 3
    said, action = asked(press(client, "CA1", action, "13")[0], one_key=True)
    assert said == ["Is the water safe?", "Press 1 for Yes.", "Press 2 for No."]
    assert ended(press(client, "CA1", action, "1")[0]) == ["Thank you!"]
    assert answers(runtime) == {"source": "tap", "days": 5, "problems": ["dirty", "cost"],
                                "safe": "yes"}
    with session_scope(runtime.database_url) as db:
        contact = db.scalars(select(Contact)).one()
        assert (contact.channel, contact.address) == ("voice", CALLER)
        assert db.scalars(select(SurveySession.status)).all() == ["completed"]
        assert db.scalars(select(InboxMessage.provider_id).order_by(InboxMessage.id)).all() == [
            f"CA1:{step}" for step in range(7)]


def test_a_redelivered_request_gets_the_same_twiml_and_stores_nothing_twice(runtime, voice):
    client = client_for(runtime)
    _, action = joined(client, runtime, "CA2")
    first = press(client, "CA2", action, "1")[1]
    stored = count(runtime, InboxMessage)
    assert press(client, "CA2", action, "1")[1] == first
    assert press(client, "CA2", action, "2")[1] == first  # the same step: the same message
    assert count(runtime, InboxMessage) == stored
    said, _ = asked(ET.fromstring(first), one_key=True)
    assert said == WHERE


def test_a_dropped_call_goes_on_at_the_next_unanswered_question(runtime, voice):
    client = client_for(runtime)
    _, action = joined(client, runtime, "CA3")
    _, action = asked(press(client, "CA3", action, "1")[0], one_key=True)
    asked(press(client, "CA3", action, "2")[0], one_key=False)  # well; then the line drops
    said, action = asked(press(client, "CA4")[0], one_key=False)  # a new call
    assert said == [KEYS, "How many days a week is there water?",
                    "Type your answer with the number keys, then press the hash key."]
    said, _ = asked(press(client, "CA4", action, "7")[0], one_key=False)
    assert said[:2] == ["Almost done.", "Any problems?"]
    assert answers(runtime) == {"source": "well", "days": 7}


def test_a_contact_invited_by_a_launch_calls_in_and_is_asked_where_the_invitation_began(
        runtime, voice):
    client = client_for(runtime)
    launched(runtime, CALLER, "en", channel="voice")  # they call before heard calls them
    said, action = asked(press(client, "CA13")[0], one_key=True)
    assert said == [KEYS, "Do you agree?", "Press 1 for Yes.", "Press 2 for No."]
    said, _ = asked(press(client, "CA13", action, "1")[0], one_key=True)
    assert said == WHERE
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(SurveySession.round_id)).one() is not None


def test_star_gives_the_menu_repeat_back_help_and_stop(runtime, voice):
    client = client_for(runtime)
    _, action = joined(client, runtime, "CA5")
    _, action = asked(press(client, "CA5", action, "1")[0], one_key=True)
    stored = count(runtime, InboxMessage)
    said, menu = asked(press(client, "CA5", action, "*")[0], one_key=True)
    assert said == MENU and menu.endswith("&menu=1")
    assert silence(press(client, "CA5", action, "*")[0]) == menu + "&silent=1"  # no key
    assert count(runtime, InboxMessage) == stored  # the menu stores nothing
    said, action = asked(press(client, "CA5", menu, "1")[0], one_key=True)  # 1: again
    assert said == WHERE
    _, action = asked(press(client, "CA5", action, "2")[0], one_key=False)  # well; then days
    _, menu = asked(press(client, "CA5", action, "*")[0], one_key=True)
    said, action = asked(press(client, "CA5", menu, "2")[0], one_key=True)  # 2: back
    assert said[-4:] == WHERE
    _, menu = asked(press(client, "CA5", action, "*")[0], one_key=True)
    said, action = asked(press(client, "CA5", menu, "3")[0], one_key=True)  # 3: help
    assert said[0] == ("heard asks short questions about your community. Answer with your "
                       "phone's keys. Press star at any time for the menu.")
    assert said[-4:] == WHERE
    _, menu = asked(press(client, "CA5", action, "*")[0], one_key=True)
    assert ended(press(client, "CA5", menu, "4")[0]) == [  # 4: no more calls
        "You will get no more calls from us. Goodbye."]
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact.opted_out)).one() is True


def test_a_silent_menu_asks_the_question_again(runtime, voice):
    client = client_for(runtime)
    _, action = joined(client, runtime, "CA6")
    _, action = asked(press(client, "CA6", action, "1")[0], one_key=True)
    _, menu = asked(press(client, "CA6", action, "*")[0], one_key=True)
    said, _ = asked(press(client, "CA6", menu + "&silent=1")[0], one_key=True,
                    again=False)  # Twilio's redirect, no key: asked again, a last time
    assert said == WHERE and answers(runtime) == {}


def test_silence_asks_once_more_then_the_call_ends(runtime, voice):
    client = client_for(runtime)
    _, action = joined(client, runtime, "CA12")
    root, _ = press(client, "CA12", action, "1")
    said, _ = asked(root, one_key=True)
    assert said == WHERE
    again, _ = press(client, "CA12", silence(root) or "")  # no Digits: nothing was pressed
    said, action = asked(again, one_key=True, again=False)  # no second Redirect: it ends
    assert said == WHERE
    asked(press(client, "CA12", action, "2")[0], one_key=False)  # a key after all: answered
    assert answers(runtime) == {"source": "well"}


def test_a_wrong_key_asks_again_with_the_engines_reprompt(runtime, voice):
    client = client_for(runtime)
    _, action = joined(client, runtime, "CA6")
    _, action = asked(press(client, "CA6", action, "1")[0], one_key=True)
    said, action = asked(press(client, "CA6", action, "9")[0], one_key=True)
    assert said == ["Please reply with one number from 1 to 3."] + WHERE[1:]
    assert answers(runtime) == {}  # never skipped silently
    asked(press(client, "CA6", action, "2")[0], one_key=False)
    assert answers(runtime) == {"source": "well"}


TYPE = "Type your answer with the number keys, then press the hash key."
POINT = "Press star for the decimal point."


def test_the_star_key_is_the_decimal_point_in_a_number_that_may_have_a_fraction(
        runtime, voice, tmp_path):
    """2*5# is 2.5 where the question takes a fraction (and the caller is told so); a lone
    star is still the menu, and in a whole number a star only asks again."""
    client = client_for(runtime)
    survey = tmp_path / "litres.yaml"
    survey.write_text("id: test-litres\nversion: 1\nlanguages: [en]\ntitle: {en: Litres}\n"
                      "questions:\n"
                      "  - {id: litres, type: number, decimal: true,\n"
                      "     text: {en: How many litres?}}\n"
                      "  - {id: days, type: number, text: {en: How many days?}}\n")
    with session_scope(runtime.database_url) as db:
        code = rounds.create_round(db, catalog.register(db, load_survey(survey)), None).code
    _, action = asked(press(client, "CA15")[0], one_key=False)
    said, action = asked(press(client, "CA15", action, keypad_digits(code or ""))[0],
                         one_key=False)
    assert said == [KEYS, "How many litres?", TYPE, POINT]
    assert action.endswith("&keys=decimal")
    said, _ = asked(press(client, "CA15", action, "*")[0], one_key=True)
    assert said == MENU and answers(runtime) == {}  # a lone star: the menu, as anywhere
    said, action = asked(press(client, "CA15", action, "**")[0], one_key=False)
    assert said == ["How many litres?", TYPE, POINT]  # two stars: no number, asked again
    assert action.endswith("&keys=decimal") and answers(runtime) == {}
    said, action = asked(press(client, "CA15", action, "2*5")[0], one_key=False)
    assert said == ["How many days?", TYPE]  # a whole number: no point to press
    assert "keys=" not in action
    said, action = asked(press(client, "CA15", action, "2*5")[0], one_key=False)
    assert said == ["How many days?", TYPE]
    ended(press(client, "CA15", action, "3")[0])
    assert answers(runtime) == {"litres": 2.5, "days": 3}


def test_a_fraction_typed_on_the_keys_reads_the_same_in_every_locale():
    """'1.250' would be 1250 in Danish: three digits after the point are never thousands."""
    assert keys_as_text("1*250", "decimal", 2) == "1.2500"
    assert keys_as_text("*5", "decimal", 2) == "0.5"
    assert {lang: read_number(keys_as_text("1*250", "decimal", 2), lang).values
            for lang in ("en", "da", "fr", "bn")} == dict.fromkeys(("en", "da", "fr", "bn"),
                                                                  (1.25,))


def test_a_wrong_code_is_asked_again(runtime, voice):
    client = client_for(runtime)
    open_round(runtime)
    _, action = asked(press(client, "CA8")[0], one_key=False)
    said, _ = asked(press(client, "CA8", action, "123")[0], one_key=False)
    assert said == ["That code is not for a survey that is open now. Type it again, then "
                    "press the hash key."]
    assert count(runtime, SurveySession) == 0


def test_a_language_without_a_voice_is_refused_aloud(runtime, voice):
    client = client_for(runtime)
    code = open_round(runtime)
    _, action = asked(press(client, "CA9", caller=RAHIMA)[0], one_key=False)  # English prompt
    root, _ = press(client, "CA9", action, keypad_digits(code), caller=RAHIMA)
    assert ended(root) == ["Sorry, this survey cannot be heard in Bangla yet. Goodbye."]
    assert root[0].get("language") == "en-US"


def test_swahili_is_said_in_its_configured_voice(runtime, voice):
    client = client_for(runtime)
    open_round(runtime)
    said, _ = asked(press(client, "CA10", caller="+254712345678")[0], one_key=False,
                    language="sw-KE")  # Kenya: Swahili, which has a voice
    assert said == ["Karibu heard. Kujibu utafiti, andika msimbo wake kwa vitufe vya simu yako, "
                    "kisha bonyeza kitufe cha #."]
    gather = press(client, "CA10", caller="+254712345678")[0][0]
    assert {say.get("voice") for say in gather} == {"Google.sw-KE-Standard-A"}


def test_forged_or_missing_signature_is_403_and_nothing_stored(runtime, voice):
    client = client_for(runtime)
    form = {"CallSid": "CA11", "From": CALLER, "To": NUMBER, "CallStatus": "ringing"}
    assert signed_post(client, "/voice/twilio", form, token="not-the-token").status_code == 403
    assert client.post("/voice/twilio", data=form).status_code == 403
    for_another_step = RequestValidator(TOKEN).compute_signature(WEBHOOK + "?step=1", form)
    response = client.post("/voice/twilio?step=2", data=form | {"Digits": "1"},
                           headers={"X-Twilio-Signature": for_another_step})
    assert response.status_code == 403
    assert count(runtime, InboxMessage) == 0


def test_a_malformed_voice_setting_stops_heard_naming_the_pair(monkeypatch):
    monkeypatch.setenv("HEARD_VOICE_LANGUAGES", "en=en-US,sw")
    with pytest.raises(SettingError, match=r"HEARD_VOICE_LANGUAGES=.*'sw' is not language="):
        get_settings()


def test_keys_on_the_keypad_spell_a_code():
    assert keypad_digits("WATER367") == "92837367"


def test_one_who_opted_out_and_calls_hears_how_to_take_part_again(runtime, voice):
    """Never silence: the caller is told they opted out and how to come back (1); no key, and
    nothing changes; 1, and they are in again, asked for a survey's code."""
    from surveys.tables import Contact

    with session_scope(runtime.database_url) as db:
        db.add(Contact(channel="voice", address=CALLER, language="en", opted_out=True,
                       profile={}))
    client = client_for(runtime)
    said, action = asked(press(client, "CA40")[0], one_key=True, again=False)
    assert said == ["You asked us not to contact you, so we will not. To take part again, "
                    "press 1. Otherwise, hang up."]
    with session_scope(runtime.database_url) as db:
        assert db.query(Contact).filter_by(address=CALLER).one().opted_out is True
    said, _ = asked(press(client, "CA40", action, "1")[0], one_key=False)
    assert said == ["Welcome to heard. To answer a survey, type its code with your phone's "
                    "keys, then press the hash key."]
    with session_scope(runtime.database_url) as db:
        assert db.query(Contact).filter_by(address=CALLER).one().opted_out is False
