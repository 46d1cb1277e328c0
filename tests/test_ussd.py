"""USSD through Africa's Talking: whole sessions through the webhook, as AT posts them.

AT sends every input of a session joined with `*` in `text`; heard answers CON (a screen that
waits) or END (the last). Each test dials, types, and reads the screens back.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from surveys import catalog
from surveys.database import session_scope
from surveys.tables import Contact, InboxMessage, OutboxMessage, Round, SurveySession
from tests.pipeline import answers, client_for, count
from ussd.screens import fits
from worker import rounds

SECRET = "a-secret-of-our-own-123"
WEBHOOK = f"/ussd/africastalking/{SECRET}"
SERVICE = "*384*123#"
KENYA = "+254712345678"  # Swahili first
USA = "+14155550123"  # a country heard has no language for: the survey's first (English)
MALAWI = "+265991234567"  # Chichewa


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
            f"ATUid_1:{step}" for step in range(10)]
        assert set(db.scalars(select(OutboxMessage.status))) == {"sent"}
