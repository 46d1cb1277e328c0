"""`heard user create|list|disable`: the people who sign in to the web console."""

from __future__ import annotations

import typer
from sqlalchemy import select

from heard.commands.common import exits_on, runtime_for_cli
from surveys.database import session_scope
from surveys.i18n import shipped_languages
from surveys.tables import User, utcnow
from surveys.tokens import ROLES
from surveys.users import UserError, create_user, folded

app = typer.Typer(help="Console users: facilitators, analysts and admins.", no_args_is_help=True)


@app.command()
def create(
    name: str = typer.Argument(..., help="What they type to sign in."),
    role: str = typer.Option(..., help=f"One of: {', '.join(ROLES)}."),
    community: list[str] = typer.Option(  # noqa: B008 - typer's way of a repeatable option
        [], help="A community they work in (repeatable; none: every community)."),
    language: str = typer.Option("en", help="The console's language for them."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 help="Asked for when not given (at least 10 characters)."),
) -> None:
    """Make a user (the first admin, then everyone else); the password is stored hashed."""
    with session_scope(runtime_for_cli().database_url) as db, exits_on(UserError):
        if language not in shipped_languages():
            raise UserError(f"the console has no {language!r}: one of "
                            f"{', '.join(shipped_languages())}")
        user = create_user(db, name, password, role, community, language)
        scope = ", ".join(user.communities) if user.communities else "every community"
        typer.echo(f"user {user.name}: {user.role}, {scope}")


@app.command("list")
def list_users() -> None:
    """Every user: name, role, communities, and whether they may sign in."""
    with session_scope(runtime_for_cli().database_url) as db:
        for user in db.scalars(select(User).order_by(User.name)):
            state = "disabled" if user.disabled_at else "active"
            scope = ", ".join(user.communities) if user.communities else "every community"
            typer.echo(f"{user.name}\t{user.role}\t{scope}\t{state}")


@app.command()
def disable(name: str = typer.Argument(...)) -> None:
    """Stop a user signing in (their open sessions end at once); their actions stay logged."""
    with session_scope(runtime_for_cli().database_url) as db, exits_on(UserError):
        user = db.scalars(select(User).where(User.name == folded(name))).first()
        if user is None:
            raise UserError(f"no user {folded(name)!r}")
        user.disabled_at = user.disabled_at or utcnow()
        typer.echo(f"user {user.name} disabled")
