"""`heard voice`: heard's own phrases recorded, for calls in languages with no voice."""

from __future__ import annotations

import csv
import sys
from contextlib import nullcontext
from pathlib import Path

import typer

from heard.commands.common import exits_on, runtime_for_cli
from surveys.database import session_scope
from surveys.i18n import shipped_languages
from surveys.media import MediaError
from voice import pack

app = typer.Typer(help="Voice calls: heard's own phrases recorded (a prompt pack).",
                  no_args_is_help=True)


@app.command()
def prompts(lang: str = typer.Option(..., help="The language to record, e.g. sw."),
            out: Path | None = typer.Option(None, help="A CSV file (default: printed).")
            ) -> None:
    """List the phrases a call says in heard's own words, for a studio: each file's name
    (key), the English, the translation to read, and whether it is recorded."""
    if lang not in shipped_languages():
        typer.echo(f"heard has no translation for {lang!r}; its languages: "
                   f"{', '.join(shipped_languages())}", err=True)
        raise typer.Exit(2)
    with session_scope(runtime_for_cli().database_url) as db:
        listed = pack.phrases(db, lang)
    with out.open("w", newline="", encoding="utf-8") if out else nullcontext(sys.stdout) as sink:
        writer = csv.writer(sink)
        writer.writerow(["file", "english", "say", "recorded"])
        for phrase in listed:
            writer.writerow([f"{lang}/{phrase.key}.wav", phrase.english, phrase.translation,
                             "yes" if phrase.recorded else "no"])
    missing = sum(not phrase.recorded for phrase in listed)
    typer.echo(f"{lang}: {len(listed) - missing} of {len(listed)} phrases recorded"
               + (f"; record the other {missing} (.wav or .mp3), then `heard voice import "
                  f"FOLDER`" if missing else ""), err=True)


@app.command("import")
def import_(folder: Path = typer.Argument(..., help="A folder of <lang>/<file>.wav|mp3.")
            ) -> None:
    """Store a prompt pack's recordings (checked: each a phrase's file that plays)."""
    with exits_on(MediaError), session_scope(runtime_for_cli().database_url) as db:
        counts = pack.import_pack(db, folder)
        listed = {lang: pack.phrases(db, lang) for lang in counts}
    for lang, count in sorted(counts.items()):
        missing = [phrase.key for phrase in listed[lang] if not phrase.recorded]
        typer.echo(f"{lang}: {count} recordings stored; "
                   + (f"still missing: {', '.join(missing)}" if missing else
                      "every phrase recorded: calls in it need no voice"))
    if not counts:
        typer.echo(f"{folder}: no <lang>/<file>.wav or .mp3 found", err=True)
        raise typer.Exit(1)

