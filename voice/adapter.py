"""A Twilio Voice webhook → an action (pure): a call's start or one key press, as a message.

A call is a conversation run inline (`surveys.actions.Converse`): each request is one message
whose provider id is `CallSid:step`, the step counted by heard in the `<Gather>` action URL it
answers with (so a re-delivered request is the same message). Keys become what a person would
type: digits as they are; no key at all (`silent=1`: heard's own redirect after a `<Gather>`
that got nothing) asks the question again (the engine's START mid-survey); a lone `*` gives the
call's menu (`MenuAsked`, answered with `menu=1`: again, back, help, stop); a multiple choice's
digits (`keys=each` in the URL) are one option each: 13# is "1 3"; and in a number that may
have a fraction (`keys=decimal`) one star between digits is the decimal point: 2*5# is "2.5"
(a star elsewhere asks again).

A question in words is answered aloud: its `<Record>` posts to the next step with `record=1`,
and the message's text is the reference to a new recording (`surveys.recordings`), kept with
it. Nothing recorded is silence: asked again, once (the re-ask's URL says `last=1`); then, as
after a `<Gather>`'s second silence, the call ends.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sms.adapter import BadPayload, require_fields
from surveys import recordings
from surveys.actions import Converse, Ignore, Recording, Status
from surveys.messages import BadInbound, Inbound
from surveys.phone import InvalidPhoneNumber, to_e164

CHANNEL = "voice"
REPEAT = "start"  # the engine asks the current question again (English works in every language)
HELP = "help"  # a call's help: how the keys work, then the question again (voice.call)
# the star key's menu: 1 the question again, 2 the one before, 3 help, 4 no more calls
STOP = "stop"  # no more calls (nor messages): an opt-out
MENU = {"1": REPEAT, "2": "back", "3": HELP, "4": STOP}
REJOIN = "start"  # and takes back an opt-out
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
MAX_STEP = 10_000
RECORDING_SID = re.compile(r"RE[0-9A-Za-z]{1,62}")


@dataclass(frozen=True)
class MenuAsked:
    """The star key: the call's menu is said (repeat, back, help, stop); nothing is stored,
    and the key pressed on it is step `step`'s message."""

    step: int
    address: str


def read_call(form: Mapping[str, str], query: Mapping[str, str],
              region: str | None = None) -> Converse | MenuAsked | Ignore:
    """The call's request as a message of its caller; a call already over is ignored."""
    require_fields(form, "CallSid")
    status = form.get("CallStatus", "")
    recording = spoken_answer(form) if query.get("record") == "1" else None
    if status in ENDED and recording is None:  # (an answer spoken as they hung up is kept)
        return Ignore(f"call {status}")
    if query.get("record") == "1" and recording is None and query.get("last") == "1":
        return Ignore("nothing recorded again")  # the call ends, as after a second silence
    step = query.get("step", "0")
    if not (step.isascii() and step.isdigit() and int(step) < MAX_STEP):
        raise BadPayload(f"step: expected a whole number below {MAX_STEP}, got {step!r}")
    address = person(form, region)
    number = int(step)
    outbox = query.get("outbox", "")
    if outbox and not (outbox.isascii() and outbox.isdigit()):
        raise BadPayload(f"outbox: expected a row's number, got {outbox!r}")
    silent = query.get("silent") == "1"
    if query.get("record") == "1":
        text = recordings.reference(recording.id) if recording is not None else REPEAT
        silent = recording is None  # nothing recorded: asked again, as after silence
    elif query.get("menu") == "1":
        text = MENU.get(form.get("Digits", "").strip().rstrip("#"), REPEAT)
    elif number and form.get("Digits", "").strip().rstrip("#") == "*":
        return MenuAsked(number, address)
    else:
        text = keys_as_text(form.get("Digits", ""), query.get("keys"), number)
    helped = text == HELP  # (the engine's help is written for SMS: the call says its own)
    text = REPEAT if helped else text
    if query.get("rejoin") == "1" and text == "1":  # one who had opted out takes part again
        text = REJOIN
    try:
        return Converse(Inbound(channel=CHANNEL, address=address, text=text,
                                provider_id=f"{form['CallSid']}:{number}",
                                payload={"step": number, "resume": number == 0,
                                         "outbox": int(outbox) if outbox else None,
                                         "joining": query.get("joining") == "1",
                                         "rejoin": query.get("rejoin") == "1",
                                         "silent": silent, "help": helped}), recording)
    except BadInbound as error:
        raise BadPayload(str(error).replace("provider_id", "CallSid").replace(
            "address", "From")) from None


def person(form: Mapping[str, str], region: str | None) -> str:
    """The person's number: the caller, or whom heard called (a call heard made: `To`)."""
    field = "To" if form.get("Direction", "").startswith("outbound") else "From"
    require_fields(form, field)
    try:
        return to_e164(form[field], form.get(field + "Country") or region)
    except InvalidPhoneNumber as error:  # a withheld number ("anonymous") cannot take part
        raise BadPayload(f"{field}: {error}") from None


@dataclass(frozen=True)
class CallBack:
    """One rang heard's number and hung up before it answered: heard calls them back."""

    call_sid: str
    address: str


# how a call heard made ended, in delivery reports' words: (status, error_code); busy and
# no-answer are called again (voice.sender.unanswered)
CALL_ENDS = {"completed": ("delivered", None), "busy": ("undelivered", "busy"),
             "no-answer": ("undelivered", "no-answer"), "failed": ("failed", "call-failed"),
             "canceled": ("canceled", None)}
CALL_GOING = frozenset({"queued", "initiated", "ringing", "in-progress"})


def read_call_status(form: Mapping[str, str], region: str | None = None,
                     call_back: bool = False) -> Status | CallBack | Ignore:
    """A call's status callback: how a call heard made ended, as a delivery report; a call to
    heard that rang out or was hung up before it was answered, a call back (when on)."""
    require_fields(form, "CallSid", "CallStatus")
    status = form["CallStatus"]
    if status in CALL_GOING:
        return Ignore(f"call {status}")
    if status not in CALL_ENDS:
        raise BadPayload(f"CallStatus: unknown status {status!r}; expected one of "
                         f"{', '.join(sorted(CALL_GOING | set(CALL_ENDS)))}")
    if not form.get("Direction", "").startswith("outbound"):  # a call to heard's number
        if call_back and status in ("no-answer", "canceled", "busy"):
            return CallBack(form["CallSid"], person(form, region))
        return Ignore(f"call to heard {status}")
    heard_status, code = CALL_ENDS[status]
    duration = form.get("CallDuration", "")
    if duration and not (duration.isascii() and duration.isdigit()):
        raise BadPayload(f"CallDuration: expected whole seconds, got {duration!r}")
    return Status(form["CallSid"], heard_status, code,
                  minutes=math.ceil(int(duration) / 60) if duration else None)


def keys_as_text(digits: str, keys: str | None, step: int) -> str:
    """What the pressed keys say, as a typed message would: '' when the call begins."""
    if step == 0:
        return ""
    digits = digits.strip().rstrip("#")
    if keys == "decimal" and digits.count("*") == 1 and digits != "*":
        return _decimal(digits)
    if not digits or "*" in digits:
        return REPEAT
    if keys == "each":
        return " ".join(key for key in digits if key.isdigit())
    return digits


def spoken_answer(form: Mapping[str, str]) -> Recording | None:
    """The recording a `<Record>`'s action post carries, under a new id of heard's; None when
    nothing was recorded (no RecordingUrl, or 0 seconds)."""
    url, duration = form.get("RecordingUrl", ""), form.get("RecordingDuration", "0") or "0"
    if not (duration.isascii() and duration.isdigit()):
        raise BadPayload(f"RecordingDuration: expected whole seconds, got {duration!r}")
    if not url or int(duration) == 0:
        return None
    sid = form.get("RecordingSid", "")
    if not RECORDING_SID.fullmatch(sid):
        raise BadPayload(f"RecordingSid: expected RE and letters or digits, got {sid!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.path.endswith(f"/Recordings/{sid}"):
        raise BadPayload(f"RecordingUrl: expected Twilio's URL of recording {sid}, got {url!r}")
    return Recording(recordings.new_id(), sid, url, int(duration))


def _decimal(digits: str) -> str:
    """'2*5' as '2.5', '*5' as '0.5', '2*' as '2'; a fraction of exactly three digits gets a
    trailing 0, so that no locale reads its point as a thousands mark ('1.250' is 1250 in
    Danish; '1.2500' is 1.25 everywhere)."""
    whole, _, fraction = digits.partition("*")
    if not fraction:
        return whole
    return f"{whole or '0'}.{fraction}{'0' if len(fraction) == 3 else ''}"
