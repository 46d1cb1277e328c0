"""A Twilio Voice webhook → an action (pure): a call's start or one key press, as a message.

A call is a conversation run inline (`surveys.actions.Converse`): each request is one message
whose provider id is `CallSid:step`, the step counted by heard in the `<Gather>` action URL it
answers with (so a re-delivered request is the same message). Keys become what a person would
type: digits as they are, `*` (or no key at all, `silent=1`: heard's own redirect after a
`<Gather>` that got nothing) asks the question again (the engine's START mid-survey), a
multiple choice's digits (`keys=each` in the URL) one option each: 13# is "1 3", and in a number
that may have a fraction (`keys=decimal`) one star between digits is the decimal point: 2*5# is
"2.5" (a lone star still asks again).
"""

from __future__ import annotations

from collections.abc import Mapping

from sms.adapter import BadPayload, require_fields
from surveys.actions import Converse, Ignore
from surveys.messages import BadInbound, Inbound
from surveys.phone import InvalidPhoneNumber, to_e164

CHANNEL = "voice"
REPEAT = "start"  # the engine asks the current question again (English works in every language)
REJOIN = "start"  # and takes back an opt-out
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
MAX_STEP = 10_000


def read_call(form: Mapping[str, str], query: Mapping[str, str],
              region: str | None = None) -> Converse | Ignore:
    """The call's request as a message of its caller; a call already over is ignored."""
    require_fields(form, "CallSid", "From")
    status = form.get("CallStatus", "")
    if status in ENDED:
        return Ignore(f"call {status}")
    step = query.get("step", "0")
    if not (step.isascii() and step.isdigit() and int(step) < MAX_STEP):
        raise BadPayload(f"step: expected a whole number below {MAX_STEP}, got {step!r}")
    try:
        address = to_e164(form["From"], form.get("FromCountry") or region)
    except InvalidPhoneNumber as error:  # a withheld number ("anonymous") cannot take part
        raise BadPayload(f"From: {error}") from None
    number = int(step)
    text = keys_as_text(form.get("Digits", ""), query.get("keys"), number)
    if query.get("rejoin") == "1" and text == "1":  # one who had opted out takes part again
        text = REJOIN
    try:
        return Converse(Inbound(channel=CHANNEL, address=address, text=text,
                                provider_id=f"{form['CallSid']}:{number}",
                                payload={"step": number, "resume": number == 0,
                                         "joining": query.get("joining") == "1",
                                         "rejoin": query.get("rejoin") == "1",
                                         "silent": query.get("silent") == "1"}))
    except BadInbound as error:
        raise BadPayload(str(error).replace("provider_id", "CallSid").replace(
            "address", "From")) from None


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


def _decimal(digits: str) -> str:
    """'2*5' as '2.5', '*5' as '0.5', '2*' as '2'; a fraction of exactly three digits gets a
    trailing 0, so that no locale reads its point as a thousands mark ('1.250' is 1250 in
    Danish; '1.2500' is 1.25 everywhere)."""
    whole, _, fraction = digits.partition("*")
    if not fraction:
        return whole
    return f"{whole or '0'}.{fraction}{'0' if len(fraction) == 3 else ''}"
