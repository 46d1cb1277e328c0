"""`heard export ROUND` (or `--survey ID`) and `heard contacts erase ADDRESS`: data out, with
its codebook and labels for Stata and SPSS, and personal data gone."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import NoReturn

import typer

from surveys import stats_labels
from surveys.audit import cli_actor, export_action, record
from surveys.database import migrate, session_scope
from surveys.erasure import erase as erase_contact
from surveys.erasure import find_contacts, record_erasures, spellings
from surveys.exports import (
    CODEBOOKS,
    WRITERS,
    Export,
    ExportError,
    find_round,
    open_export,
    open_survey_export,
)
from surveys.pseudonym import PseudonymKeyError, load_key
from surveys.settings import get_settings


class Format(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    jsonl = "jsonl"


def export(
    round_ref: str | None = typer.Argument(None, metavar="[ROUND]", help="Round id or code."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="File to write; '-' writes csv or jsonl to stdout."),
    survey: str | None = typer.Option(
        None, "--survey", metavar="ID",
        help="Every round of survey ID, whichever version each person answered, as one table."),
    format: Format | None = typer.Option(
        None, "--format", "-f", help="csv, xlsx or jsonl (default: --out's suffix, else csv)."),
    labels: str | None = typer.Option(
        None, "--labels", metavar="LANG",
        help="Question texts as headers and choice texts as values, in LANG."),
    with_addresses: bool = typer.Option(
        False, "--with-addresses", help="Add phone numbers and chat ids (personal data)."),
    stata: bool = typer.Option(False, "--stata", help="Also write OUT.do: Stata labels (csv)."),
    spss: bool = typer.Option(False, "--spss", help="Also write OUT.sps: SPSS syntax (csv)."),
) -> None:
    """One row per session of ROUND, one column per question; contacts are pseudonymous.

    Multi-choice questions also get one 0/1 column per choice, named question/choice.
    Profile columns (_profile.FIELD) are only the declared profile fields: profile questions
    and columns imported with `heard contacts import --profile`.
    The codebook goes with it: a `codebook` sheet in xlsx, OUT.codebook.csv beside a csv,
    OUT.codebook.json beside a jsonl.
    Free text that a spreadsheet would run as a formula gets a leading ' in csv (in xlsx it is
    a text cell).
    """
    chosen = (format.value if format else None) or _format_of(out)
    if chosen == "xlsx" and str(out) == "-":
        raise typer.BadParameter("xlsx cannot go to stdout: give a file name", param_hint="--out")
    if (round_ref is None) == (survey is None):
        raise typer.BadParameter("give a ROUND or --survey ID (one of them)",
                                 param_hint="ROUND")
    tools = [tool for tool, wanted in (("stata", stata), ("spss", spss)) if wanted]
    if tools and (chosen != "csv" or str(out) == "-" or labels):
        raise typer.BadParameter("labels for Stata and SPSS go with a csv file of values "
                                 "(no --labels, not stdout)", param_hint="--stata/--spss")
    settings = get_settings()
    url = settings.resolved_database_url()
    migrate(url)
    round_id = None
    if round_ref is not None:
        with session_scope(url) as db:
            found = find_round(db, round_ref)
            round_id = found.id if found else None
        if round_id is None:
            _fail(f"no round {round_ref!r}")
    if with_addresses:
        typer.echo("warning: this export holds phone numbers and chat ids: personal data. "
                   "Keep it safe and delete it when done.", err=True)
    try:
        key = load_key(settings.pseudonym_key, settings.data_dir, url)
        if round_id is not None:
            plan = open_export(url, round_id, key, labels=labels, with_addresses=with_addresses)
        else:
            plan = open_survey_export(url, str(survey), key, labels=labels,
                                      with_addresses=with_addresses)
        count = _write(plan, chosen, out, private=with_addresses)
    except (ExportError, PseudonymKeyError) as error:
        _fail(str(error))
    beside = _write_beside(plan, chosen, out, tools)
    with session_scope(url) as db:
        record(db, cli_actor(), export_action(with_addresses), round_id, format=chosen,
               rows=count, labels=labels, to=str(out), **({"survey": survey} if survey else {}))
    typer.echo(f"{plan.title}: {count} responses, {len(plan.columns)} columns, "
               f"{chosen} → {out}" + "".join(f", {path}" for path in beside), err=True)


def erase(
    address: str = typer.Argument(..., help="Phone number or chat id, as the person gave it."),
    channel: str | None = typer.Option(
        None, "--channel", help="Only on this channel (sms, telegram, ...); default: any."),
    region: str | None = typer.Option(
        None, help="Country of a number written without +code, e.g. KE "
                   "(default HEARD_DEFAULT_REGION)."),
) -> None:
    """Erase a person's personal data on request; their anonymous answers stay in the results.

    Blanked: the address (replaced by a random token), the profile, free-text answers
    (they may name people or places), the raw text of every answer, every message's text.
    Kept: answers to choice, number and yes/no questions, language, community, consent.
    Irreversible.
    """
    settings = get_settings()
    url = settings.resolved_database_url()
    migrate(url)
    with session_scope(url) as db:
        contacts = find_contacts(db, spellings(address, region or settings.default_region),
                                 channel)
        if not contacts:
            hint = "" if address.strip().startswith("+") or region or settings.default_region \
                else " (a number without +code needs --region, e.g. --region KE)"
            _fail(f"no contact with address {address!r}" + (f" on {channel}" if channel else "")
                  + hint)
        done = [erase_contact(db, contact) for contact in contacts]
        record_erasures(db, cli_actor(), done)
    for erased in done:
        typer.echo(f"contact {erased.contact_id} ({erased.channel}) erased: address replaced "
                   f"by {erased.token}, profile cleared; {erased.answers_kept} answers kept, "
                   f"{erased.texts_blanked} free-text answers blanked; "
                   f"{erased.inbox_blanked} inbox and {erased.outbox_blanked} outbox messages "
                   f"blanked, {erased.sends_suppressed} unsent messages suppressed, "
                   f"{erased.recordings_deleted} recordings deleted")


def _format_of(out: Path) -> str:
    suffix = out.suffix.lower().lstrip(".")
    return suffix if suffix in WRITERS else "csv"


def _write_beside(plan: Export, chosen: str, out: Path, tools: list[str]) -> list[Path]:
    """The codebook file beside a csv or jsonl file, and the Stata and SPSS files asked for."""
    if str(out) == "-":
        return []
    written = []
    if chosen in CODEBOOKS:
        suffix, write = CODEBOOKS[chosen]
        path = out.with_name(f"{_stem(out)}.{suffix}")
        with path.open("w", encoding="utf-8-sig" if chosen == "csv" else "utf-8",
                       newline="") as handle:
            write(plan, handle)
        written.append(path)
    for tool in tools:
        suffix, syntax = stats_labels.WRITERS[tool]
        path = out.with_name(f"{_stem(out)}.{suffix}")
        path.write_text(syntax(plan, out.name), encoding="utf-8")
        written.append(path)
    return written


def _stem(out: Path) -> str:
    """'round.csv' → 'round'; a name without a known suffix stays whole."""
    return out.stem if out.suffix.lower().lstrip(".") in WRITERS else out.name


def _write(plan: Export, chosen: str, out: Path, private: bool) -> int:
    """Write to a temporary file and rename it, so a failed export leaves no half file."""
    if str(out) == "-":
        return WRITERS[chosen](plan, sys.stdout)
    partial = out.with_name(f".{out.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o600 if private else 0o644)
    try:
        if chosen == "xlsx":
            with os.fdopen(descriptor, "wb") as handle:
                count = WRITERS[chosen](plan, handle)
        else:  # a BOM, so spreadsheets read Bengali, Devanagari ... as UTF-8
            encoding = "utf-8-sig" if chosen == "csv" else "utf-8"
            with os.fdopen(descriptor, "w", encoding=encoding, newline="") as handle:
                count = WRITERS[chosen](plan, handle)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return count


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
