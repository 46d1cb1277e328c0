"""One USSD callback answered: the conversation's step run inline, its replies as a screen.

Each callback is one step of its session, recorded in the inbox with provider id
`sessionId:step` and how much of AT's `text` it had read (`seen`): a replayed callback finds
its step and gets the same screen, and nothing is stored twice. An input that only turns a
page is recorded as handled (outcome "page", no text kept) with the page it showed.

How a person joins: one with an unfinished session goes on at the question they were at (a
session that timed out, dialled again); a service code in HEARD_USSD_ROUNDS opens its round;
anyone else is asked for a round's code (letters, or the digits of their keys: WATER367 is
92837367).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.actions import Decline
from surveys.conversation import walk_in_language
from surveys.database import session_scope
from surveys.i18n import shipped_languages, translator
from surveys.model import Survey
from surveys.settings import Settings
from surveys.tables import InboxMessage, OutboxMessage
from ussd.adapter import CHANNEL, Callback, PageTo, Say, action_for, locate, meaning
from ussd.screens import Screens, one_screen, survey_screens
from worker.outbox import stored_reply
from worker.pipeline import converse, decline, where_they_are
from worker.runtime import Runtime

OUTSIDE = frozenset({"no_survey", "help"})  # in no survey: asked for a round's code


@dataclass(frozen=True)
class Step:
    """A callback of the session as recorded: its inbox row, how much text it read, the page
    it showed and of which row's replies (its own, unless it turned a page)."""

    id: int
    seen: int
    page: int
    shows: int


def respond(runtime: Runtime, settings: Settings, callback: Callback) -> str:
    """AT's answer to `callback`: "CON " and the screen, or "END " and the last one."""
    with session_scope(runtime.database_url) as db:
        steps = steps_of(db, callback)
        located = locate([step.seen for step in steps], callback.text)
        if located.replay:  # answered as it was
            step = steps[located.step]
            return screens_of(db, callback.address, step.shows).answer(step.page)
        shows = steps[-1].shows if steps else None
        previous = screens_of(db, callback.address, shows) if shows is not None else None
    if previous is None:  # the session opens: where they left off, or the round its code opens
        turn: PageTo | Say = Say(located.input or settings.ussd_rounds.get(
            callback.service_code, ""))
    else:
        turn = meaning(located.input, previous.shown(steps[-1].page))
    action = action_for(callback, located, turn, shows)
    if isinstance(action, Decline):  # a page turned: nothing to step
        decline(runtime, action)
        assert previous is not None  # (only a screen shown has pages to turn)
        return previous.answer(action.inbound.payload["page"])
    answered = converse(runtime, action)
    with session_scope(runtime.database_url) as db:
        survey = (catalog.survey_at(db, answered.survey_pk) if answered.survey_pk is not None
                  else None)
    return screens_for(callback.address, answered.outcome, answered.said, survey,
                       answered.language, opening=not steps).answer(0)


def steps_of(db: Session, callback: Callback) -> list[Step]:
    """The session's callbacks recorded so far, in order."""
    rows = db.execute(select(InboxMessage.id, InboxMessage.payload).where(
        InboxMessage.channel == CHANNEL, InboxMessage.address == callback.address,
        InboxMessage.provider_id.startswith(f"{callback.session_id}:", autoescape=True))
        .order_by(InboxMessage.id)).all()
    return [Step(row.id, int(row.payload.get("seen", 0)), int(row.payload.get("page", 0)),
                 int(row.payload.get("shows", row.id))) for row in rows]


def screens_of(db: Session, address: str, inbox_id: int) -> Screens:
    """The screen a recorded step showed, from its stored replies."""
    outcome, payload = db.execute(select(InboxMessage.outcome, InboxMessage.payload)
                                  .where(InboxMessage.id == inbox_id)).one()
    said = list(db.scalars(select(OutboxMessage.reply).where(
        OutboxMessage.inbox_id == inbox_id).order_by(OutboxMessage.seq)))
    survey_pk, language = where_they_are(db, CHANNEL, address)
    survey = catalog.survey_at(db, survey_pk) if survey_pk is not None else None
    return screens_for(address, outcome, said, survey, language,
                       opening=int(payload.get("step", 0)) == 0)


def screens_for(address: str, outcome: str | None, said: list[dict[str, Any]],
                survey: Survey | None, language: str | None, opening: bool) -> Screens:
    """A step's replies as a screen; for one in no survey, heard's own words: a round's code
    asked for (again), or, for one who opted out, whether to take part again."""
    lang = language or walk_in_language(shipped_languages(), None, address) or "en"
    if outcome in OUTSIDE or (outcome == "opted_out" and not said):
        t = translator(lang)
        if outcome == "opted_out":
            return one_screen(t.gettext(
                "You asked us not to contact you, so we will not. To take part again, reply "
                "1."), t, lang, rejoin=True)
        return one_screen(t.gettext("Welcome to heard. To answer a survey, enter its code.")
                          if opening else t.gettext(
                              "That code is not for a survey that is open now. Enter it "
                              "again."), t, lang)
    words = survey.words_for(lang) if survey is not None else lang
    return survey_screens([stored_reply(body) for body in said], survey, lang,
                          translator(words))
