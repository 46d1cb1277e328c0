"""The one registry of channels: their names and what each can do.

Every module that needs to know whether a channel's replies are SMS text, whether its
addresses are phone numbers or whether it shows pictures asks here; no other module lists
channel names. A new channel is one entry here and its adapter package.

Every channel package has the same shape:
- `adapter.py`, pure: a provider's request → `surveys.actions` (Store a message, Converse for
  a synchronous one, Decline, Status, OptOut, Ignore), raising a ValueError naming the field
  when the request is not what the provider sends;
- `webhook.py`: verifies the provider's signature, lets the adapter read the request and hands
  the action to `worker.pipeline`; it writes nothing itself. A synchronous channel (a voice
  call, a USSD session) answers with `worker.pipeline.converse`'s replies, recorded like any
  other channel's;
- `sender.py`: sends one outbox row (named here as `sender`) and, where the provider can tell,
  finds a message it sent (`finder`); how a reply is rendered for it
  (SMS text and segments, buttons) follows the capabilities below, in `worker.outbox`. A
  channel with rules of its own about when it may write (WhatsApp's 24-hour window,
  `sms/whatsapp.py`) names what readies a row as its send begins (`prepare`) and what follows
  the provider's refusal (`refused`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Channel:
    """A channel and its capabilities."""

    name: str
    sender: str  # "module:factory" of its sender, imported when the first message goes out
    # "module:factory" of what asks the provider whether a send whose outcome heard never
    # recorded (a worker killed mid-call) went out; without one, such a send goes again
    finder: str = ""
    sms_text: bool = False  # replies are SMS text: counted in segments, menus numbered inline
    phone_addresses: bool = False  # addresses are E.164 numbers (a country tells a language)
    charts: bool = False  # results may come with a chart image
    buttons: bool = False  # choices are buttons
    importable: bool = True  # contacts may be imported for it
    # people answer with a phone's keys (a call): a round's code is typed on the keys its
    # letters are printed on (WATER367 is 92837367), as `surveys.words.keypad_digits` spells it
    keypad: bool = False
    # people type on a phone's keys but pay no minutes (USSD): a round's code may come as its
    # keys' digits, as on a call
    keyed_codes: bool = False
    # trial runs (the simulator): its people never join a real round by code, and what was
    # said is deleted a day after the last message
    trial: bool = False
    # how long after the person's last message heard may write to them free-form (WhatsApp's
    # customer service window; contacts.last_inbound_at keeps it); None: any time
    reply_window: timedelta | None = None
    # "module:function" that readies a row in the transaction its send begins in (WhatsApp: a
    # template outside the window), and one run on a row the provider refused for good, in the
    # transaction recording it (WhatsApp: the SMS fallback)
    prepare: str = ""
    refused: str = ""


CHANNELS: dict[str, Channel] = {channel.name: channel for channel in (
    # Twilio's or Africa's Talking's, by the number's country (sms/providers.py)
    Channel("sms", "sms.providers:sms_sender", "sms.providers:sms_finder", sms_text=True,
            phone_addresses=True),
    Channel("whatsapp", "sms.sender:twilio_sender", "sms.sender:twilio_finder",
            sms_text=True, phone_addresses=True, reply_window=timedelta(hours=24),
            prepare="sms.whatsapp:prepare", refused="sms.whatsapp:refused"),
    Channel("telegram", "bot.sender:telegram_sender", charts=True, buttons=True),
    Channel("voice", "voice.sender:twilio_voice_sender", "voice.sender:twilio_voice_finder",
            phone_addresses=True, keypad=True, refused="voice.sender:unanswered"),
    Channel("ussd", "ussd.sender:ussd_sender", phone_addresses=True, importable=False,
            keyed_codes=True),
    Channel("simulator", "worker.senders:simulator", importable=False, trial=True),
)}
UNKNOWN = Channel("unknown", "")  # a row's channel that no entry names: can do nothing special


def channel(name: str) -> Channel:
    """The channel called `name` (UNKNOWN, not an error, for rows of a channel since removed)."""
    return CHANNELS.get(name, UNKNOWN)


def importable() -> tuple[str, ...]:
    """The channels contacts may be imported for, in the registry's order."""
    return tuple(name for name, found in CHANNELS.items() if found.importable)


def trials() -> tuple[str, ...]:
    """The channels whose conversations are trial runs."""
    return tuple(name for name, found in CHANNELS.items() if found.trial)


def keypads() -> tuple[str, ...]:
    """The channels whose people answer with a phone's keys: calls (their minutes are paid)."""
    return tuple(name for name, found in CHANNELS.items() if found.keypad)
