"""The `heard` command line: one typer app; each area of work adds its own sub-commands."""

from __future__ import annotations

import typer

from heard.commands import chat, run, survey

app = typer.Typer(help="heard: multilingual SMS and Telegram surveys for communities.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(survey.app, name="survey")
app.add_typer(run.db_app, name="db")
app.command("chat")(chat.chat)
app.command("serve")(run.serve)
app.command("worker")(run.worker)
app.command("cron")(run.cron)
