"""Small helpers shared by CLI commands."""

from __future__ import annotations

import logging

import typer

from worker.runtime import Runtime, migrated_runtime


def runtime_for_cli() -> Runtime:
    logging.basicConfig(level=logging.WARNING)
    return migrated_runtime()


def echo_err(message: str) -> None:
    typer.echo(message, err=True)
