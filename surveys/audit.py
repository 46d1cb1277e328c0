"""The audit log: who took personal data out of heard or wiped it, when, and how much.

Exports (file or API page), exports that reveal addresses, recordings fetched through the API,
erasures and purges each add one entry. An entry names no person: its detail holds formats,
counts, filters and contact ids, never an address or a message, so erasing someone leaves
nothing of them here.
"""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.database import session_scope
from surveys.tables import ApiToken, AuditEntry
from surveys.tokens import token_hash

EXPORT, REVEAL_ADDRESS, ERASE, PURGE = "export", "reveal_address", "erase", "purge"
RECORDING = "recording"  # a spoken answer's audio, fetched: its id and size
IMPORT_CONTACTS = "import_contacts"  # counts only: rows, created, updated, bad rows
REQUEUE_FAILED = "requeue_failed"  # an admin put failed jobs back on their queues
SWEEPER = "system:sweeper"


def record(db: Session, actor: str, action: str, round_id: int | None = None,
           **detail: Any) -> AuditEntry:
    """Add an entry in the caller's transaction, so it stands or falls with what it records."""
    entry = AuditEntry(actor=actor, action=action, round_id=round_id, detail=detail)
    db.add(entry)
    db.flush()
    return entry


def record_api_call(database_url: str, token: str | None, role: str, action: str,
                    round_id: int | None = None, **detail: Any) -> None:
    """An entry for an API call, naming its token (by name and role, never the token)."""
    with session_scope(database_url) as db:
        record(db, token_actor(db, token, role), action, round_id, **detail)


def export_action(with_addresses: bool) -> str:
    """An export with phone numbers and chat ids is logged as revealing them."""
    return REVEAL_ADDRESS if with_addresses else EXPORT


def cli_actor() -> str:
    """Whoever runs a command, as the operating system names them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid with no name (containers)
        user = "unknown"
    return f"cli:{user}"


def token_actor(db: Session, token: str | None, role: str) -> str:
    """An API caller: their token's name and role."""
    name = db.scalar(select(ApiToken.name).where(ApiToken.token_hash == token_hash(token))
                     ) if token else None
    return f"token:{name or 'unknown'} ({role})"


def latest(db: Session, limit: int) -> list[AuditEntry]:
    """The newest entries, newest first."""
    return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
