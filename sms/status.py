"""Twilio status callbacks → the outbox row's delivery status (never moving backwards)."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from sms.errors import contact_effect, parse_code
from surveys.database import session_scope
from surveys.tables import Contact, OutboxMessage

log = logging.getLogger(__name__)
# Callbacks can arrive out of order: a late "sent" must not undo "delivered".
RANK = {"scheduled": 1, "accepted": 1, "queued": 1, "sending": 2, "sent": 3,
        "partially_delivered": 4, "delivered": 4, "read": 5, "undelivered": 4, "failed": 4,
        "canceled": 4}


class UnknownStatus(ValueError):
    """A MessageStatus Twilio does not document: refused (400), so it shows in their logs."""


def record_status(database_url: str, provider_id: str, status: str,
                  error_code: str | None) -> bool:
    if status not in RANK:
        log.warning("unknown Twilio MessageStatus %r for %s: not recorded", status, provider_id)
        raise UnknownStatus(f"MessageStatus: unknown status {status!r}; expected one of "
                            f"{', '.join(sorted(RANK))}")
    with session_scope(database_url) as db:
        message = db.scalars(select(OutboxMessage).where(OutboxMessage.provider_id == provider_id)
                             .with_for_update()).first()
        if message is None:
            log.warning("status %s for unknown Twilio message %s", status, provider_id)
            return False
        if RANK[status] >= RANK.get(message.status, 0):
            message.status = status
        code = parse_code(error_code)
        if code is not None:
            message.error_code = str(code)
        opt_out, unreachable = contact_effect(code)
        if message.contact_id is not None and (opt_out or unreachable):
            values: dict[str, object] = {"opted_out": True} if opt_out else {}
            if unreachable:
                values["unreachable"] = unreachable
            db.execute(update(Contact).where(Contact.id == message.contact_id).values(**values))
    return True
