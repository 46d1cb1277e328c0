"""USSD cannot start a conversation: a person dials in, heard answers within the session.

A row for the channel that is not a session's answer (a reminder, a launch's invitation to a
USSD contact) fails for good, saying so, instead of waiting for ever.
"""

from __future__ import annotations

from surveys.tables import OutboxMessage
from worker.senders import PermanentSendError, Sender


def refuse(message: OutboxMessage) -> str | None:
    """Nothing reaches a USSD contact outside their own session."""
    raise PermanentSendError("USSD sends nothing outside a session the person dialled",
                             code="ussd_no_push")


def ussd_sender() -> Sender:
    """The channel's sender factory (surveys/channels.py names it)."""
    return refuse
