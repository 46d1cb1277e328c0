"""Console users: Argon2id passwords, roles, community scopes and signed-in sessions.

A user is a facilitator, analyst or admin (surveys.tokens.ROLES) working in some communities
(None: all; admins always see all). Passwords are hashed with argon2-cffi's defaults (Argon2id,
the parameters OWASP recommends) and rehashed at sign-in when those defaults grow. A session is
a random cookie of which only the SHA-256 is stored, with the CSRF token its forms carry; it
lasts SESSION_HOURS and signing out deletes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from surveys.tables import ConsoleSession, User, utcnow
from surveys.tokens import ROLES, scope_of, sees, token_hash

HASHER = PasswordHasher()
MIN_PASSWORD = 10  # characters: a passphrase of a few words, not a PIN
SESSION_HOURS = 12  # a working day in the field, then sign in again
# verified when a name is unknown, so a wrong name takes as long as a wrong password
_NOBODY = HASHER.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class SignedIn:
    """Who a session is: what the console needs on every page."""

    user_id: int
    name: str
    role: str
    communities: tuple[str, ...] | None  # None: every community
    language: str
    csrf: str

    def sees(self, community: str | None) -> bool:
        """Whether this user may see and act on a round of `community` (None: everyone's)."""
        return sees(self.communities, community)


def folded(name: str) -> str:
    """A user name as stored and compared: trimmed, lower case."""
    return name.strip().lower()


def create_user(db: Session, name: str, password: str, role: str,
                communities: list[str] | None = None, language: str = "en") -> User:
    """A new user; UserError for a taken name, an unknown role or a short password."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if not folded(name) or len(folded(name)) > 128:
        raise UserError("a user name is 1 to 128 characters")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters (a few words "
                        f"are easy to remember and hard to guess)")
    if db.scalar(select(User.id).where(User.name == folded(name))) is not None:
        raise UserError(f"there is a user {folded(name)!r} already")
    user = User(name=folded(name), password_hash=HASHER.hash(password), role=role,
                communities=scope_of(role, communities), language=language,
                created_at=utcnow())
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, name: str, password: str) -> User | None:
    """The user with this name and password (not disabled), or None; as slow either way."""
    user = db.scalars(select(User).where(User.name == folded(name))).first()
    try:
        HASHER.verify(user.password_hash if user else _NOBODY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return user


def start_session(db: Session, user: User) -> str:
    """A new signed-in session for `user`; the cookie's value (shown once, stored hashed)."""
    cookie = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    db.add(ConsoleSession(token_hash=token_hash(cookie), user_id=user.id,
                          csrf=secrets.token_urlsafe(32), created_at=now,
                          expires_at=now + timedelta(hours=SESSION_HOURS)))
    return cookie


def signed_in(db: Session, cookie: str | None) -> SignedIn | None:
    """Who the cookie signs in, or None (no cookie, expired, signed out, user disabled)."""
    if not cookie:
        return None
    found = db.execute(select(ConsoleSession, User).join(User, User.id == ConsoleSession.user_id)
                       .where(ConsoleSession.token_hash == token_hash(cookie))).first()
    if found is None:
        return None
    session, user = found
    if session.expires_at <= utcnow() or user.disabled_at is not None:
        return None
    scope = None if user.role == "admin" or user.communities is None else tuple(
        user.communities)
    return SignedIn(user.id, user.name, user.role, scope, user.language, session.csrf)


def end_session(db: Session, cookie: str | None) -> None:
    """Sign the cookie's session out: it signs nobody in again."""
    if cookie:
        db.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(cookie)))
