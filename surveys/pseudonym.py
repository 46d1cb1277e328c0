"""Pseudonymous contact ids for exports: a keyed hash, stable within one deployment.

The hash is of the contact's row id, not of the phone number: without the key and the database
nobody can link a pseudonym to a person, and a phone number cannot be tested against exports
(phone numbers are few enough to try them all). Erasing a contact keeps its pseudonym, so
anonymous answers stay comparable across exports.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from surveys.database import session_scope
from surveys.sql import insert_ignore
from surveys.tables import Fact

KEY_FILE = "pseudonym.key"
FINGERPRINT = "pseudonym_key_fingerprint"
LENGTH = 16  # hex characters: 64 bits, no collision in any realistic contact list


class PseudonymKeyError(ValueError):
    """The key would give contacts ids other than earlier exports gave them; says how to fix."""


def load_key(configured: str | None, data_dir: Path, database_url: str | None = None) -> bytes:
    """HEARD_PSEUDONYM_KEY when set; else a random key made once and kept in the data dir.

    With `database_url`, the key is checked against the fingerprint the first export left in
    the database: a process that cannot find that key (run from another folder, another host
    without HEARD_PSEUDONYM_KEY) stops with PseudonymKeyError instead of quietly giving every
    contact a new id, which would break analysts' joins across exports.
    """
    path = data_dir / KEY_FILE
    key = configured.encode() if configured else (
        path.read_bytes().strip() if path.exists() else None)
    if database_url is None:
        return key if key is not None else _new_key(path)
    with session_scope(database_url) as db:
        known = db.get(Fact, FINGERPRINT)
        if key is None:
            if known is not None:
                raise PseudonymKeyError(
                    f"earlier exports used a pseudonym key this process cannot find: set "
                    f"HEARD_PSEUDONYM_KEY, or HEARD_DATA_DIR to the folder that holds their "
                    f"{KEY_FILE} (there is none in {data_dir.resolve()}); a new key would give "
                    "every contact a new id")
            key = _new_key(path)
        if known is None:
            insert_ignore(db, Fact.__table__, {"name": FINGERPRINT, "value": _fingerprint(key)},
                          conflict=["name"])
            known = db.get(Fact, FINGERPRINT, populate_existing=True)
        if known is not None and known.value != _fingerprint(key):
            raise PseudonymKeyError(
                "this pseudonym key (HEARD_PSEUDONYM_KEY or the data dir's key file) is not the "
                "one earlier exports used: their contact ids would not match these")
    return key


def _new_key(path: Path) -> bytes:
    if not path.exists():
        _create_key_file(path)
    return path.read_bytes().strip()


def _fingerprint(key: bytes) -> str:
    """Tells keys apart without revealing them (the database never holds the key itself)."""
    return hmac.new(key, b"heard pseudonym key fingerprint", hashlib.sha256).hexdigest()[:32]


def _create_key_file(path: Path) -> None:
    """Write the key in full under a temporary name, then link it into place: two processes
    starting at once agree on one key, and nobody ever reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process won: its key is the key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def pseudonym(key: bytes, contact_id: int) -> str:
    """The export id of contact `contact_id`: HMAC-SHA256, truncated."""
    digest = hmac.new(key, b"contact:%d" % contact_id, hashlib.sha256).hexdigest()
    return digest[:LENGTH]


def pseudonymizer(key: bytes) -> Callable[[int], str]:
    """`pseudonym` with the key schedule done once: exports call it once per row."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def name(contact_id: int) -> str:
        mac = keyed.copy()
        mac.update(b"contact:%d" % contact_id)
        return mac.hexdigest()[:LENGTH]

    return name
