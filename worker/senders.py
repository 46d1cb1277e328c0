"""Channel senders: each turns one outbox row into a provider call.

A sender returns the provider's message id, raises `TransientSendError` for errors worth
retrying (rate limits, 5xx, timeouts) and `PermanentSendError` for ones that never will succeed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Protocol

from surveys.channels import channel
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


def simulator() -> Sender:
    """The simulator's sender factory (surveys/channels.py names it)."""
    return simulator_sender


def sender_for(name: str) -> Sender:
    """The sender of channel `name`, as the registry names it (imported lazily: no cycle)."""
    path = channel(name).sender
    if not path:
        raise PermanentSendError(f"no sender for channel {name!r}", code="no_sender")
    module, _, factory = path.partition(":")
    made: Sender = getattr(import_module(module), factory)()
    return made
