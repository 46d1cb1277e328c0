"""Small helpers shared by CLI commands."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from worker.runtime import Runtime, migrated_runtime


def runtime_for_cli() -> Runtime:
    logging.basicConfig(level=logging.WARNING)
    return migrated_runtime()


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


@contextmanager
def exits_on(*errors: type[Exception]) -> Iterator[None]:
    """Errors a user can act on: the message on stderr and exit status 1, no traceback."""
    try:
        yield
    except errors as error:
        echo_err(str(error))
        raise typer.Exit(1) from None
