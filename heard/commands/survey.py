"""`heard survey ...`: check survey files before a round goes out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from sms.render import render_sms
from sms.segments import count_segments
from surveys.engine import question_reply
from surveys.model import Survey
from surveys.validation import SurveyError, load_survey

app = typer.Typer(help="Validate and inspect survey files.", no_args_is_help=True)


@app.command()
def validate(files: list[Path] = typer.Argument(..., help="Survey YAML files.")) -> None:
    """Exit 0 when every file is valid; print FILE:LINE:COL: message for each problem."""
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    failed = False
    for path in files:
        try:
            survey = load_survey(path)
        except SurveyError as error:
            failed = True
            for problem in error.problems:
                err.print(str(problem), markup=False)
            continue
        out.print(describe(survey, path), markup=False)
    raise typer.Exit(1 if failed else 0)


def describe(survey: Survey, path: Path) -> str:
    segments = max_segments(survey)
    per_language = ", ".join(f"{lang} {count} ({encoding})"
                             for lang, (count, encoding) in segments.items())
    return (f"{path}: {survey.id} v{survey.version} ok: languages {', '.join(survey.languages)}; "
            f"{len(survey.questions)} questions; largest SMS in segments: {per_language}")


def max_segments(survey: Survey) -> dict[str, tuple[int, str]]:
    """Per language: the most segments any one message of the survey costs, and its encoding."""
    result = {}
    for lang in survey.languages:
        texts = [render_sms(question_reply(question, lang)) for question in survey.questions]
        texts += [texts_[lang] for texts_ in (survey.intro, survey.closing, survey.consent)
                  if texts_]
        counted = [count_segments(text) for text in texts]
        worst = max(counted, key=lambda segments: segments.count)
        result[lang] = (worst.count, worst.encoding)
    return result


@app.command()
def upload(files: list[Path] = typer.Argument(..., help="Survey YAML files.")) -> None:
    """Store surveys; a survey a round already used gets a new version instead of changing."""
    from heard.commands.common import runtime_for_cli
    from surveys import catalog
    from surveys.database import session_scope

    failed = False
    with session_scope(runtime_for_cli().database_url) as db:
        for path in files:
            try:
                survey = load_survey(path)
            except SurveyError as error:
                failed = True
                typer.echo(str(error), err=True)
                continue
            row = catalog.register(db, survey)
            typer.echo(f"{path}: stored {row.survey_id} v{row.version}")
    raise typer.Exit(1 if failed else 0)
