"""Contacts from a facilitator's spreadsheet: every bad row reported by line, good rows kept.

Columns: channel (sms, whatsapp, telegram; default sms), address or phone, language, community,
consent (yes/no), country (for numbers written without +code), time zone (an IANA name such as
Africa/Nairobi, for quiet hours where the number does not tell it), and the profile fields the
facilitator declares (e.g. gender, village). Any other column (a name, a second number) is
personal data: it is not stored, and the report names it, so nobody's name can reach a
pseudonymous export.

Files are read as spreadsheets are saved: XLSX, or CSV in UTF-8 (with or without a BOM),
UTF-16 (Excel's "Unicode text") or Windows-1252 (Excel's "CSV (Comma delimited)"), separated
by commas, semicolons (Excel where the decimal mark is a comma) or tabs. Headers may be written
as people write them ("Mobile Number", "MSISDN", "Simu"), languages by name ("Swahili",
"বাংলা") as well as by code, consent in any catalog language's yes and no.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pycountry
from babel import Locale, UnknownLocaleError
from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.channels import importable
from surveys.i18n import keywords, language_name, normalize, shipped_languages
from surveys.phone import InvalidPhoneNumber, to_e164
from surveys.profile_fields import declare_profile_fields
from surveys.quiet_hours import zone_named
from surveys.tables import Contact, utcnow

KNOWN_COLUMNS = {"channel", "address", "phone", "language", "community", "consent", "country",
                 "time_zone"}
# headers as facilitators write them (folded: lower case, accents, spaces and _ . - as one space)
HEADER_SYNONYMS = {
    "phone": ["mobile", "mobile number", "mobile no", "cell", "cell phone", "cellphone",
              "phone number", "phone no", "number", "msisdn", "tel", "telephone", "whatsapp",
              "whatsapp number", "telefono", "numero", "portable", "telephone portable",
              "movil", "celular", "simu", "namba ya simu", "ফোন", "মোবাইল", "ফোন নম্বর",
              "मोबाइल", "फ़ोन", "फोन", "फ़ोन नंबर", "मोबाइल नंबर", "so dien thoai", "sdt"],
    "address": ["chat id", "telegram id"],
    "language": ["lang", "langue", "idioma", "lugha", "ভাষা", "भाषा", "ngon ngu"],
    "community": ["village", "settlement", "area", "communaute", "comunidad", "jamii",
                  "এলাকা", "समुदाय"],
    "consent": ["agreed", "consented", "consentement", "consentimiento", "ridhaa",
                "সম্মতি", "सहमति"],
    "country": ["country code", "pays", "pais", "nchi", "দেশ", "देश"],
    "time_zone": ["time zone", "timezone", "tz", "fuseau horaire", "zona horaria"],
}
YES = {"yes", "y", "true", "1", "oui", "si", "sí", "ja", "ndiyo", "haan", "ha", "oo", "x"}
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
    time_zone: str | None = None


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
    if isinstance(text, str):
        text = text.removeprefix("\ufeff")
        lines: Iterable[str] = io.StringIO(text)
        reader = csv.DictReader(lines, dialect=_dialect(text))
    else:
        reader = csv.DictReader(text)
    written = list(reader.fieldnames or [])
    reader.fieldnames = headers = [_column(name, report.profile_fields) for name in written]
    problems = _header_problems(headers, report.profile_fields)
    if problems:
        report.errors += [RowError(1, problem) for problem in problems]
        return [], report
    report.dropped_columns = _dropped_columns(written, headers, report.profile_fields)
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


def read_spreadsheet(data: bytes) -> str:
    """A spreadsheet file as CSV text: XLSX's first sheet, or CSV in the encodings Excel and
    phones save (a BOM tells UTF-8 and UTF-16; else UTF-8, else Windows-1252). ValueError
    naming what it is when it is none of these."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_as_csv(data)
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                          (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data[:200]:  # UTF-16 without a BOM: every other byte of ASCII is NUL
        try:
            return data.decode("utf-16-le" if data[1:2] == b"\x00" else "utf-16-be")
        except UnicodeDecodeError:
            raise ValueError("not a text or XLSX file (it holds NUL bytes)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _xlsx_as_csv(data: bytes) -> str:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise ValueError(f"not a readable XLSX file: {error}") from None
    out = io.StringIO()
    writer = csv.writer(out)
    for row in sheet.iter_rows(values_only=True):
        writer.writerow(["" if value is None else _cell(value) for value in row])
    return out.getvalue()


def _cell(value: object) -> str:
    """A cell as written: 712345678.0 (a number typed without its 0) as 712345678."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Commas, semicolons or tabs, as the header line shows."""
    header = text.split("\n", 1)[0]
    counts = {separator: header.count(separator) for separator in (",", ";", "\t", "|")}
    separator = max(counts, key=lambda key: counts[key])
    if counts[separator] == 0 or separator == ",":
        return csv.excel
    return type("Sniffed", (csv.excel,), {"delimiter": separator})


def _fold(header: str) -> str:
    return re.sub(r"[\s_.\-]+", " ", normalize(header)).strip()


@cache
def _synonyms() -> dict[str, str]:
    return {_fold(word): column for column, words in HEADER_SYNONYMS.items()
            for word in [column, *words]}


def _column(header: str | None, declared: list[str]) -> str:
    """A header as heard reads it: a declared profile column as declared, a contact column
    by any of its names, any other as written (trimmed, lower case)."""
    plain = (header or "").strip().lower()
    if plain in declared:
        return plain
    return _synonyms().get(_fold(plain), plain)


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


def _dropped_columns(written: list[str], read: list[str], declared: list[str]) -> list[str]:
    """Headers, as written in the file, of the columns that are neither contact columns nor
    declared profile fields (`read`: as heard reads them); a column without a header is named
    by its position."""
    kept = KNOWN_COLUMNS | set(declared)
    return [(header or "").strip() or f"column {position} (no header)"
            for position, (header, column) in enumerate(zip(written, read, strict=True), start=1)
            if column not in kept]


@cache
def _language_names() -> dict[str, str]:
    """Folded language names → code: each shipped language's own name and its English one."""
    names: dict[str, str] = {}
    for code in shipped_languages():
        for reader in (code, "en"):
            names[_fold(language_name(code, reader))] = code
    return names


def language_code(value: str) -> str:
    """A language as a code ("sw"), from a code or a name ("Swahili", "Kiswahili", "বাংলা");
    ValueError naming it when it is neither."""
    folded = _fold(value)
    if folded in _language_names():
        return _language_names()[folded]
    try:
        Locale.parse(value.strip().replace("-", "_"))
        return value.strip()
    except (UnknownLocaleError, ValueError):
        pass
    try:
        found = pycountry.languages.lookup(value.strip())
    except LookupError:
        raise ValueError(f"unknown language {value!r} (a code such as sw, or a name such as "
                         f"Swahili)") from None
    return str(getattr(found, "alpha_2", None) or found.alpha_3)


@cache
def _consent_words() -> tuple[frozenset[str], frozenset[str]]:
    """Yes and no as typed in a spreadsheet, in every catalog language (its keywords)."""
    yes, no = {normalize(word) for word in YES}, {normalize(word) for word in NO}
    for lang in shipped_languages():
        for word, command in keywords(lang).items():
            (yes if command == "yes" else no if command == "no" else set()).add(word)
    return frozenset(yes), frozenset(no - yes)


def _region(value: str, default: str | None) -> str | None:
    """A row's country (KE, Kenya, 254, +254) as a region code, else the import's default."""
    text = value.strip().lstrip("+")
    if not text:
        return default
    if text.isdigit():
        import phonenumbers

        region = phonenumbers.region_code_for_country_code(int(text))
        if region == "ZZ":
            raise ValueError(f"unknown country code {value!r}")
        return region
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        raise ValueError(f"unknown country {value!r} (a code such as KE, or a name)") from None


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
            address = to_e164(raw, _region(row.get("country") or "", region))
        except InvalidPhoneNumber as error:
            raise ValueError(str(error)) from None
    language = language_code(row["language"]) if row.get("language") else None
    consent_text = normalize(row.get("consent") or "")
    yes, no = _consent_words()
    if consent_text and consent_text not in yes | no:
        raise ValueError(f"consent must be yes or no, not {row.get('consent')!r}")
    consent = True if consent_text in yes else False if consent_text in no else None
    profile = {key: value for key, value in row.items() if key in declared and value}
    zone = row.get("time_zone") or None
    if zone:
        zone_named(zone)  # ValueError naming it
    return ImportedContact(channel, address, language, row.get("community") or None, consent,
                           profile, zone)


def _merge(kept: ImportedContact, later: ImportedContact) -> None:
    kept.language = later.language or kept.language
    kept.community = later.community or kept.community
    kept.time_zone = later.time_zone or kept.time_zone
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
                               time_zone=item.time_zone, created_at=utcnow()))
                report.created += 1
                continue
            _update(found, item)
            report.updated += 1
        db.flush()


def _update(contact: Contact, item: ImportedContact) -> None:
    contact.language = item.language or contact.language
    contact.community = item.community or contact.community
    contact.time_zone = item.time_zone or contact.time_zone
    if item.consent is not None and contact.consent is not False:
        contact.consent = item.consent  # a "no" the person gave us is never overridden
    if item.profile:
        merged: dict[str, Any] = dict(contact.profile or {})
        merged.update(item.profile)
        contact.profile = merged
