"""What a provider's request asks heard to do: the one vocabulary every channel speaks.

A channel's adapter turns a verified request into actions (pure: no database, network or
clock); `worker.pipeline` performs them, so no web handler writes anything itself. Channel
chores with no lasting effect (Telegram's spinner and check marks) stay with their channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from surveys.messages import Inbound


@dataclass(frozen=True)
class Store:
    """A message for the conversation: kept in the inbox, then stepped by a worker."""

    inbound: Inbound


@dataclass(frozen=True)
class Recording:
    """A spoken answer the provider holds: heard's id for it (the message's text is its
    reference, `recording:<id>`), the provider's sid and URL, and how many seconds it lasts."""

    id: str
    provider_sid: str
    provider_url: str
    seconds: int


@dataclass(frozen=True)
class Converse:
    """A message of a synchronous channel (a voice call, a USSD session): kept, stepped at
    once, and its replies are the provider's answer; a re-delivery gets the same replies. A
    spoken answer comes with its `recording`, kept with the message."""

    inbound: Inbound
    recording: Recording | None = None


@dataclass(frozen=True)
class Decline:
    """A message heard must not answer (a group's or a channel's post): recorded as handled."""

    inbound: Inbound
    reason: str = "group"


@dataclass(frozen=True)
class Status:
    """A delivery report for a message heard sent, in heard's vocabulary (Twilio's names),
    with what the provider's error means for the contact."""

    provider_id: str
    status: str
    error_code: str | None = None
    opt_out: bool = False
    unreachable: str | None = None
    minutes: int | None = None  # a call's: the minutes it was paid for (each one begun)


@dataclass(frozen=True)
class OptOut:
    """The person blocked or unsubscribed through the provider: nothing more goes to them."""

    channel: str
    address: str


@dataclass(frozen=True)
class Ignore:
    reason: str


Action = Store | Converse | Decline | Status | OptOut | Ignore
# Delivery states in the order they happen: callbacks arrive out of order, and a late "sent"
# must not undo "delivered".
STATUS_RANK = {"scheduled": 1, "accepted": 1, "queued": 1, "sending": 2, "sent": 3,
               "partially_delivered": 4, "delivered": 4, "read": 5, "undelivered": 4,
               "failed": 4, "canceled": 4}
