"""Outbound calls are not built yet (issue #19's next slice): a voice contact answers by
calling in. A launch's invitation to one fails clearly instead of going nowhere."""

from __future__ import annotations

from surveys.tables import OutboxMessage
from worker.senders import PermanentSendError, Sender


def no_outbound_calls(message: OutboxMessage) -> str | None:
    """Refuse: heard cannot call people yet; their session waits for their call."""
    raise PermanentSendError("voice: heard does not make outbound calls yet; the person answers "
                             "by calling in", code="no_outbound_calls")


def twilio_voice_sender() -> Sender:
    """The voice channel's sender factory (surveys/channels.py names it)."""
    return no_outbound_calls
