"""Channel senders: each turns one outbox row into a provider call.

A sender returns the provider's message id, raises `TransientSendError` for errors worth
retrying (rate limits, 5xx, timeouts) and `PermanentSendError` for ones that never will succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from surveys.tables import OutboxMessage


class TransientSendError(Exception):
    """Worth retrying later (rate limited, provider 5xx, network)."""


class PermanentSendError(Exception):
    """Will never succeed (invalid number, unsubscribed, blocked): stop and record why."""

    def __init__(self, message: str, code: str | None = None, opt_out: bool = False,
                 unreachable: str | None = None):
        super().__init__(message)
        self.code = code
        self.opt_out = opt_out
        self.unreachable = unreachable


class Sender(Protocol):
    def __call__(self, message: OutboxMessage) -> str | None: ...


def simulator_sender(message: OutboxMessage) -> str | None:
    """The simulator's messages are read back from the outbox by the web page: nothing to send."""
    return None


SENDERS: dict[str, Callable[[], Sender]] = {
    "simulator": lambda: simulator_sender,
    "sms": lambda: __import__("sms.sender").sender.twilio_sender(),
    "whatsapp": lambda: __import__("sms.sender").sender.twilio_sender(),
    "telegram": lambda: __import__("bot.sender").sender.telegram_sender(),  # lazy: no cycle
}


def sender_for(channel: str) -> Sender:
    factory = SENDERS.get(channel)
    if factory is None:
        raise PermanentSendError(f"no sender for channel {channel!r}", code="no_sender")
    return factory()
