"""Channel senders: each turns one outbox row into a provider call.

A sender returns the provider's message id, raises `TransientSendError` for errors worth
retrying (rate limits, 5xx, timeouts) and `PermanentSendError` for ones that never will succeed.
A finder, where the provider keeps a list of what it sent, tells whether a send whose outcome
was never recorded went out after all, so it is not sent twice. A channel may also ready a row
in the transaction its send begins in, and act on a row its provider refused for good.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from typing import Any, Protocol

from sqlalchemy.orm import Session

from surveys.channels import channel
from surveys.tables import OutboxMessage


class TransientSendError(Exception):
    """Worth retrying later (rate limited, provider 5xx, network); `code` is the provider's
    error (its code, an HTTP status, `unreachable`), None when heard itself holds it back."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


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


class Finder(Protocol):
    def __call__(self, message: OutboxMessage, since: datetime) -> list[str]:
        """The provider ids of messages like `message` (same address and text) it accepted
        since `since`, oldest first; raises TransientSendError when it cannot be asked."""
        ...


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
    sender: Sender = _made(path)
    return sender


def finder_for(name: str) -> Finder | None:
    """The finder of channel `name`, or None where the provider cannot tell what it sent."""
    path = channel(name).finder
    if not path:
        return None
    finder: Finder = _made(path)
    return finder


def prepare(db: Session, message: OutboxMessage) -> None:
    """What the row's channel decides before it is sent, in the transaction that marks it
    dispatching (WhatsApp: a template outside the person's window); most decide nothing."""
    path = channel(message.channel).prepare
    if path:
        _named(path)(db, message)


def refused(db: Session, message: OutboxMessage) -> None:
    """What the row's channel does once its provider refused it for good (at the send, or in a
    delivery report), in the transaction recording it (WhatsApp: SMS instead); most nothing."""
    path = channel(message.channel).refused
    if path:
        _named(path)(db, message)


def _named(path: str) -> Any:
    """The function at "module:function"."""
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def _made(path: str) -> Any:
    """What the factory at "module:factory" makes."""
    return _named(path)()
