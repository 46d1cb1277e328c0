"""Store an inbound message in the inbox and queue it: what every webhook does, fast."""

from __future__ import annotations

from redis import Redis

from surveys.database import session_scope
from surveys.messages import Inbound, clean_text
from surveys.sql import insert_ignore
from surveys.tables import InboxMessage
from worker.queues import request_drain


def ingest(database_url: str, redis: Redis, message: Inbound) -> int | None:
    """The new inbox id, or None when this provider message was already stored (a re-delivery).

    The row is committed before it is queued: if Redis is down the message is still kept, and
    the sweeper queues it later.
    """
    with session_scope(database_url) as db:
        inbox_id = insert_ignore(
            db, InboxMessage.__table__,
            {"channel": message.channel, "provider_id": message.provider_id,
             "address": message.address, "text": clean_text(message.text),
             "payload": message.payload, "received_at": message.received_at},
            conflict=["channel", "provider_id"], returning=InboxMessage.id).scalar()
    if inbox_id is not None:
        request_drain(redis)
    return inbox_id
