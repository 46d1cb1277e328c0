"""Stata and SPSS labels for a csv export, made from its codebook (surveys.codebook).

Each file reads the csv itself (beside it, by its file name), so the names are the same on
every machine whatever the tool would make of `problems/dirty` or `_session`:

- Stata (`.do`): `import delimited` without the header, each column renamed (`/` and `.`
  become `_`); a choice or yes/no column becomes numbers with value labels (choices 1..n in
  the codebook's order, yes 1 and no 0; a value outside the codebook stays in `<name>_raw`),
  a rating's points keep their numbers; variable and value labels in every survey language
  (`label language`), the first one current.
- SPSS (`.sps`): `GET DATA` with each column's name (`@` for a leading `_`) and format, then
  `VARIABLE LABELS` and `VALUE LABELS` (on the string codes as exported) in the survey's first
  language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from surveys.codebook import METADATA_TYPES, CodedQuestion
from surveys.exports import Export

STATA_NAME = 32
STATA_VARIABLE_LABEL = 80
SPSS_NAME = 64
SPSS_LABEL_BYTES = 120
CODED_STRINGS = ("choice", "yesno", "multi")  # exported as text codes


def stata_do(export: Export, data_file: str) -> str:
    """A Stata do-file that reads `data_file` (this export as csv) and labels it."""
    names = _unique([_stata_name(name) for name in export.names], STATA_NAME)
    kinds = {name: _kind(export, name) for name in export.names}
    strings = [str(index) for index, name in enumerate(export.names, start=1)
               if kinds[name] in CODED_STRINGS]
    book = export.book
    lines = [f"* Stata labels for {data_file}: {export.title} "
             f"(survey {book.survey}, versions {' '.join(map(str, book.versions))}), "
             "made by heard from the codebook.",
             f'* Run it in the folder holding {data_file}: do "{_base(data_file)}.do"',
             "version 14",
             f'import delimited using "{data_file}", varnames(nonames) rowrange(2) '
             f'encoding("utf-8") bindquote(strict) delimiters(",") '
             + (f"stringcols({' '.join(strings)}) " if strings else "") + "clear"]
    lines += [f"rename v{index} {name}" for index, name in enumerate(names, start=1)]
    by_name = dict(zip(export.names, names, strict=True))
    for question in book.questions:
        if question.type in ("choice", "yesno") and question.choices:
            lines += _stata_codes(by_name[question.id], question)
    for number, lang in enumerate(book.languages):
        lines.append(f"label language {lang}, {'rename' if number == 0 else 'new'}")
        for question in book.questions:
            lines += _stata_labels(question, lang, by_name)
    lines.append(f"label language {book.languages[0]}")
    return "\n".join(lines) + "\n"


def _stata_codes(name: str, question: CodedQuestion) -> list[str]:
    """A string code column turned into numbers, keeping its place and any unknown value."""
    codes = _codes(question)
    raw = f"{name[:STATA_NAME - 4]}_raw"
    return [f"* {question.id}: " + ", ".join(f"{value} = {code}" for value, code in codes),
            f"generate byte heard_code = ., after({name})",
            *(f'replace heard_code = {code} if {name} == {_stata_text(value)}'
              for value, code in codes),
            f'quietly count if missing(heard_code) & {name} != ""',
            "local unknown = r(N)",
            f"rename {name} {raw}",
            f"rename heard_code {name}",
            f"if `unknown' == 0 drop {raw}"]


def _stata_labels(question: CodedQuestion, lang: str, by_name: dict[str, str]) -> list[str]:
    name = by_name[question.id]
    lines = []
    if lang in question.text:
        lines.append(f"label variable {name} "
                     f"{_stata_text(question.text[lang][:STATA_VARIABLE_LABEL])}")
    labels = question.labels_in(lang)
    if question.type == "multi":
        for choice in question.choices:
            column = by_name[f"{question.id}/{choice.value}"]
            label = labels.get(choice.value, choice.value)
            lines.append(f"label variable {column} {_stata_text(label[:STATA_VARIABLE_LABEL])}")
    elif question.type in ("choice", "yesno", "rating") and labels:
        set_name = f"{name[:STATA_NAME - len(lang) - 1]}_{lang}"
        codes = dict(_codes(question))
        pairs = " ".join(f"{codes[value]} {_stata_text(label)}"
                         for value, label in labels.items())
        lines += [f"label define {set_name} {pairs}, replace",
                  f"label values {name} {set_name}"]
    return lines


def _codes(question: CodedQuestion) -> list[tuple[str, int]]:
    """Each value's number in Stata: yes 1 and no 0, a rating's point, else 1..n."""
    if question.type == "yesno":
        return [("yes", 1), ("no", 0)]
    if question.type == "rating":
        return [(choice.value, int(choice.value)) for choice in question.choices]
    return [(choice.value, code) for code, choice in enumerate(question.choices, start=1)]


def spss_syntax(export: Export, data_file: str) -> str:
    """SPSS syntax that reads `data_file` (this export as csv) and labels it."""
    names = _unique([_spss_name(name) for name in export.names], SPSS_NAME)
    by_name = dict(zip(export.names, names, strict=True))
    book = export.book
    lang = book.languages[0]
    lines = [f"* SPSS syntax for {data_file}: {export.title} (survey {book.survey}, versions "
             f"{' '.join(map(str, book.versions))}), made by heard from the codebook.",
             f"* Labels in {lang}. Run it with {data_file} in the working directory.",
             "GET DATA /TYPE=TXT",
             f"  /FILE={_spss_quoted(data_file)} /ENCODING='UTF8'",
             "  /ARRANGEMENT=DELIMITED /DELCASE=LINE /FIRSTCASE=2",
             "  /DELIMITERS=\",\" /QUALIFIER='\"'",
             "  /VARIABLES="]
    lines += [f"  {by_name[name]} {_spss_format(export, name)}" for name in export.names]
    lines[-1] += "."
    variable_labels = list(_spss_variable_labels(export, lang, by_name))
    if variable_labels:
        lines.append("VARIABLE LABELS " + "\n  /".join(variable_labels) + ".")
    value_labels = []
    for question in book.questions:
        labels = question.labels_in(lang)
        if question.type in ("choice", "yesno", "rating") and labels:
            code = (lambda value: value) if question.type == "rating" else _spss_text
            value_labels.append(f"{by_name[question.id]} " + " ".join(
                f"{code(value)} {_spss_text(label)}" for value, label in labels.items()))
    if value_labels:
        lines.append("VALUE LABELS " + "\n  /".join(value_labels) + ".")
    lines.append("EXECUTE.")
    return "\n".join(lines) + "\n"


def _spss_variable_labels(export: Export, lang: str, by_name: dict[str, str]) -> Iterator[str]:
    for question in export.book.questions:
        if lang in question.text:
            yield f"{by_name[question.id]} {_spss_text(question.text[lang])}"
        if question.type == "multi":
            labels = question.labels_in(lang)
            for choice in question.choices:
                column = f"{question.id}/{choice.value}"
                yield f"{by_name[column]} {_spss_text(labels.get(choice.value, choice.value))}"


def _spss_format(export: Export, name: str) -> str:
    """A column's SPSS input format: numbers F, text A wide enough for what heard stores."""
    kind = _kind(export, name)
    if kind in ("integer", "flag"):
        return "F12.0"
    if kind in ("number", "calculate", "rating"):
        return "F16.4" if kind != "rating" else "F4.0"
    if kind == "datetime":
        return "A20"  # ISO 8601 text, 'Z' for UTC
    if name == "_uuid":
        return "A36"
    if kind in ("choice", "yesno", "date"):
        return "A64"
    if kind == "text" and export.book.question(name) is None:
        return "A255"  # a contact's, a community, a profile field
    return "A4000"  # free text, a multi's values


def _kind(export: Export, name: str) -> str:
    """What a column holds: a metadata type, a question type, or `flag` (a multi's 0/1)."""
    if name in METADATA_TYPES:
        return METADATA_TYPES[name]
    question = export.book.question(name)
    if question is not None:
        return question.type
    return "flag" if "/" in name else "text"


def _stata_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return clean if re.match(r"[A-Za-z_]", clean) else f"_{clean}"


def _spss_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.@]", "_", name)
    clean = "@" + clean[1:] if clean.startswith("_") else clean
    return clean + "x" if clean.endswith(("_", ".")) else clean


def _unique(names: list[str], longest: int) -> list[str]:
    """`names` cut to `longest` characters, a number added where two would be the same."""
    taken: set[str] = set()
    unique = []
    for name in names:
        candidate, number = name[:longest], 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{name[:longest - len(str(number))]}{number}"
        taken.add(candidate.lower())
        unique.append(candidate)
    return unique


def _stata_text(text: str) -> str:
    """A Stata string in compound quotes: any " inside is safe."""
    return '`"' + _one_line(text) + "\"'"


def _spss_text(text: str) -> str:
    """A label as an SPSS string, at most 120 bytes (SPSS's value label limit)."""
    return _spss_quoted(_one_line(text).encode()[:SPSS_LABEL_BYTES].decode(errors="ignore"))


def _spss_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _base(data_file: str) -> str:
    return data_file.rsplit(".", 1)[0]


WRITERS = {"stata": ("do", stata_do), "spss": ("sps", spss_syntax)}
"""Each tool's file, beside the csv as <name>.<suffix>."""
