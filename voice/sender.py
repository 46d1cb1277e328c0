"""Calls heard makes through Twilio Voice: invitations, reminders, results and call-backs.

A call is one outbox row's send: `calls.create` with the URL Twilio asks for the call's first
words once the person answers (`/voice/twilio?step=0&outbox=ID`, where `voice.call` says the
row), the call's status callback, and HEARD_CALLS_PER_SECOND across every worker. The rows
written with it for the same person (an invitation's question after its introduction) are said
in that call, so they send nothing of their own. A call nobody answered (busy, no answer,
failed) is made again on HEARD_CALL_RETRY_MINUTES' schedule (`unanswered`, the channel's
`refused`). Results in a language no call can say go by SMS to the same number instead.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException

from sms.sender import CLOCK_SKEW, FIND_LIMIT, configured_client, twilio_call, twilio_sender
from surveys.database import session_scope
from surveys.settings import Settings, get_settings
from surveys.tables import OutboxMessage, utcnow
from voice import pack
from worker.outbox import LANG, PURPOSE
from worker.runtime import runtime
from worker.senders import Finder, PermanentSendError, Sender, TransientSendError

log = logging.getLogger(__name__)
RING_SECONDS = 30  # how long a call rings before it counts as not answered
CALL_BACK = "call_back"  # a row's purpose: heard calls back one who rang (voice.call)
# Twilio's ends of a call nobody took part in, as heard records them (its error_code): these
# are called again on the schedule
UNANSWERED = ("busy", "no-answer", "call-failed")
UNANSWERED_CALLS = "unanswered"  # a row's mark: how many of its calls nobody took


def said_in_its_first_call(message: OutboxMessage) -> bool:
    """A row heard wrote after another for the same person at once (a launch's, a reminder's,
    results'): it is said in the call the first one makes (`voice.call.first_words`)."""
    return message.inbox_id is None and message.seq > 0


def answer_url(settings: Settings, outbox_id: int) -> str:
    """Where Twilio asks what to say once the person answers the call for row `outbox_id`."""
    return f"{settings.public_base_url.rstrip('/')}/voice/twilio?step=0&outbox={outbox_id}"


def caller_id(settings: Settings) -> str:
    """The number heard calls from (a TransientSendError while none is configured)."""
    number = settings.voice_from or settings.twilio_from
    if not number:
        raise TransientSendError("set HEARD_VOICE_FROM or TWILIO_FROM to make calls")
    return number


def twilio_voice_sender() -> Sender:
    """The voice channel's sender factory (surveys/channels.py names it)."""
    settings = get_settings()
    client = configured_client(settings)
    by_sms = twilio_sender()

    def send(message: OutboxMessage) -> str | None:
        lang = message.reply.get(LANG)
        if lang is not None and lang not in settings.voice_languages:
            if message.reply.get(PURPOSE) == "results":  # figures need a voice: by SMS, read
                return by_sms(message)  # to them if need be
            if not pack_complete(lang):
                raise PermanentSendError(f"voice: no voice for {lang} (HEARD_VOICE_LANGUAGES) "
                                         f"and not all of heard's phrases recorded (heard voice "
                                         f"import): this call cannot be made", code="no_voice")
        if said_in_its_first_call(message):
            return None
        arguments = {"to": message.address, "from_": caller_id(settings),
                     "url": answer_url(settings, message.id), "method": "POST",
                     "status_callback": settings.public_base_url.rstrip("/")
                     + "/voice/twilio/status",
                     "status_callback_method": "POST", "timeout": RING_SECONDS}
        return twilio_call(lambda: client.calls.create(**arguments).sid,
                           f"heard:rate:twilio-voice:{arguments['from_']}",
                           settings.calls_per_second, meter="twilio_calls")

    return send


def pack_complete(lang: str) -> bool:
    """Whether heard's own phrases are all recorded in `lang` (a call without a voice)."""
    with session_scope(runtime().database_url) as db:
        return pack.recorded_in(db, lang)


def twilio_voice_finder() -> Finder:
    """Whether a call whose outcome was never recorded was made: Twilio's list of calls to the
    person, read (a call made twice rings twice, which a sender killed mid-call must not do)."""
    client = configured_client(get_settings())

    def find(message: OutboxMessage, since: datetime) -> list[str]:
        try:
            listed = client.calls.list(to=message.address, limit=FIND_LIMIT)
        except (TwilioException, OSError) as error:
            raise TransientSendError(f"Twilio's call list unreachable: {error}") from None
        return [call.sid for call in reversed(listed)
                if str(call.direction).startswith("outbound") and call.date_created is not None
                and call.date_created >= since - CLOCK_SKEW]

    return find


def unanswered(db: Session, message: OutboxMessage) -> None:
    """A call nobody answered is made again after the schedule's next wait, until it runs out
    (then it stays failed, its reason kept); a refusal of another kind is not retried."""
    retries = get_settings().call_retry_minutes
    missed = int(message.reply.get(UNANSWERED_CALLS, 0)) + 1
    if message.error_code not in UNANSWERED:
        return
    message.reply = message.reply | {UNANSWERED_CALLS: missed}
    if missed > len(retries):
        log.info("outbox %s: call %s %s times: given up", message.id, message.error_code, missed)
        return
    wait = timedelta(minutes=retries[missed - 1])
    message.status, message.next_attempt_at = "retrying", utcnow() + wait
    message.error = (f"call {message.provider_id} {message.error_code} ({missed} of "
                     f"{len(retries) + 1}): again in {wait}")
    # the next call's end is news, and a late report of this one finds no row
    message.error_code = message.provider_id = None
    log.info("outbox %s: %s", message.id, message.error)
