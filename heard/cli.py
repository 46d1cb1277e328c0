"""The `heard` command line: one typer app; each area of work adds its own sub-commands."""

from __future__ import annotations

import typer

from heard.commands import (
    chat,
    contacts,
    data,
    export,
    rounds,
    run,
    survey,
    telegram,
    tokens,
    users,
    voice,
)
from surveys.settings import SettingError

app = typer.Typer(help="heard: multilingual SMS and Telegram surveys for communities.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(survey.app, name="survey")
app.add_typer(run.db_app, name="db")
app.add_typer(contacts.app, name="contacts")
app.add_typer(rounds.app, name="round")
app.add_typer(tokens.app, name="token")
app.add_typer(users.app, name="user")
app.add_typer(telegram.app, name="telegram")
app.add_typer(voice.app, name="voice")
app.add_typer(data.app, name="data")
app.add_typer(data.audit_app, name="audit")
app.command("chat")(chat.chat)
app.command("export")(export.export)
app.command("serve")(run.serve)
app.command("worker")(run.worker)
app.command("cron")(run.cron)


def main() -> None:
    """The `heard` command: a setting heard cannot use is one line naming it, not a traceback."""
    try:
        app(prog_name="heard")
    except SettingError as error:
        typer.echo(f"heard: {error}", err=True)
        raise SystemExit(2) from None
