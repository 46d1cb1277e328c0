"""`heard contacts ...`: load a community's contacts from CSV."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import typer

from heard.commands.common import echo_err, runtime_for_cli
from surveys.contact_import import (
    column_target,
    guess_columns,
    header_and_samples,
    parse_contacts,
    profile_columns,
    read_spreadsheet,
    save_contacts,
)

app = typer.Typer(help="Contacts: import from CSV, erase on request.", no_args_is_help=True)


@app.command("import")
def import_contacts(
    file: Path = typer.Argument(..., help="CSV or XLSX: channel, address or phone, language, "
                                          "community, consent, country, declared profile "
                                          "columns."),
    region: str | None = typer.Option(None, help="Country for numbers without +code, e.g. KE."),
    profile: list[str] | None = typer.Option(
        None, "--profile", metavar="COLUMNS",
        help="Columns to keep as profile fields, e.g. gender,village (repeatable). Every other "
             "column (names, ...) is personal data and is not stored."),
    column: list[str] | None = typer.Option(
        None, "--column", metavar="HEADER=WHAT",
        help="What a column is, when heard would read its header otherwise: a contact column "
             "(phone, channel, language, community, consent, country, time_zone), drop, or a "
             "profile field (profile:gender), e.g. --column \"Mobile No=phone\" (repeatable)."),
) -> None:
    """Add or update contacts; every bad row is reported with its line, good rows are kept.

    Only declared --profile columns are kept besides the contact columns; the others are
    dropped and named, so no name can reach an export.
    """
    try:
        text = read_spreadsheet(file.read_bytes())
    except (OSError, ValueError) as error:
        echo_err(f"{file}: cannot read: {error}")
        raise typer.Exit(1) from None
    columns = _columns(text, profile or (), column) if column else None
    contacts, report = parse_contacts(text, region, profile or (), columns=columns)
    save_contacts(runtime_for_cli().database_url, contacts, report)
    for problem in report.errors:
        echo_err(f"{file}:{problem}")
    notice = report.dropped_notice()
    if notice:
        echo_err(f"{file}: {notice}")
    typer.echo(report.summary())
    raise typer.Exit(1 if report.errors and not contacts else 0)


def _columns(text: str, profile: Iterable[str], given: list[str]) -> dict[str, str]:
    """heard's reading of the headers (and --profile), with each --column put over it."""
    names = [name for name, _ in header_and_samples(text, 0)]
    columns = guess_columns(names, profile_columns(profile))
    for option in given:
        header, found, what = option.partition("=")
        if not found or not header.strip():
            raise typer.BadParameter(f"{option!r}: write it as HEADER=WHAT, e.g. "
                                     "\"Mobile No=phone\"", param_hint="--column")
        columns[header.strip()] = column_target(what)
    return columns


def _register_erase() -> None:
    from heard.commands.export import erase

    app.command("erase")(erase)


_register_erase()
