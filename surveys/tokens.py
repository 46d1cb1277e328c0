"""API tokens: created once (shown once), stored as a hash, checked on every request.

A token, like a console user, may be limited to some communities: it then sees and acts on
their rounds only (`sees`), the one rule the API, the dashboard and the console all apply.
It may expire (`expires_at`): from then on it is refused as a revoked one is, saying so.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.tables import ApiToken, utcnow

ROLES = ("facilitator", "analyst", "admin")


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, so a database dump holds no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


def sees(communities: tuple[str, ...] | None, community: str | None) -> bool:
    """Whether someone working in `communities` (None: all) may see a round of `community`
    (None: a round for everyone, which only the unlimited see)."""
    if communities is None:
        return True
    return community is not None and community.lower() in communities


def scope_of(role: str, communities: Iterable[str] | None) -> list[str] | None:
    """Communities as stored: trimmed, lower case, sorted; None (all) for admins and for none."""
    named = sorted({name.strip().lower() for name in communities or () if name.strip()})
    return None if role == "admin" or not named else named


@dataclass(frozen=True)
class Bearer:
    """Who a token is: a role, and the communities it works in (None: all)."""

    role: str
    communities: tuple[str, ...] | None

    def sees(self, community: str | None) -> bool:
        return sees(self.communities, community)


def create_token(db: Session, role: str, name: str,
                 communities: Iterable[str] | None = None,
                 expires_in: timedelta | None = None) -> str:
    """A new token (returned this once), working until revoked or for `expires_in`."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValueError(f"a token expires after a time above 0, not {expires_in}")
    token = "hrd_" + secrets.token_urlsafe(32)
    db.add(ApiToken(name=name, role=role, token_hash=token_hash(token),
                    communities=scope_of(role, communities),
                    expires_at=utcnow() + expires_in if expires_in is not None else None))
    db.flush()
    return token


def expired(row: ApiToken, now: datetime | None = None) -> bool:
    """Whether the token's time is up."""
    return row.expires_at is not None and row.expires_at <= (now or utcnow())


def bearer_of(db: Session, token: str) -> Bearer | None:
    """The token's role and communities, or None for an unknown, revoked or expired token."""
    row = _row(db, token)
    if row is None or row.revoked_at is not None or expired(row):
        return None
    return Bearer(row.role, tuple(row.communities) if row.communities else None)


def refusal(db: Session, token: str) -> str:
    """Why a token bearer_of refuses is refused, for the 401: unknown, revoked or expired."""
    row = _row(db, token)
    if row is None:
        return "invalid token"
    if row.revoked_at is not None:
        return f"revoked token (revoked {row.revoked_at:%Y-%m-%d %H:%M} UTC)"
    if row.expires_at is not None:
        return f"expired token (expired {row.expires_at:%Y-%m-%d %H:%M} UTC): ask for a new one"
    return "invalid token"


def _row(db: Session, token: str) -> ApiToken | None:
    return db.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
