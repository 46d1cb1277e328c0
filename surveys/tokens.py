"""API tokens: created once (shown once), stored as a hash, checked on every request."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.tables import ApiToken

ROLES = ("facilitator", "analyst", "admin")


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, so a database dump holds no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Session, role: str, name: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    token = "hrd_" + secrets.token_urlsafe(32)
    db.add(ApiToken(name=name, role=role, token_hash=token_hash(token)))
    db.flush()
    return token


def role_of(db: Session, token: str) -> str | None:
    row = db.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                            ApiToken.revoked_at.is_(None))).first()
    return row.role if row else None
