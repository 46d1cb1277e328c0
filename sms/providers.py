"""The SMS channel's providers: Twilio's or Africa's Talking's, chosen by the number's country.

HEARD_SMS_PROVIDERS ("KE=africastalking,MW=africastalking,default=twilio") names each
country's provider; unset, or for a country it does not name, Twilio sends. The channel stays
`sms` whichever sends, so a person is one contact and one conversation through both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

import phonenumbers

from sms.africastalking import PROVIDER as AFRICASTALKING
from surveys.settings import Settings, get_settings
from surveys.tables import OutboxMessage
from worker.senders import Finder, Sender

TWILIO = "twilio"


@lru_cache(maxsize=65_536)
def country_of(address: str) -> str | None:
    """The two-letter country of an E.164 number; None for a short code or sender id."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(address, None)) or None
    except phonenumbers.NumberParseException:
        return None


def provider_for(address: str, settings: Settings) -> str:
    """Who sends SMS to `address`: its country's provider, else the default, else Twilio."""
    chosen = settings.sms_providers
    return chosen.get(country_of(address) or "", chosen.get("default", TWILIO))


def sms_sender() -> Sender:
    """Each message through its number's provider (each provider's sender made when first
    needed, so one that is not configured holds back only its own countries)."""
    settings = get_settings()
    made: dict[str, Sender] = {}

    def send(message: OutboxMessage) -> str | None:
        provider = provider_for(message.address, settings)
        if provider not in made:
            made[provider] = _senders()[provider]()
        return made[provider](message)

    return send


def sms_finder() -> Finder:
    """Twilio's message list for its numbers; AT keeps no list of what it sent, so a send to
    an AT number whose outcome was never recorded goes again (found: none)."""
    settings = get_settings()
    twilio: list[Finder] = []

    def find(message: OutboxMessage, since: datetime) -> list[str]:
        if provider_for(message.address, settings) != TWILIO:
            return []
        if not twilio:
            from sms.sender import twilio_finder
            twilio.append(twilio_finder())
        return twilio[0](message, since)

    return find


def _senders() -> dict[str, Callable[[], Sender]]:
    from sms.africastalking_sender import africastalking_sender
    from sms.sender import twilio_sender
    return {TWILIO: twilio_sender, AFRICASTALKING: africastalking_sender}
