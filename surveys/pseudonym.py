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

KEY_FILE = "pseudonym.key"
LENGTH = 16  # hex characters: 64 bits, no collision in any realistic contact list


def load_key(configured: str | None, data_dir: Path) -> bytes:
    """HEARD_PSEUDONYM_KEY when set; else a random key made once and kept in the data dir.

    Several hosts of one deployment must share HEARD_PSEUDONYM_KEY (or the data dir), or their
    exports name the same contact differently.
    """
    if configured:
        return configured.encode()
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return path.read_bytes().strip()


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
