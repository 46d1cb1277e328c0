"""A survey's own texts out to translators and back (`heard survey translations`).

Every text of a survey (title, intro, consent, closing, questions, choices, summaries: each
field the model types as :data:`surveys.model.LocalText`) has a stable id, such as
`questions.source.text` or `questions.source.choices.tap`. An export lists them with their
source text, their translation into one language and its status; an import writes the
translations back into the YAML (round-trip: comments, quotes and anchors kept) and records in
`translated_from` what each translation was made from, so a source text that changes later
makes its translations stale. Nothing is written unless the whole file is right and the survey
it makes passes heard's own validation.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from surveys.exports import FORMULA_STARTS, defuse
from surveys.i18n import canonical, is_language
from surveys.media import folder_files
from surveys.model import Choice, LocalText, Question, SummaryItem, Survey
from surveys.validation import SurveyError, load_survey, parse_survey

Status = Literal["missing", "translated", "stale"]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
FORMATS = ("xlsx", "po")
HASH_DIGITS = 12
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
NUMBER = re.compile(r"\d+")  # any script's digits: ৫ is 5
SOURCE_HEADER = re.compile(r"^source: *(\S+)$")
TRANSLATION_HEADER = re.compile(r"^translation: *(\S+)$")
PO_SOURCE = re.compile(r"source language: *(\S+)")


class TranslationError(ValueError):
    """A translation file cannot be exported or imported; `problems` says each reason, where."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Text:
    """One translatable text: its stable id and its texts per language (in a round-trip tree,
    the YAML's own mapping, so writing to it writes the file)."""

    id: str
    texts: dict[str, Any]


@dataclass(frozen=True)
class Row:
    """A text as a translator sees it: what to translate, its translation, its status."""

    id: str
    source: str
    translation: str
    status: Status


@dataclass(frozen=True)
class Entry:
    """A row read back from a translation file; `where` names it ('row 5', 'line 23')."""

    where: str
    id: str
    source: str
    translation: str
    stale: bool  # still marked stale (status column, or the PO fuzzy flag)
    formula: bool = False


@dataclass(frozen=True)
class Sheet:
    """A translation file read back: its languages and its entries."""

    lang: str | None
    source_lang: str | None
    entries: list[Entry]


@dataclass(frozen=True)
class Imported:
    """What an import wrote: translations changed, and those left stale."""

    lang: str
    written: int
    changed: int
    stale: list[str]


def source_hash(text: str) -> str:
    """What `translated_from` keeps of a source text: enough to tell that it changed."""
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_DIGITS]


@cache
def _text_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The model's fields that hold text per language: new ones (a hint) are found as added."""
    return tuple(name for name, field in model.model_fields.items()
                 if field.annotation in (LocalText, LocalText | None))


def survey_texts(tree: Mapping[str, Any]) -> list[Text]:
    """Every translatable text of a survey tree (a model dump, or the YAML as loaded), in the
    order the file has them."""
    return list(_texts(tree))


def _texts(tree: Mapping[str, Any]) -> Iterator[Text]:
    yield from _fields_of(tree, Survey, "")
    for question in _list(tree.get("questions")):
        prefix = f"questions.{question.get('id')}"
        yield from _fields_of(question, Question, prefix)
        for choice in _list(question.get("choices")):
            yield from _fields_of(choice, Choice, f"{prefix}.choices.{choice.get('value')}",
                                  text_alone=True)
    seen: Counter[str] = Counter()
    for item in _list(tree.get("summary")):
        key = f"summary.{item.get('question')}"
        key += "" if item.get("value") is None else f".{item.get('value')}"
        seen[key] += 1
        yield from _fields_of(item, SummaryItem, key + ("" if seen[key] == 1 else f"#{seen[key]}"),
                              text_alone=True)


def _fields_of(node: Mapping[str, Any], model: type[BaseModel], prefix: str,
               text_alone: bool = False) -> Iterator[Text]:
    """A node's texts, each `prefix.field`; with `text_alone`, its `text` is the prefix alone
    (`questions.source.choices.tap`)."""
    for name in _text_fields(model):
        texts = node.get(name)
        if isinstance(texts, dict):
            yield Text(prefix if text_alone and name == "text" else f"{prefix}.{name}".lstrip("."),
                       texts)


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def status_of(text: Text, lang: str, made_from: Mapping[str, str]) -> Status:
    """Missing without a translation; stale when the text it was made from (as recorded) is no
    longer the survey's text in any other language; else translated."""
    if not text.texts.get(lang):
        return "missing"
    recorded = made_from.get(text.id)
    if recorded is None:
        return "translated"  # made before heard recorded sources: taken as current
    sources = {source_hash(str(value)) for other, value in text.texts.items() if other != lang}
    return "translated" if recorded in sources else "stale"


def coverage(survey: Survey) -> dict[str, Counter[str]]:
    """Per language but the default (the source): how many texts are translated, stale and
    missing."""
    texts = survey_texts(survey.model_dump(mode="json"))
    counts: dict[str, Counter[str]] = {}
    for lang in survey.languages[1:]:
        counts[lang] = Counter({status: 0 for status in STATUSES})
        counts[lang].update(status_of(text, lang, survey.translated_from.get(lang, {}))
                            for text in texts)
    return counts


def coverage_note(survey: Survey) -> str | None:
    """One line of `heard survey validate`: the translations' coverage per language."""
    counts = coverage(survey)
    if not counts:
        return None
    return f"translations from {survey.default_language}: " + "; ".join(
        f"{lang} {count['translated']} translated, {count['stale']} stale, "
        f"{count['missing']} missing" for lang, count in counts.items())


def rows(survey: Survey, lang: str, source_lang: str | None = None) -> list[Row]:
    """The survey's texts to translate into `lang` from `source_lang` (default: the first)."""
    lang, source_lang = canonical(lang), canonical(source_lang or survey.default_language)
    problems = _language_problems(survey, lang, source_lang)
    if problems:
        raise TranslationError(problems)
    made_from = survey.translated_from.get(lang, {})
    return [Row(text.id, str(text.texts[source_lang]), str(text.texts.get(lang) or ""),
                status_of(text, lang, made_from))
            for text in survey_texts(survey.model_dump(mode="json"))]


def _language_problems(survey: Survey, lang: str, source_lang: str) -> list[str]:
    if not is_language(lang):
        return [f"unknown language code '{lang}'"]
    if source_lang not in survey.languages:
        return [f"source language '{source_lang}' is not one of the survey's languages "
                f"({', '.join(survey.languages)})"]
    if lang == source_lang:
        return [f"'{lang}' is the source language: translate into another"]
    return []


def export(survey_path: Path, out: Path, lang: str, source_lang: str | None = None,
           file_format: str | None = None) -> list[Row]:
    """Write the survey's texts for translators into `out` (xlsx, or po); the rows written."""
    file_format = file_format or ("po" if out.suffix.lower() == ".po" else "xlsx")
    if file_format not in FORMATS:
        raise TranslationError([f"unknown format '{file_format}': one of {', '.join(FORMATS)}"])
    survey = load_survey(survey_path)
    lang, source_lang = canonical(lang), canonical(source_lang or survey.default_language)
    listed = rows(survey, lang, source_lang)
    writer = write_po if file_format == "po" else write_xlsx
    out.write_bytes(writer(survey, listed, lang, source_lang))
    return listed


def write_xlsx(survey: Survey, listed: list[Row], lang: str, source_lang: str) -> bytes:
    """One sheet: id, source, translation, status; texts a spreadsheet would run as a formula
    defused (a leading ', taken off again on import)."""
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    workbook = Workbook()
    sheet = cast(Worksheet, workbook.active)  # a new workbook's one sheet, never None
    sheet.title = f"{survey.id} {lang}"[:31]
    sheet.append(["id", f"source: {source_lang}", f"translation: {lang}", "status"])
    for row in listed:
        sheet.append([row.id, defuse(row.source), defuse(row.translation), row.status])
    for column, width in zip("ABCD", (32, 60, 60, 12), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def write_po(survey: Survey, listed: list[Row], lang: str, source_lang: str) -> bytes:
    """A PO file: msgctxt the id, msgid the source text, msgstr the translation; a stale one
    fuzzy (as gettext marks a translation whose source changed)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po as babel_write_po

    catalog = Catalog(locale=lang, project=survey.id, version=str(survey.version), fuzzy=False,
                      header_comment=(f"# Survey {survey.id} v{survey.version}: its texts in "
                                      f"{lang}, for `heard survey translations import`.\n"
                                      f"# source language: {source_lang}"))
    for row in listed:
        catalog.add(row.source, row.translation, context=row.id,
                    flags=["fuzzy"] if row.status == "stale" else [])
    out = io.BytesIO()
    babel_write_po(out, catalog, width=0, omit_header=False)
    return out.getvalue()


def read_file(data: bytes, name: str) -> Sheet:
    """A translation file as exported (xlsx by its bytes, else po)."""
    if data.startswith(b"PK\x03\x04"):
        return read_xlsx(data, name)
    return read_po(data, name)


def read_xlsx(data: bytes, name: str) -> Sheet:
    """The first sheet; its header row names the columns (any order) and the languages."""
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise TranslationError([f"{name}: not a readable XLSX file: {error}"]) from None
    lines = sheet.iter_rows()
    header = [_cell_text(cell.value).strip() for cell in next(lines, ())]
    columns = _columns(header, name)
    source_lang = _header_language(header, SOURCE_HEADER)
    lang = _header_language(header, TRANSLATION_HEADER)
    entries = []
    for number, cells in enumerate(lines, start=2):
        values = {key: cells[index] if index < len(cells) else None
                  for key, index in columns.items()}
        texts = {key: _undefused(_cell_text(cell.value if cell else None))
                 for key, cell in values.items()}
        if not any(texts.values()):
            continue
        translation = values["translation"]
        entries.append(Entry(f"row {number}", texts["id"].strip(), texts["source"],
                             texts["translation"], texts["status"].strip().lower() == "stale",
                             formula=translation is not None and translation.data_type == "f"))
    return Sheet(lang, source_lang, entries)


def _columns(header: list[str], name: str) -> dict[str, int]:
    """Where each column is: id, source: <lang>, translation: <lang>, status."""
    found: dict[str, int] = {}
    for index, title in enumerate(header):
        key = title.split(":")[0].strip().lower()
        if key in ("id", "source", "translation", "status"):
            found.setdefault(key, index)
    missing = [key for key in ("id", "source", "translation") if key not in found]
    if missing:
        raise TranslationError([f"{name}: row 1 must name the columns id, source: <language>, "
                                f"translation: <language> (and status); no {', '.join(missing)}"])
    return found


def _header_language(header: list[str], pattern: re.Pattern[str]) -> str | None:
    for title in header:
        match = pattern.match(title)
        if match:
            return match.group(1)
    return None


def _cell_text(value: object) -> str:
    """A cell as typed: a number as its digits (5, not 5.0), nothing as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _undefused(value: str) -> str:
    """A text as it was before `defuse` guarded it with a leading '."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def read_po(data: bytes, name: str) -> Sheet:
    """A PO file as exported: msgctxt the id; a translation still fuzzy is still stale."""
    from babel.messages.pofile import PoFileError
    from babel.messages.pofile import read_po as babel_read_po

    try:
        catalog = babel_read_po(io.BytesIO(data), abort_invalid=True)
    except (PoFileError, UnicodeDecodeError, ValueError) as error:
        raise TranslationError([f"{name}: not a readable PO file: {error}"]) from None
    match = PO_SOURCE.search(catalog.header_comment or "")
    entries = [Entry(f"line {message.lineno}", str(message.context or ""), str(message.id),
                     str(message.string or ""), message.fuzzy)
               for message in catalog if message.id]
    return Sheet(str(catalog.locale_identifier or "") or None, match.group(1) if match else None,
                 entries)


def import_file(survey_path: Path, data: bytes, name: str, lang: str | None = None,
                accept_stale: bool = False) -> Imported:
    """Write the translations in a file back into the survey's YAML: all of them or, with any
    problem, none (TranslationError lists them all, SurveyError if the result is invalid)."""
    survey = load_survey(survey_path)  # the survey as it is must be valid
    text = survey_path.read_text(encoding="utf-8")
    files = folder_files(survey_path.parent)
    sheet = read_file(data, name)
    if not sheet.entries:
        raise TranslationError([f"{name}: no translations in it"])
    lang = _file_language(sheet, lang, name)
    source_lang = canonical(sheet.source_lang or survey.default_language)
    problems = _language_problems(survey, lang, source_lang)
    if problems:
        raise TranslationError([f"{name}: {problem}" for problem in problems])
    yaml, tree = _round_trip(text)
    imported = apply(tree, sheet.entries, lang, source_lang, name, accept_stale)
    out = io.StringIO()
    yaml.dump(tree, out)
    try:
        parse_survey(out.getvalue(), str(survey_path), files)
    except SurveyError as error:
        raise TranslationError([f"{name}: the survey would not be valid with these "
                                "translations:", *map(str, error.problems)]) from None
    temporary = survey_path.with_name(f".{survey_path.name}.importing")
    temporary.write_text(out.getvalue(), encoding="utf-8")
    temporary.replace(survey_path)
    return imported


def _file_language(sheet: Sheet, lang: str | None, name: str) -> str:
    if lang and sheet.lang and canonical(lang) != canonical(sheet.lang):
        raise TranslationError([f"{name}: the file holds translations into '{sheet.lang}', "
                                f"not '{lang}'"])
    if not (lang or sheet.lang):
        raise TranslationError([f"{name}: which language? the file does not say: give --lang"])
    return canonical(str(lang or sheet.lang))


def _round_trip(text: str) -> tuple[YAML, Any]:
    """A YAML that writes the file back as it was (indents, quotes, long lines), and the tree."""
    _, indent, sequence_offset = load_yaml_guess_indent(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=(indent or 2) - (sequence_offset or 0) or 2, sequence=indent or 2,
                offset=sequence_offset or 0)
    return yaml, yaml.load(text)


def apply(tree: Any, entries: list[Entry], lang: str, source_lang: str, name: str,
          accept_stale: bool = False) -> Imported:
    """The entries written into a round-trip survey tree, with what each was made from."""
    texts = {text.id: text for text in survey_texts(tree)}
    made_from = dict(_dict(_dict(tree.get("translated_from")).get(lang)))
    problems: list[str] = []
    first: dict[str, Entry] = {}
    by_node: dict[int, Entry] = {}  # a text shared through a YAML anchor is one mapping
    writes: list[tuple[Text, Entry]] = []
    for entry in entries:
        where = f"{name}: {entry.where} ({entry.id or 'no id'})"
        text = texts.get(entry.id)
        problem = _problem(entry, text, first, by_node, lang, source_lang, accept_stale)
        if problem or text is None:
            problems.append(f"{where}: {problem}")
            continue
        first[entry.id] = by_node[id(text.texts)] = entry
        writes.append((text, entry))
    if problems:
        raise TranslationError(problems)

    before = {text.id: text.texts.get(lang) for text, _ in writes}
    changed, stale = 0, []
    for text, entry in writes:
        if before[text.id] != entry.translation:
            changed += 1
            _write(text.texts, lang, _styled(entry.translation, text.texts[source_lang]))
        elif entry.stale and text.id in made_from:
            stale.append(text.id)  # untouched and still marked stale: stays so
            continue
        made_from[text.id] = source_hash(entry.source)
        if entry.source != str(text.texts[source_lang]):
            stale.append(text.id)
    _record(tree, lang, {key: made_from[key] for key in texts if key in made_from})
    return Imported(lang, len(writes), changed, stale)


def _problem(entry: Entry, text: Text | None, first: Mapping[str, Entry],
             by_node: Mapping[int, Entry], lang: str, source_lang: str,
             accept_stale: bool) -> str | None:
    """Why an entry cannot be written, if it cannot."""
    if text is None:
        return (f"unknown id '{entry.id}': no such text in this survey (renamed or removed? "
                "export again)" if entry.id else "no id")
    if entry.id in first:
        return f"listed twice (also {first[entry.id].where})"
    if entry.formula:
        return "the translation is a formula: type the text itself"
    if not entry.translation.strip():
        return f"empty translation: every text of the survey needs one in {lang}"
    source = str(text.texts[source_lang])
    if entry.source != source and not accept_stale:
        return (f"the source text changed since this file was exported (was {entry.source!r}, "
                f"now {source!r}): export again, or import with --accept-stale to keep this "
                "translation, marked stale")
    wanted, got = _marks(entry.source), _marks(entry.translation)
    if wanted != got:
        return (f"placeholders and numbers differ from the source: it has "
                f"{_listed(wanted)}, the translation has {_listed(got)}")
    shared = by_node.get(id(text.texts))
    if shared is not None and shared.translation != entry.translation:
        return (f"the same text as {shared.where} ({shared.id}: one YAML anchor), translated "
                f"differently ({shared.translation!r})")
    return None


def _marks(text: str) -> Counter[str]:
    """The placeholders ({name}) and numbers in a text, which a translation must keep."""
    numbers = NUMBER.findall(PLACEHOLDER.sub(" ", text))
    return Counter(PLACEHOLDER.findall(text)) + Counter(str(int(number)) for number in numbers)


def _listed(marks: Counter[str]) -> str:
    return ", ".join(sorted(marks.elements())) or "none"


def _styled(translation: str, source: Any) -> Any:
    """The translation quoted as the source text is ("..." stays "...")."""
    return type(source)(translation) if isinstance(source, ScalarString) else translation


def _write(texts: Any, lang: str, value: Any) -> None:
    """`texts[lang] = value`; a new key goes right under the last one, before the blank lines
    and comments that followed it (ruamel keeps those with the last key)."""
    last = list(texts)[-1] if lang not in texts and texts else None
    texts[lang] = value
    trailing = texts.ca.items.get(last) if last is not None and hasattr(texts, "ca") else None
    token = trailing[2] if trailing and len(trailing) > 2 else None
    head, _, rest = token.value.partition("\n") if token is not None else ("", "", "")
    if token is not None and rest:
        moved = copy.copy(token)
        moved.value, token.value = "\n" + rest, head + "\n"
        texts.ca.items[lang] = [None, None, moved, None]


def _record(tree: Any, lang: str, made_from: dict[str, str]) -> None:
    """`translated_from` of `lang` set to `made_from`, in the order the survey has its texts."""
    if lang not in tree["languages"]:
        tree["languages"].append(lang)
    recorded = tree.setdefault("translated_from", CommentedMap())
    recorded[lang] = CommentedMap((key, _quoted(value)) for key, value in made_from.items())
    if not made_from:
        del recorded[lang]
    if not recorded:
        del tree["translated_from"]


def _quoted(value: str) -> Any:
    """Hex as a string in YAML ('123456789012' would read as a number)."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    return SingleQuotedScalarString(value)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
