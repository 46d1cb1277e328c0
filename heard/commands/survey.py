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


MAX_SEGMENTS = 2  # a message over this costs more and is hard to read on a basic phone


@app.command()
def validate(files: list[Path] = typer.Argument(..., help="Survey YAML files."),
             strict: bool = typer.Option(False, "--strict",
                                         help="Messages over 2 SMS segments are errors.")
             ) -> None:
    """Exit 0 when every file is valid; print FILE:LINE:COL: message for each problem, and a
    warning for each message over 2 SMS segments (an error with --strict)."""
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
        for note in system_language_notes(survey):
            out.print(f"{path}: {note}", markup=False)
        for warning in long_messages(survey):
            err.print(f"{path}: {'error' if strict else 'warning'}: {warning}", markup=False)
            failed = failed or strict
    raise typer.Exit(1 if failed else 0)


def describe(survey: Survey, path: Path) -> str:
    segments = max_segments(survey)
    per_language = ", ".join(f"{lang} {count} ({encoding})"
                             for lang, (count, encoding) in segments.items())
    return (f"{path}: {survey.id} v{survey.version} ok: languages {', '.join(survey.languages)}; "
            f"{len(survey.questions)} questions; largest SMS in segments: {per_language}")


def system_language_notes(survey: Survey) -> list[str]:
    """Which language heard's own messages (re-prompts, HELP, menus) take, where heard has
    no catalog for a survey language."""
    return [f"{lang}: heard's own messages will be in {survey.words_for(lang)} (no catalog for "
            f"{lang}; system_language chooses another)"
            for lang in survey.languages if survey.words_for(lang) != lang]


def survey_messages(survey: Survey, lang: str) -> list[tuple[str, str]]:
    """(what, SMS text) of every message the survey itself sends in `lang`."""
    texts = [(f"question '{question.id}'",
              render_sms(question_reply(question, lang, survey.words_for(lang))))
             for question in survey.questions]
    texts += [(name, local[lang]) for name, local in (("intro", survey.intro),
                                                       ("closing", survey.closing),
                                                       ("consent", survey.consent)) if local]
    return texts


def long_messages(survey: Survey) -> list[str]:
    """Each message over MAX_SEGMENTS SMS segments, naming it and its language."""
    found = []
    for lang in survey.languages:
        for what, text in survey_messages(survey, lang):
            counted = count_segments(text)
            if counted.count > MAX_SEGMENTS:
                found.append(f"{what} ({lang}) is {counted.count} SMS segments "
                             f"({counted.encoding}, {len(text)} characters); at most "
                             f"{MAX_SEGMENTS} keeps it cheap and readable")
    return found


def max_segments(survey: Survey) -> dict[str, tuple[int, str]]:
    """Per language: the most segments any one message of the survey costs, and its encoding."""
    result = {}
    for lang in survey.languages:
        counted = [count_segments(text) for _, text in survey_messages(survey, lang)]
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
