"""An Africa's Talking USSD callback → what the person just typed (pure).

AT posts `sessionId`, `serviceCode`, `phoneNumber`, `networkCode` and `text`: every input of the
session so far joined with `*` ("1*2*Nairobi"), and "" as the session opens. heard records,
per callback, how much of `text` it had read (`seen`, a length: no answer is kept twice), so
the newest input is what follows the last text read and its `*` — free text may hold stars of
its own — and a callback that comes again (same length read) is the same step, provider id
`sessionId:step`, stored once.

What the input means depends on the screen it answers (`Shown`): 98 turns a page, 0 goes back
a page or, on a screen's first page, back a question (00 where 0 is an answer, a number's);
a multiple choice's digits are one option each ("135" is 1, 3 and 5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sms.adapter import BadPayload
from surveys.actions import Converse, Decline
from surveys.i18n import ascii_digits
from surveys.messages import BadInbound, Inbound
from surveys.phone import InvalidPhoneNumber, to_e164

CHANNEL = "ussd"
MORE = "98"  # the next page of a screen too long for one
BACK = "0"  # the page before, or on a first page the question before
BACK_IN_NUMBERS = "00"  # where 0 is an answer
CONTINUE = "1"  # a page of messages only (an intro): on to the next
PAGE = "page"  # what a page turned is recorded as (handled: nothing for the engine)
BACK_COMMAND, REJOIN = "back", "start"  # the engine's words (English works in every language)
SESSION_ID = re.compile(r"[\w.:-]{1,100}", re.ASCII)
MAX_TEXT = 2000


@dataclass(frozen=True)
class Callback:
    """One USSD callback: the session, the person, the service code dialled and all typed."""

    session_id: str
    address: str
    service_code: str
    network_code: str
    text: str


def read_callback(form: Mapping[str, str], region: str | None = None) -> Callback:
    """The callback's fields, checked: a 400's reason names the one AT never sends so."""
    missing = [name for name in ("sessionId", "serviceCode", "phoneNumber")
               if not form.get(name)]
    if missing:
        raise BadPayload(f"missing Africa's Talking field(s): {', '.join(missing)}")
    if "text" not in form:  # "" opens a session; absent is not AT's callback
        raise BadPayload("missing Africa's Talking field(s): text")
    session_id = form["sessionId"]
    if not SESSION_ID.fullmatch(session_id):
        raise BadPayload(f"sessionId: expected up to 100 letters, digits and _.:-, got "
                         f"{session_id[:40]!r}")
    if len(form["text"]) > MAX_TEXT:
        raise BadPayload(f"text: longer than {MAX_TEXT} characters")
    try:
        address = to_e164(form["phoneNumber"], region)
    except InvalidPhoneNumber as error:
        raise BadPayload(f"phoneNumber: {error}") from None
    return Callback(session_id, address, form["serviceCode"], form.get("networkCode", ""),
                    form["text"])


@dataclass(frozen=True)
class Located:
    """Where a callback's `text` is in its session: the step it is, the new input, and
    whether that step came before (a replay: answered again as it was)."""

    step: int
    input: str
    replay: bool


def locate(seen: Sequence[int], text: str) -> Located:
    """The callback whose whole `text` is this, against how much of it each earlier callback
    of the session had read (`seen`, in step order)."""
    if len(text) in seen:
        return Located(seen.index(len(text)), "", replay=True)
    if not seen:  # the session's first callback heard sees (its "" one lost): all of it
        return Located(0, text, replay=False)
    read = max(seen)
    if len(text) < read:  # an older callback, never answered: the newest screen again
        return Located(seen.index(read), "", replay=True)
    return Located(len(seen), text[read + 1:] if read else text, replay=False)


@dataclass(frozen=True)
class Shown:
    """The screen an input answers: its page of how many, and how its keys read."""

    page: int = 0
    pages: int = 1
    messages_only: bool = False  # the page shows no question (an intro): any key goes on
    back_key: str | None = BACK  # None: no going back from here (a code asked for)
    multi_choices: int = 0  # a multiple choice's options, when it asks one
    rejoin: bool = False  # one who opted out is asked whether to take part again


@dataclass(frozen=True)
class PageTo:
    """Another page of the same screen: nothing for the engine."""

    page: int


@dataclass(frozen=True)
class Say:
    """Text for the conversation, as a typed message would be."""

    text: str


def meaning(typed: str, shown: Shown) -> PageTo | Say:
    """What the newest input means on the screen it answers."""
    keys = ascii_digits(typed).strip()
    if shown.back_key is not None and keys == shown.back_key:
        return PageTo(shown.page - 1) if shown.page > 0 else Say(BACK_COMMAND)
    if shown.page < shown.pages - 1 and (keys == MORE or shown.messages_only):
        return PageTo(shown.page + 1)
    if shown.rejoin and keys == CONTINUE:
        return Say(REJOIN)
    if shown.multi_choices and len(keys) > 1 and keys.isdigit() and shown.multi_choices < 10:
        return Say(" ".join(keys))  # 135: options 1, 3 and 5
    return Say(typed.strip())


def action_for(callback: Callback, located: Located, turn: PageTo | Say,
               shows: int | None = None) -> Converse | Decline:
    """The callback as an action: a message for the conversation, stepped at once (the
    session's first resumes where the person stopped), or a page turned of the screen that
    step `shows` answered, recorded as handled."""
    payload: dict[str, object] = {"seen": len(callback.text), "step": located.step}
    if isinstance(turn, PageTo):
        payload |= {"page": turn.page, "shows": shows}
    elif located.step == 0:
        payload["resume"] = True
    try:
        inbound = Inbound(CHANNEL, callback.address, turn.text if isinstance(turn, Say) else "",
                          f"{callback.session_id}:{located.step}", payload=payload)
    except BadInbound as error:
        raise BadPayload(str(error).replace("provider_id", "sessionId").replace(
            "address", "phoneNumber")) from None
    return Decline(inbound, PAGE) if isinstance(turn, PageTo) else Converse(inbound)


# Africa's Talking's end-of-session notification: how a session ended
ENDED_WELL = "Success"
ENDINGS = frozenset({"Success", "Incomplete", "Failed"})


@dataclass(frozen=True)
class SessionEnded:
    """A USSD session is over; `dropped` when it ended before heard's END (too slow, lost)."""

    session_id: str
    address: str
    dropped: bool


def read_session_end(form: Mapping[str, str], region: str | None = None) -> SessionEnded:
    """AT's end-of-session notification (`status` Success, Incomplete or Failed)."""
    missing = [name for name in ("sessionId", "phoneNumber", "status") if not form.get(name)]
    if missing:
        raise BadPayload(f"missing Africa's Talking field(s): {', '.join(missing)}")
    if form["status"] not in ENDINGS:
        raise BadPayload(f"status: expected one of {', '.join(sorted(ENDINGS))}, got "
                         f"{form['status'][:40]!r}")
    if not SESSION_ID.fullmatch(form["sessionId"]):
        raise BadPayload("sessionId: expected up to 100 letters, digits and _.:-")
    try:
        address = to_e164(form["phoneNumber"], region)
    except InvalidPhoneNumber as error:
        raise BadPayload(f"phoneNumber: {error}") from None
    return SessionEnded(form["sessionId"], address, form["status"] != ENDED_WELL)
