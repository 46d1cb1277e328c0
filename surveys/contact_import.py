"""Contacts from a facilitator's spreadsheet: every bad row reported by line, good rows kept.

Columns: channel (sms, whatsapp, telegram, voice; default sms), address or phone, language,
community, consent (yes/no), country (for numbers written without +code), time zone (an IANA
name such as Africa/Nairobi, for quiet hours where the number does not tell it), and the
profile fields the facilitator declares (e.g. gender, village). Any other column (a name, a
second number) is personal data: it is not stored, and the report names it, so nobody's name
can reach a pseudonymous export.

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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pycountry
from babel import Locale, UnknownLocaleError
from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.channels import importable
from surveys.database import analyze, session_scope
from surveys.i18n import keywords, language_name, normalize, shipped_languages
from surveys.phone import InvalidPhoneNumber, to_e164
from surveys.profile_fields import declare_profile_fields
from surveys.quiet_hours import zone_named
from surveys.tables import Contact, utcnow
from surveys.tokens import sees

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
CHUNK = 1000  # contacts per query and per write
DROP, PROFILE = "drop", "profile:"  # a column not stored; a column kept as a profile field


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
                   profile: Iterable[str] = (), *, columns: Mapping[str, str] | None = None,
                   community: str | None = None, communities: tuple[str, ...] | None = None,
                   ) -> tuple[list[ImportedContact], ImportReport]:
    """Valid contacts (duplicates merged, later rows win) and a report with every bad row.

    `columns` maps each header as written to a contact column, `profile:NAME` or `drop`;
    without it heard reads the headers by their synonyms and keeps the `profile` columns.
    Every dropped column is left unread and listed in the report. Rows without a community
    get `community`; a row whose community is not one of `communities` (None: every one)
    is a bad row, so nobody imports into a community not theirs.
    """
    rows = csv.reader(*_lines(text))
    names = column_names(next(rows, []))
    declared = profile_columns(profile)
    mapping = dict(columns) if columns is not None else guess_columns(names, declared)
    problems = mapping_problems(names, mapping)
    if columns is None:
        problems = _declared_problems(names, mapping, declared) + problems
    targets = [mapping.get(name, DROP) for name in names]
    report = ImportReport(profile_fields=[target.removeprefix(PROFILE) for target in targets
                                          if target.startswith(PROFILE)])
    if problems:
        report.errors += [RowError(1, problem) for problem in problems]
        return [], report
    report.dropped_columns = [name for name, target in zip(names, targets, strict=True)
                              if target == DROP]
    merged: dict[tuple[str, str], ImportedContact] = {}
    for row in rows:
        if not row:
            continue
        report.rows += 1
        fields = {target: value.strip() for target, value in zip(targets, row, strict=False)
                  if target != DROP}
        try:
            contact = _contact(fields, region, community)
            _in_scope(contact.community, communities)
        except ValueError as error:
            report.errors.append(RowError(rows.line_num, str(error)))
            continue
        key = (contact.channel, contact.address)
        if key in merged:
            report.merged_duplicates += 1
            _merge(merged[key], contact)
        else:
            merged[key] = contact
    return list(merged.values()), report


def _lines(text: str | Iterable[str]) -> tuple[Iterable[str], type[csv.Dialect] | csv.Dialect]:
    """The file's lines and its separator (a list of lines is read as commas)."""
    if isinstance(text, str):
        text = text.removeprefix("\ufeff")
        return io.StringIO(text, newline=""), _dialect(text)  # as csv reads: \r ends a row too
    return text, csv.excel


def header_and_samples(text: str, samples: int = 3) -> list[tuple[str, list[str]]]:
    """Each column's name as written and its first `samples` non-empty values, so whoever
    maps the columns sees what they hold."""
    rows = csv.reader(*_lines(text))
    names = column_names(next(rows, []))
    seen: list[list[str]] = [[] for _ in names]
    for row in rows:
        for found, value in zip(seen, row, strict=False):
            if value.strip() and len(found) < samples:
                found.append(value.strip())
        if all(len(found) == samples for found in seen):
            break
    return list(zip(names, seen, strict=True))


def data_rows(text: str) -> int:
    """How many rows a file has below its header (blank lines aside)."""
    return max(sum(1 for row in csv.reader(*_lines(text)) if row) - 1, 0)


def column_names(written: list[str]) -> list[str]:
    """Headers as written (trimmed); a column without one is named by its position."""
    return [(header or "").strip() or f"column {position} (no header)"
            for position, header in enumerate(written, start=1)]


def guess_columns(names: list[str], declared: Iterable[str] = ()) -> dict[str, str]:
    """heard's reading of each header: a `declared` profile column as declared, a contact
    column by any of its names, anything else dropped (personal data)."""
    kept = set(declared) - KNOWN_COLUMNS  # a contact column stays one (the CLI says so)
    guessed = {}
    for name in names:
        plain = name.strip().lower()
        guessed[name] = (PROFILE + plain if plain in kept
                         else _synonyms().get(_fold(plain), DROP))
    return guessed


def column_target(value: str) -> str:
    """What a column is mapped to, as typed (`--column "Mobile No=phone"`): a contact column,
    `drop`, or a profile field (`profile:gender`, or just a name that is not a contact column)."""
    folded = value.strip().lower()
    if folded == DROP or folded.replace(" ", "_") in KNOWN_COLUMNS:
        return folded.replace(" ", "_")
    if folded.startswith(PROFILE):
        return PROFILE + folded.removeprefix(PROFILE).strip()
    return PROFILE + folded


def mapping_problems(names: list[str], columns: Mapping[str, str]) -> list[str]:
    """What makes a column mapping unusable, each naming its column: no phone or address, two
    columns for one thing, a profile field without a name, with a contact column's name or too
    long a name, an unknown target, a mapped column the file does not have."""
    problems = [f"column {name!r} is not in the file (found: {', '.join(names) or 'nothing'})"
                for name in columns if name not in names]
    by_target: dict[str, list[str]] = {}
    for name in names:
        by_target.setdefault(columns.get(name, DROP), []).append(name)
    if not by_target.keys() & {"address", "phone"}:
        problems.append("no column is mapped to phone (or address): the header needs an "
                        f"'address' or 'phone' column (found: {', '.join(names) or 'nothing'})")
    for target, mapped in by_target.items():
        field_name = target.removeprefix(PROFILE)
        if target != DROP and len(mapped) > 1:
            problems.append(f"columns {', '.join(map(repr, mapped))} are all mapped to "
                            f"{field_name}: map only one of them")
        if target == DROP or target in KNOWN_COLUMNS:
            continue
        if not target.startswith(PROFILE):
            problems.append(f"column {mapped[0]!r}: unknown column {target!r} (use "
                            f"{', '.join(sorted(KNOWN_COLUMNS))}, profile:NAME or drop)")
        elif not field_name:
            problems.append(f"column {mapped[0]!r}: a profile field needs a name")
        elif field_name in KNOWN_COLUMNS:
            problems.append(f"column {mapped[0]!r}: contact column(s) declared as profile "
                            f"fields: {field_name} (they are stored as contact columns "
                            "already: declare only other columns)")
        elif len(field_name) > MAX_FIELD_NAME:
            problems.append(f"column {mapped[0]!r}: profile field name(s) longer than "
                            f"{MAX_FIELD_NAME} characters: {field_name[:40]}...")
    return problems


def _declared_problems(names: list[str], columns: Mapping[str, str],
                       declared: list[str]) -> list[str]:
    """--profile columns the header lacks, or that are contact columns (the CLI's words)."""
    problems = []
    found = ", ".join(sorted({name.lower() for name in names})) or "nothing"
    kept = {target.removeprefix(PROFILE) for target in columns.values()}
    missing = [name for name in declared if name not in kept]
    reserved = [name for name in declared if name in KNOWN_COLUMNS]
    if [name for name in missing if name not in reserved]:
        problems.append(f"declared profile column(s) not in the header: "
                        f"{', '.join(name for name in missing if name not in reserved)} "
                        f"(found: {found})")
    if reserved:
        problems.append(f"contact column(s) declared as profile fields: {', '.join(reserved)} "
                        "(they are stored as contact columns already: declare only other columns)")
    return problems


def _in_scope(community: str | None, communities: tuple[str, ...] | None) -> None:
    """ValueError unless whoever imports works in the row's community (the console's and the
    API's one check)."""
    if sees(communities, community):
        return
    yours = ", ".join(communities or ())
    if community is None:
        raise ValueError(f"no community (yours: {yours}): give the row one, or choose a "
                         "default community")
    raise ValueError(f"community {community!r} is not one of yours ({yours})")


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
    named = {_fold(column): column for column in KNOWN_COLUMNS}
    return named | {_fold(word): column for column, words in HEADER_SYNONYMS.items()
                    for word in [column, *words]}


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


def country_code(value: str) -> str | None:
    """The country an import's numbers without +code are of (KE, Kenya, 254, +254; empty:
    none); ValueError naming it when it is none."""
    return _region(value, None)


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


def _contact(row: dict[str, str], region: str | None, community: str | None) -> ImportedContact:
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
    profile = {key.removeprefix(PROFILE): value for key, value in row.items()
               if key.startswith(PROFILE) and value}
    zone = row.get("time_zone") or None
    if zone:
        zone_named(zone)  # ValueError naming it
    return ImportedContact(channel, address, language, row.get("community") or community,
                           consent, profile, zone)


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
    for chunk in chunked(contacts):
        existing = _existing(db, chunk)
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


def save_contacts(database_url: str, contacts: list[ImportedContact],
                  report: ImportReport) -> None:
    """Store `contacts` in one transaction, then refresh the statistics of a table it grew
    or changed much (the launch that follows an import plans its queries on them)."""
    with session_scope(database_url) as db:
        store_contacts(db, contacts, report)
    analyze_contacts(database_url, report)


def analyze_contacts(database_url: str, report: ImportReport) -> None:
    """ANALYZE the contacts after an import that wrote many of them."""
    analyze(database_url, [Contact.__tablename__], report.created + report.updated)


def count_known(db: Session, contacts: list[ImportedContact]) -> int:
    """How many of `contacts` heard has already (an import would update them, not add them)."""
    return sum(len(_existing(db, chunk).keys() & {(c.channel, c.address) for c in chunk})
               for chunk in chunked(contacts))


def chunked(contacts: list[ImportedContact],
            size: int = CHUNK) -> Iterator[list[ImportedContact]]:
    """`contacts` a chunk at a time: one query, one flush (or one commit) each."""
    for start in range(0, len(contacts), size):
        yield contacts[start:start + size]


def _existing(db: Session, chunk: list[ImportedContact]) -> dict[tuple[str, str], Contact]:
    return {(c.channel, c.address): c for c in db.scalars(select(Contact).where(
        Contact.address.in_([c.address for c in chunk])))}


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
