"""`heard contacts ...`: load a community's contacts from CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from heard.commands.common import echo_err, runtime_for_cli
from surveys.contact_import import parse_contacts, read_spreadsheet, store_contacts
from surveys.database import session_scope

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
    contacts, report = parse_contacts(text, region, profile or ())
    with session_scope(runtime_for_cli().database_url) as db:
        store_contacts(db, contacts, report)
    for error in report.errors:
        echo_err(f"{file}:{error}")
    notice = report.dropped_notice()
    if notice:
        echo_err(f"{file}: {notice}")
    typer.echo(report.summary())
    raise typer.Exit(1 if report.errors and not contacts else 0)


def _register_erase() -> None:
    from heard.commands.export import erase

    app.command("erase")(erase)


_register_erase()
