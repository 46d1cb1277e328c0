"""`heard token create`: API tokens for facilitators, analysts and admins."""

from __future__ import annotations

import typer

from heard.commands.common import echo_err, runtime_for_cli
from surveys.database import session_scope
from surveys.spans import parse_span
from surveys.tokens import ROLES, create_token

app = typer.Typer(help="API tokens.", no_args_is_help=True)


@app.command()
def create(role: str = typer.Option(..., help=f"One of: {', '.join(ROLES)}."),
           name: str = typer.Option("", help="Who or what the token is for."),
           community: list[str] = typer.Option(  # noqa: B008 - typer's repeatable option
               [], help="A community it works in (repeatable; none: every community)."),
           expires: str | None = typer.Option(
               None, help="Stop working after this long, e.g. 90d or 12h (default: never; "
                          "until revoked).")
           ) -> None:
    """Print a new bearer token (shown once; only its hash is stored)."""
    try:
        lasts = parse_span(expires) if expires is not None else None
        with session_scope(runtime_for_cli().database_url) as db:
            token = create_token(db, role, name or role, community, lasts)
    except ValueError as error:
        echo_err(str(error))
        raise typer.Exit(2) from None
    typer.echo(token)
