"""`heard chat`: the console simulator. Answers come line by line from stdin (piped or typed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from sms.render import render_sms
from surveys.engine import StepResult, start, step
from surveys.validation import SurveyError, load_survey


def chat(
    file: Path = typer.Argument(..., help="Survey YAML file."),
    lang: str | None = typer.Option(None, "--lang", help="Language code, e.g. sw."),
    print_answers: bool = typer.Option(False, "--print-answers",
                                       help="Print the answers as one JSON line at the end."),
    consent: bool = typer.Option(False, "--consent", help="Ask the consent question first."),
) -> None:
    """Chat with a survey as a contact would by SMS."""
    try:
        survey = load_survey(file)
    except SurveyError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if lang is not None and lang not in survey.languages:
        typer.echo(f"--lang {lang}: the survey's languages are {', '.join(survey.languages)}",
                   err=True)
        raise typer.Exit(2)
    interactive = sys.stdin.isatty()
    result = start(survey, lang, ask_consent=consent)
    _show(result)
    while not result.finished:
        if interactive:
            typer.echo("> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        result = step(survey, result.state, line.rstrip("\r\n"))
        _show(result)
    if print_answers:
        typer.echo(json.dumps(result.state["answers"], ensure_ascii=False))


def _show(result: StepResult) -> None:
    for reply in result.replies:
        typer.echo(render_sms(reply))
        typer.echo("")
