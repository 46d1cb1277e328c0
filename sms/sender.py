"""Send SMS and WhatsApp messages through the official twilio library.

TWILIO_API_BASE_URL points it at another endpoint (a regional edge, a gateway, a test double);
HEARD_SMS_PER_SECOND caps sends per sender number across every worker, through Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from sms.errors import RETRIED_CODES, contact_effect
from sms.whatsapp import content, shows
from surveys.settings import Settings, get_settings
from surveys.tables import OutboxMessage
from worker.ratelimit import RateLimited, acquire
from worker.runtime import runtime
from worker.senders import Finder, PermanentSendError, Sender, TransientSendError

log = logging.getLogger(__name__)
MAX_RATE_WAIT = 10.0  # seconds a job may wait for a send slot before it is retried later
CLOCK_SKEW = timedelta(minutes=2)  # Twilio's clock against ours, when finding a message
FIND_LIMIT = 20  # the newest messages to an address read when finding one (a single page)


@cache
def twilio_client(account_sid: str, auth_token: str, base_url: str | None) -> Client:
    client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=15))
    if base_url:
        client.api.base_url = base_url.rstrip("/")
    return client


def configured_client(settings: Settings) -> Client:
    """The client for the configured account (retried later while it is not configured)."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise TransientSendError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
    return twilio_client(settings.twilio_account_sid, settings.twilio_auth_token,
                         settings.twilio_api_base_url)


def twilio_sender() -> Sender:
    settings = get_settings()
    client = configured_client(settings)

    def send(message: OutboxMessage) -> str:
        arguments = _arguments(settings, message)
        sender_id = settings.twilio_messaging_service_sid or settings.twilio_from or ""
        return twilio_call(lambda: client.messages.create(**arguments).sid,
                           f"heard:rate:twilio:{sender_id}", settings.sms_per_second,
                           meter="twilio_messages")

    return send


def twilio_call(create: Callable[[], object], rate_key: str, per_second: float,
                meter: str) -> str:
    """`create` (a Twilio resource's creation: a message, a call) within `rate_key`'s limit
    across every worker (`meter` names it in /metrics); the new resource's sid, or Twilio's
    refusal as a send error."""
    try:
        acquire(runtime().redis, rate_key, per_second, max_wait=MAX_RATE_WAIT, meter=meter)
    except RateLimited as error:
        raise TransientSendError(str(error)) from None
    try:
        return str(create())
    except TwilioRestException as error:
        if error.status == 429 or error.status >= 500 or error.code in RETRIED_CODES:
            raise TransientSendError(f"Twilio {error.status}: {error.msg}",
                                     code=str(error.code or error.status)) from None
        opt_out, unreachable = contact_effect(error.code)
        raise PermanentSendError(f"Twilio {error.status} {error.code}: {error.msg}",
                                 code=str(error.code), opt_out=opt_out,
                                 unreachable=unreachable) from None
    except (TwilioException, OSError) as error:  # network: connection refused, timeout
        raise TransientSendError(f"Twilio unreachable: {error}", code="unreachable") from None


def twilio_finder() -> Finder:
    client = configured_client(get_settings())

    def find(message: OutboxMessage, since: datetime) -> list[str]:
        """Twilio's message list, newest first, read for this address: the messages with this
        text it accepted since `since` (give or take the two clocks' difference)."""
        try:
            listed = client.messages.list(to=_recipient(message), limit=FIND_LIMIT)
        except (TwilioException, OSError) as error:
            raise TransientSendError(f"Twilio's message list unreachable: {error}") from None
        return [found.sid for found in reversed(listed)
                if shows(found.body, message) and str(found.direction).startswith("outbound")
                and found.date_created is not None and found.date_created >= since - CLOCK_SKEW]

    return find


def _recipient(message: OutboxMessage) -> str:
    return ("whatsapp:" if message.channel == "whatsapp" else "") + message.address


def _arguments(settings: Settings, message: OutboxMessage) -> dict[str, str]:
    """The send's parameters: to, from, the status callback, and its text or template (a
    PermanentSendError for a row that cannot go: WhatsApp outside the window, no template)."""
    prefix = "whatsapp:" if message.channel == "whatsapp" else ""
    arguments = {"to": _recipient(message),
                 "status_callback": settings.public_base_url.rstrip("/") + "/sms/twilio/status",
                 **content(message)}
    if settings.twilio_messaging_service_sid:
        arguments["messaging_service_sid"] = settings.twilio_messaging_service_sid
    elif settings.twilio_from:
        arguments["from_"] = prefix + settings.twilio_from
    else:
        raise TransientSendError("set TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID to send SMS")
    return arguments
