"""`heard data purge` and `heard audit list`: personal data past its time, and who touched it."""

from __future__ import annotations

import json
from typing import Any

import typer

from heard.commands.common import echo_err, exits_on
from surveys import audit
from surveys.database import migrate, session_scope
from surveys.retention import purge
from surveys.settings import MAX_DAYS, RETENTION_ENV, SettingError, get_settings
from surveys.tables import AuditEntry

app = typer.Typer(help="Personal data in messages: purge what is past its retention.",
                  no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: exports, revealed addresses, erasures, purges.",
                        no_args_is_help=True)


@app.command("purge")
def purge_messages(
    days: int | None = typer.Option(
        None, "--days", min=1, max=MAX_DAYS,
        help=f"Purge messages older than this many days (default: {RETENTION_ENV})."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be purged."),
) -> None:
    """Blank the texts, payloads and addresses of messages older than N days; answers stay.

    Inbox messages once processed, outbox messages once sent, failed or suppressed.
    Safe to run again: what is purged stays purged, and nothing else is touched.
    """
    with exits_on(SettingError):
        days = days or get_settings().retention_days()
    if not days:
        echo_err(f"no retention period: set {RETENTION_ENV} or give --days N")
        raise typer.Exit(1)
    report = purge(_database_url(), days, audit.cli_actor(), dry_run=dry_run)
    typer.echo(report.summary())


@audit_app.command("list")
def list_entries(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many entries to show."),
) -> None:
    """Who exported, revealed, erased or purged personal data, and when: newest first."""
    with session_scope(_database_url()) as db:
        lines = [describe(entry) for entry in audit.latest(db, limit)]
    typer.echo("\n".join(lines) if lines else "the audit log is empty")


def describe(entry: AuditEntry) -> str:
    """One line: when, who, what, which round, then the details as key=value, by key (PostgreSQL
    keeps JSON keys in its own order)."""
    round_ = f" round {entry.round_id}" if entry.round_id is not None else ""
    details = " ".join(f"{key}={_shown(value)}"
                       for key, value in sorted((entry.detail or {}).items()))
    parts = (f"{entry.at:%Y-%m-%d %H:%M:%S}Z", entry.actor, entry.action + round_, details)
    return "  ".join(part for part in parts if part)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _database_url() -> str:
    url = get_settings().resolved_database_url()
    migrate(url)
    return url
