"""Contacts from a facilitator's CSV: every bad row reported by line, good rows kept.

Columns: channel (sms, whatsapp, telegram; default sms), address or phone, language, community,
consent (yes/no), and the profile fields the facilitator declares (e.g. gender, village). Any
other column (a name, a second number) is personal data: it is not stored, and the report
names it, so nobody's name can reach a pseudonymous export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from babel import Locale, UnknownLocaleError
from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.channels import importable
from surveys.phone import InvalidPhoneNumber, to_e164
from surveys.profile_fields import declare_profile_fields
from surveys.tables import Contact, utcnow

KNOWN_COLUMNS = {"channel", "address", "phone", "language", "community", "consent"}
YES = {"yes", "y", "true", "1", "oui", "si", "sí", "ja", "ndiyo", "haan", "ha", "oo"}
NO = {"no", "n", "false", "0", "non", "nej", "hapana", "nahi", "hindi"}
MAX_FIELD_NAME = 128  # profile_fields.name


@dataclass
class ImportedContact:
    channel: str
    address: str
    language: str | None
    community: str | None
    consent: bool | None
    profile: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    merged_duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    profile_fields: list[str] = field(default_factory=list)  # declared columns: kept
    dropped_columns: list[str] = field(default_factory=list)  # headers as written: not stored

    def summary(self) -> str:
        return (f"{self.rows} rows read: {self.created} new contacts, {self.updated} updated, "
                f"{self.merged_duplicates} duplicate rows merged, {len(self.errors)} bad rows")

    def dropped_notice(self, declare_with: str = "--profile") -> str | None:
        """The columns not kept, so a facilitator who needs one knows how to keep it."""
        if not self.dropped_columns:
            return None
        return (f"dropped columns not declared as profile fields: "
                f"{', '.join(self.dropped_columns)} (personal data is not kept; declare a column "
                f"with {declare_with} to keep it)")


def profile_columns(values: Iterable[str]) -> list[str]:
    """'gender,village' and 'gender', 'village' alike → ['gender', 'village'], as headers are
    read (trimmed, lower case), each once."""
    names = (name.strip().lower() for value in values for name in value.split(","))
    return list(dict.fromkeys(name for name in names if name))


def parse_contacts(text: str | Iterable[str], region: str | None = None,
                   profile: Iterable[str] = ()) -> tuple[list[ImportedContact], ImportReport]:
    """Valid contacts (duplicates merged, later rows win) and a report with every bad row.

    Only the `profile` columns are kept as profile fields; every other unknown column is
    dropped unread and listed in the report.
    """
    report = ImportReport(profile_fields=profile_columns(profile))
    lines = io.StringIO(text) if isinstance(text, str) else text
    reader = csv.DictReader(lines)
    headers = list(reader.fieldnames or [])
    problems = _header_problems(headers, report.profile_fields)
    if problems:
        report.errors += [RowError(1, problem) for problem in problems]
        return [], report
    report.dropped_columns = _dropped_columns(headers, report.profile_fields)
    declared = set(report.profile_fields)
    merged: dict[tuple[str, str], ImportedContact] = {}
    for row in reader:
        report.rows += 1
        cleaned = {(key or "").strip().lower(): (value or "").strip()
                   for key, value in row.items() if key is not None}
        try:
            contact = _contact(cleaned, region, declared)
        except ValueError as error:
            report.errors.append(RowError(reader.line_num, str(error)))
            continue
        key = (contact.channel, contact.address)
        if key in merged:
            report.merged_duplicates += 1
            _merge(merged[key], contact)
        else:
            merged[key] = contact
    return list(merged.values()), report


def _header_problems(headers: list[str], declared: list[str]) -> list[str]:
    """What makes the file unusable as given: no address column, or a --profile column that
    is missing, is a contact column, or is too long a name."""
    columns = {name.strip().lower() for name in headers if name and name.strip()}
    problems = []
    if not columns & {"address", "phone"}:
        problems.append("the header needs an 'address' or 'phone' column "
                        f"(found: {', '.join(sorted(columns)) or 'nothing'})")
    missing = [name for name in declared if name not in columns]
    if missing:
        problems.append(f"declared profile column(s) not in the header: {', '.join(missing)} "
                        f"(found: {', '.join(sorted(columns)) or 'nothing'})")
    reserved = [name for name in declared if name in KNOWN_COLUMNS]
    if reserved:
        problems.append(f"contact column(s) declared as profile fields: {', '.join(reserved)} "
                        "(they are stored as contact columns already: declare only other columns)")
    too_long = [name for name in declared if len(name) > MAX_FIELD_NAME]
    if too_long:
        problems.append(f"profile field name(s) longer than {MAX_FIELD_NAME} characters: "
                        f"{', '.join(name[:40] + '...' for name in too_long)}")
    return problems


def _dropped_columns(headers: list[str], declared: list[str]) -> list[str]:
    """Headers, as written in the file, of the columns that are neither contact columns nor
    declared profile fields; a column without a header is named by its position."""
    kept = KNOWN_COLUMNS | set(declared)
    return [header.strip() or f"column {position} (no header)"
            for position, header in enumerate(headers, start=1)
            if (header or "").strip().lower() not in kept]


def _contact(row: dict[str, str], region: str | None, declared: set[str]) -> ImportedContact:
    channel = (row.get("channel") or "sms").lower()
    if channel not in importable():
        raise ValueError(f"unknown channel {channel!r} (use {', '.join(importable())})")
    raw = row.get("address") or row.get("phone") or ""
    if not raw:
        raise ValueError("no address or phone")
    if channel == "telegram":
        if not raw.lstrip("-").isdigit():
            raise ValueError(f"a Telegram address is a numeric chat id, not {raw!r}")
        address = raw
    else:
        try:
            address = to_e164(raw, region)
        except InvalidPhoneNumber as error:
            raise ValueError(str(error)) from None
    language = row.get("language") or None
    if language:
        try:
            Locale.parse(language)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"unknown language code {language!r}") from None
    consent_text = (row.get("consent") or "").lower()
    if consent_text and consent_text not in YES | NO:
        raise ValueError(f"consent must be yes or no, not {row.get('consent')!r}")
    consent = True if consent_text in YES else False if consent_text in NO else None
    profile = {key: value for key, value in row.items() if key in declared and value}
    return ImportedContact(channel, address, language, row.get("community") or None, consent,
                           profile)


def _merge(kept: ImportedContact, later: ImportedContact) -> None:
    kept.language = later.language or kept.language
    kept.community = later.community or kept.community
    kept.consent = later.consent if later.consent is not None else kept.consent
    kept.profile.update(later.profile)


def store_contacts(db: Session, contacts: list[ImportedContact], report: ImportReport) -> None:
    """Insert new contacts, update known ones, and record the declared profile fields so
    exports may show them; opt-outs are never undone by an import."""
    if contacts:
        declare_profile_fields(db, report.profile_fields)
    for start in range(0, len(contacts), 1000):
        chunk = contacts[start:start + 1000]
        existing = {(c.channel, c.address): c for c in db.scalars(select(Contact).where(
            Contact.address.in_([c.address for c in chunk])))}
        for item in chunk:
            found = existing.get((item.channel, item.address))
            if found is None:
                db.add(Contact(channel=item.channel, address=item.address,
                               language=item.language, community=item.community,
                               consent=item.consent, profile=item.profile, opted_out=False,
                               created_at=utcnow()))
                report.created += 1
                continue
            _update(found, item)
            report.updated += 1
        db.flush()


def _update(contact: Contact, item: ImportedContact) -> None:
    contact.language = item.language or contact.language
    contact.community = item.community or contact.community
    if item.consent is not None and contact.consent is not False:
        contact.consent = item.consent  # a "no" the person gave us is never overridden
    if item.profile:
        merged: dict[str, Any] = dict(contact.profile or {})
        merged.update(item.profile)
        contact.profile = merged
