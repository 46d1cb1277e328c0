"""`heard survey ...`: check survey files before a round goes out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from heard.commands.common import exits_on, runtime_for_cli
from sms.fit import long_messages, max_segments
from surveys import translations as survey_translations
from surveys.database import session_scope
from surveys.i18n import canonical, language_name
from surveys.model import Survey
from surveys.settings import get_settings
from surveys.validation import SurveyError, load_survey
from ussd.fit import short_overflows, ussd_note
from voice import pack, prompts
from voice.minutes import estimated_seconds

app = typer.Typer(help="Validate and inspect survey files.", no_args_is_help=True)
translations = typer.Typer(help="A survey's own texts out to translators (xlsx, po) and back.",
                           no_args_is_help=True)
app.add_typer(translations, name="translations")


@app.command()
def validate(files: list[Path] = typer.Argument(..., help="Survey YAML files."),
             strict: bool = typer.Option(False, "--strict",
                                         help="Messages over 2 SMS segments are errors.")
             ) -> None:
    """Exit 0 when every file is valid; print FILE:LINE:COL: message for each problem, and a
    warning for each message over 2 SMS segments (an error with --strict); a `short:` text
    longer than a USSD screen is an error."""
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
        packs = complete_packs(survey.languages)
        out.print(describe(survey, path, packs), markup=False)
        coverage = survey_translations.coverage_note(survey)
        for note in [*system_language_notes(survey), *voice_notes(survey, packs),
                     ussd_note(survey), *([coverage] if coverage else [])]:
            out.print(f"{path}: {note}", markup=False)
        for overflow in short_overflows(survey):  # (a short text is there to fit one screen)
            err.print(f"{path}: error: {overflow}", markup=False)
            failed = True
        for warning in long_messages(survey):
            err.print(f"{path}: {'error' if strict else 'warning'}: {warning}", markup=False)
            failed = failed or strict
    raise typer.Exit(1 if failed else 0)


def describe(survey: Survey, path: Path, packs: frozenset[str] = frozenset()) -> str:
    segments = max_segments(survey)
    per_language = ", ".join(f"{lang} {count} ({encoding})"
                             for lang, (count, encoding) in segments.items())
    return (f"{path}: {survey.id} v{survey.version} ok: languages {', '.join(survey.languages)}; "
            f"{len(survey.questions)} questions; largest SMS in segments: {per_language}; "
            f"{voice_note(survey, packs)}")


def complete_packs(languages: list[str]) -> frozenset[str]:
    """Those of `languages` whose phrases heard has all recorded (`heard voice import`): a call
    in one needs no voice. None where the database cannot be read (validate still works)."""
    try:
        with session_scope(runtime_for_cli().database_url) as db:
            return frozenset(lang for lang in languages if pack.recorded_in(db, lang))
    except SQLAlchemyError:
        return frozenset()


def voice_note(survey: Survey, packs: frozenset[str] = frozenset()) -> str:
    """Which of the survey's languages a call can say (a voice in HEARD_VOICE_LANGUAGES, or
    heard's phrases and the survey's prompts all recorded)."""
    voices = get_settings().voice_languages
    heard = [lang for lang in survey.languages
             if prompts.callable_in(survey, lang, voices, lang in packs)]
    silent = [lang for lang in survey.languages if lang not in heard]
    said = f"by voice call: {', '.join(heard) or 'none'}"
    return said + (f" (no voice for {', '.join(silent)} in HEARD_VOICE_LANGUAGES, nor every "
                   f"prompt recorded)" if silent else "")


def voice_notes(survey: Survey, packs: frozenset[str] = frozenset()) -> list[str]:
    """Per language, how long a call takes, or which prompts keep it from being called (no
    recording, and no voice to say them)."""
    voices = get_settings().voice_languages
    notes = []
    for lang in survey.languages:
        missing = prompts.unrecorded(survey, lang)
        recorded = len(prompts.spoken_prompts(survey)) - len(missing)
        if prompts.callable_in(survey, lang, voices, lang in packs):
            said = f", the rest said in {voices[lang]}" if missing else ""
            notes.append(f"voice: {lang}: about {estimated_seconds(survey, lang) / 60:.1f} "
                         f"minutes a call ({recorded} prompts recorded{said})")
            continue
        why = (f"no recording and no voice for {', '.join(missing)}" if missing else
               "every prompt recorded, but heard's own words (the greeting, re-prompts) have "
               f"neither a voice nor recordings (heard voice prompts --lang {lang})")
        notes.append(f"voice: {lang}: {why}: this survey cannot be called in "
                     f"{language_name(lang, reader='en')} (voices: HEARD_VOICE_LANGUAGES)")
    return notes


def system_language_notes(survey: Survey) -> list[str]:
    """Which language heard's own messages (re-prompts, HELP, menus) take, where heard has
    no catalog for a survey language."""
    return [f"{lang}: heard's own messages will be in {survey.words_for(lang)} (no catalog for "
            f"{lang}; system_language chooses another)"
            for lang in survey.languages if survey.words_for(lang) != lang]


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


@translations.command("export")
def export_translations(
        survey: Path = typer.Argument(..., help="Survey YAML file."),
        lang: str = typer.Option(..., "--lang", help="The language to translate into."),
        source: str | None = typer.Option(None, "--from",
                                          help="The language to translate from (default: the "
                                               "survey's first)."),
        file_format: str | None = typer.Option(None, "--format",
                                               help="xlsx or po (default: from --out's suffix, "
                                                    "else xlsx)."),
        out: Path = typer.Option(..., "--out", help="The file to write.")) -> None:
    """Write every text of the survey with its translation and status (missing, translated,
    stale) into a spreadsheet or PO file for translators."""
    with exits_on(survey_translations.TranslationError, SurveyError, OSError):
        listed = survey_translations.export(survey, out, lang, source, file_format)
    counts = ", ".join(f"{sum(row.status == status for row in listed)} {status}"
                       for status in survey_translations.STATUSES)
    typer.echo(f"{out}: {len(listed)} texts of {survey} for {canonical(lang)} ({counts})")


@translations.command("import")
def import_translations(
        survey: Path = typer.Argument(..., help="Survey YAML file, rewritten in place."),
        file: Path = typer.Argument(..., help="The translated xlsx or po file."),
        lang: str | None = typer.Option(None, "--lang",
                                        help="The file's language (default: as the file says)."),
        accept_stale: bool = typer.Option(False, "--accept-stale",
                                          help="Keep translations whose source text changed "
                                               "since the export, marked stale.")) -> None:
    """Write the file's translations into the survey, then validate it: nothing is written
    unless every row is right and the survey stays valid."""
    with exits_on(survey_translations.TranslationError, SurveyError, OSError):
        imported = survey_translations.import_file(survey, file.read_bytes(), str(file), lang,
                                                   accept_stale)
    stale = (f"; stale (translate again): {', '.join(imported.stale)}" if imported.stale else "")
    typer.echo(f"{survey}: {imported.written} {imported.lang} translations imported, "
               f"{imported.changed} changed{stale}")


@app.command("import")
def import_form(form: Path = typer.Argument(..., help="An XLSForm (.xlsx or .xls): ODK, Kobo."),
                out: Path = typer.Option(..., "--out", help="The heard survey YAML to write."),
                skip_unsupported: bool = typer.Option(
                    False, "--skip-unsupported",
                    help="Leave out what heard cannot ask (each is still listed)."),
                language: str = typer.Option(
                    "en", "--language", help="The language of label columns that name none.")
                ) -> None:
    """Write an XLSForm as a heard survey; exit 1 listing, row by row, what heard cannot ask
    (unless --skip-unsupported), or why the survey would not validate."""
    from surveys.xlsform import XLSFormError, import_xlsform

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        survey, imported = import_xlsform(form, language, skip_unsupported)
    except XLSFormError as error:
        for problem in error.problems:
            err.print(f"{form}: error: {problem}", markup=False)
        raise typer.Exit(1) from None
    for note in imported.notes:
        err.print(f"{form}: note: {note}", markup=False)
    for skipped in imported.unsupported:
        err.print(f"{form}: skipped: {skipped}", markup=False)
    out.write_text(imported.yaml(form.name), encoding="utf-8")
    typer.echo(f"{form}: wrote {out}: {survey.id}, languages {', '.join(survey.languages)}; "
               f"{len(survey.questions)} questions; {len(imported.unsupported)} rows left out")


@app.command()
def export(survey: str = typer.Argument(..., help="A survey YAML file, or a stored survey's id "
                                                  "(its latest version)."),
           xlsform: Path = typer.Option(..., "--xlsform", help="The XLSForm (.xlsx) to write.")
           ) -> None:
    """Write a survey as an XLSForm that ODK and Kobo run (checked with pyxform): question ids
    are its names, so answers collected either way join by question name."""
    from surveys.xlsform import XLSFormError, check_xlsform, xlsform_of

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        found = _survey_named(survey)
        data = xlsform_of(found)
        warnings = check_xlsform(data)
    except (SurveyError, XLSFormError, LookupError) as error:
        err.print(f"{survey}: error: {error}", markup=False)
        raise typer.Exit(1) from None
    xlsform.write_bytes(data)
    for warning in warnings:
        err.print(f"{xlsform}: pyxform: {warning}", markup=False)
    typer.echo(f"{survey}: wrote {xlsform}: {found.id} v{found.version}, "
               f"{len(found.questions)} questions in {', '.join(found.languages)}")


def _survey_named(name: str) -> Survey:
    """The survey in file `name`, else the latest stored version of the survey with that id."""
    if Path(name).is_file():
        return load_survey(name)
    from surveys import catalog

    with session_scope(runtime_for_cli().database_url) as db:
        row = catalog.latest(db, name)
        if row is None:
            raise LookupError(f"no survey file or stored survey named '{name}'")
        return catalog.survey_of(row)
