"""XLSForm (ODK Collect, KoboToolbox) in and out: one instrument in the field and by message.

Import reads a form through pyxform's own parser (its JSON survey: labels per language, binds,
choices, groups) and maps what a conversation can ask; whatever it cannot is reported row by row,
never dropped silently. Export writes a form that pyxform turns into an XForm, with heard's
question ids as XLSForm names, so answers collected either way join by question name. Two
columns are heard's own (pyxform passes them through, ODK ignores them): `rating_labels::Lang`
(`1 = Very bad | 5 = Very good`) for a rating's words, and `exclusive` on the choices sheet.
"""

from __future__ import annotations

import io
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pycountry
from babel import Locale
from babel.localedata import locale_identifiers
from openpyxl import Workbook
from pyxform.errors import PyXFormError
from pyxform.question_type_dictionary import QUESTION_TYPE_DICT
from pyxform.xls2json import workbook_to_json
from pyxform.xls2json_backends import get_xlsform
from pyxform.xls2xform import convert
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from surveys.conditions import LITERAL_NAMES
from surveys.i18n import canonical, is_language, language_name, translator
from surveys.model import PIPED, Question, Survey
from surveys.validation import SurveyError, parse_survey
from surveys.xpath import Scope, XPathError, to_heard, to_xpath

PENDING_FEATURES: frozenset[str] = frozenset()
"""Survey-format features ("hint", "constraint", "choice_filter", "calculate", "date", "rating",
"piping") whose rows are reported as not supported yet instead of mapped: none since heard's
engine reads them all (issue #20); a later feature can be written here before its engine."""

DEFAULT = "default"  # pyxform's language of columns without ::Language
# pyxform's own display rows for table-list groups: no question of the form's
_GENERATED = ("reserved_name_for_field_list_labels_", "generated_table_list_label_")
_CODE_IN_NAME = re.compile(r"\(\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?)\s*\)\s*$")
_ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VALUE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
_PIPED = re.compile(r"\$\{\s*([^}\s]+)\s*\}")
_TRUE = {"yes", "true", "true()", "1"}
RATING_LABELS = "rating_labels"  # heard's own survey column: a rating's words for its points
EXCLUSIVE = "exclusive"  # heard's own choices column: a multi choice never chosen with others

# Why a kind of XLSForm question has no conversation (pyxform's bind type or control tag → why)
_CANNOT_ASK = {
    "binary": "a photo, recording, video or file cannot be answered by message or on a call",
    "geopoint": "a location (GPS point) cannot be answered by message or on a call",
    "geotrace": "a line on a map (GPS) cannot be answered by message or on a call",
    "geoshape": "a shape on a map (GPS) cannot be answered by message or on a call",
    "barcode": "a barcode needs the phone's camera",
    "time": "a time of day has no heard question type",
    "dateTime": "a date and time has no heard question type",
    "odk:rank": "ranking choices has no heard question type",
    "trigger": "an acknowledge button has no heard question type (a note says it without "
               "waiting)",
}


class _CannotMap(ValueError):
    """A row heard cannot carry over; the message says why."""


class XLSFormError(ValueError):
    """A form heard cannot import or export; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Unsupported:
    """A row of the form heard cannot carry over, and what --skip-unsupported leaves out."""

    row: int | None
    name: str
    reason: str
    left_out: str = "the question"
    pending: str | None = None  # the FORMAT20 feature that will carry it (PENDING_FEATURES)

    def __str__(self) -> str:
        where = f"survey sheet row {self.row}" if self.row else "survey sheet"
        later = f" (not supported yet: {self.pending}, issue #20)" if self.pending else ""
        return f"{where} ({self.name}): {self.reason}{later}; skipping leaves out {self.left_out}"


@dataclass
class Imported:
    """A form read as a heard survey definition, with what did not carry over."""

    definition: dict[str, Any]
    unsupported: list[Unsupported]
    notes: list[str]

    def yaml(self, source: str) -> str:
        """The definition as a survey YAML file, headed by where it came from."""
        return survey_yaml(self.definition, f"Imported from {source} (XLSForm) by heard "
                                            "survey import; question ids are the form's names.")


def import_xlsform(path: str | Path, language: str = "en", skip_unsupported: bool = False,
                   pending: frozenset[str] = PENDING_FEATURES) -> tuple[Survey, Imported]:
    """The form at `path` as a valid heard survey; XLSFormError lists what stops it (any
    unsupported row unless `skip_unsupported`, or a survey heard's validation refuses)."""
    imported = read_xlsform(path, language, pending)
    if imported.unsupported and (not skip_unsupported or not imported.definition["questions"]):
        raise XLSFormError([str(problem) for problem in imported.unsupported])
    text = imported.yaml(Path(path).name)
    try:
        return parse_survey(text, f"{Path(path).stem}.yaml"), imported
    except SurveyError as error:
        raise XLSFormError([f"the imported survey does not validate: {problem}"
                            for problem in error.problems]) from None


def read_xlsform(path: str | Path, language: str = "en",
                 pending: frozenset[str] = PENDING_FEATURES) -> Imported:
    """The form at `path` (.xlsx or .xls) read by pyxform and mapped to heard's format,
    unvalidated; `language` is the language of label columns that name none."""
    warnings: list[str] = []
    try:
        workbook = get_xlsform(str(path))
        form = workbook_to_json(workbook_dict=workbook, warnings=warnings,
                                fallback_form_name=workbook.fallback_form_name)
    except (PyXFormError, OSError, ValueError, KeyError) as error:
        raise XLSFormError([f"{path}: pyxform cannot read this form: {error}"]) from None
    rows = [{key.lower(): value for key, value in row.items()} for row in workbook.survey or []]
    reader = _Reader(form, rows, canonical(language), pending)
    reader.notes += [f"pyxform: {warning}" for warning in warnings]
    return reader.read()


@dataclass
class _Reader:
    """One pass over pyxform's JSON survey, in form order."""

    form: dict[str, Any]
    rows: list[dict[str, str]]
    language: str
    pending: frozenset[str]
    languages: dict[str, str] = field(default_factory=dict)  # pyxform's language → code
    questions: list[dict[str, Any]] = field(default_factory=list)
    known: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (id, heard type)
    unsupported: list[Unsupported] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    filled: dict[str, list[int]] = field(default_factory=dict)  # code → rows using another's
    next_row: int = 0

    def read(self) -> Imported:
        self.languages = self._languages()
        self._walk(self.form.get("children") or [], None, None)
        codes = list(dict.fromkeys(self.languages.values()))
        if not self.questions:
            self.unsupported.append(Unsupported(None, "all", "no question of the form is left "
                                                "that heard can ask", "everything"))
        for code, rows in self.filled.items():
            where = ", ".join(str(row) for row in sorted(set(rows))[:12])
            more = ", ..." if len(set(rows)) > 12 else ""
            self.notes.append(f"{code}: {len(rows)} texts have no {code} version; another "
                              f"language's text stands in (survey rows {where}{more})")
        title = str(self.form.get("title") or self.form.get("name") or "survey")
        definition: dict[str, Any] = {
            "id": _survey_id(str(self.form.get("id_string") or title)),
            "languages": codes,
            "title": dict.fromkeys(codes, title),
            "questions": self.questions,
        }
        return Imported(definition, self.unsupported, self.notes)

    # languages ---------------------------------------------------------------------------

    def _languages(self) -> dict[str, str]:
        """pyxform's languages in form order (the form's default first) → heard codes."""
        seen = dict.fromkeys(_language_keys(self.form.get("children") or []))
        named = [key for key in seen if key != DEFAULT]
        first = str(self.form.get("default_language") or DEFAULT)
        if first in named:
            named.remove(first)
            named.insert(0, first)
        if not named:
            return {DEFAULT: self.language}
        problems, codes = [], {}
        for key in named:
            try:
                codes[key] = language_code(key)
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise XLSFormError(problems)
        return codes

    def _localized(self, value: Any, row: int | None) -> dict[str, str] | None:
        """Text per heard language: a language without its own text takes the form's default
        column (as ODK shows it), else the first language's text (noted)."""
        texts = _texts(value)
        own: dict[str, str] = {}
        for key, text in texts.items():
            if key in self.languages:
                own.setdefault(self.languages[key], text)
        if not own and DEFAULT not in texts:
            return None
        result = {}
        for code in dict.fromkeys(self.languages.values()):
            found = own.get(code) or texts.get(DEFAULT)
            if found is None:
                found = next(own[first] for first in self.languages.values() if first in own)
                self.filled.setdefault(code, []).append(row or 0)
            result[code] = found
        return result

    # walking the form ---------------------------------------------------------------------

    def _row_of(self, name: str) -> int | None:
        """The survey sheet row (as the spreadsheet numbers it) of the next element `name`:
        None for one pyxform made itself (or_other's text question)."""
        for index in range(self.next_row, len(self.rows)):
            if self.rows[index].get("name") == name:
                self.next_row = index + 1
                return index + 2
        return None

    def _walk(self, children: list[dict[str, Any]], when: str | None,
              parent_row: int | None) -> None:
        for element in children:
            name = str(element.get("name", ""))
            if name.startswith(_GENERATED) or element.get("control", {}).get("bodyless"):
                continue  # pyxform's own: table-list display rows, meta (instanceID)
            own_row = self._row_of(name)
            row = own_row or parent_row
            kind = element.get("type")
            if own_row is None and kind == "calculate":
                continue  # pyxform's count of a repeat, which is reported itself
            if kind == "group":
                self._group(element, row, when)
            elif kind in ("repeat", "loop"):
                inside = sum(1 for _ in _leaves(element.get("children") or []))
                self._skip(row, name, "a repeat asks its questions again for each member or "
                           "item: heard asks each question once", f"the repeat and its "
                           f"{inside} questions")
            else:
                self._question(element, row, when)

    def _group(self, group: dict[str, Any], row: int | None, when: str | None) -> None:
        name = str(group["name"])
        relevant = group.get("bind", {}).get("relevant")
        if relevant:
            try:
                when = _both(when, to_heard(relevant, Scope(self.known)))
            except XPathError as error:
                inside = sum(1 for _ in _leaves(group.get("children") or []))
                self._skip(row, name, f"the group's relevant: {error}",
                           f"the group and its {inside} questions")
                return
        self._walk(group.get("children") or [], when, row)

    def _skip(self, row: int | None, name: str, reason: str, left_out: str = "the question",
              pending: str | None = None) -> None:
        self.unsupported.append(Unsupported(row, name, reason, left_out, pending))

    def _needs(self, feature: str, row: int | None, name: str, reason: str,
               left_out: str) -> bool:
        """True when `feature` is on; else the row is reported as not supported yet."""
        if feature in self.pending:
            self._skip(row, name, reason, left_out, pending=feature)
            return False
        return True

    # questions ----------------------------------------------------------------------------

    def _question(self, element: dict[str, Any], row: int | None, when: str | None) -> None:
        name = str(element["name"])
        kind, reason = _heard_kind(element)
        bind = element.get("bind") or {}
        if kind is None:
            self._skip(row, name, reason)
            return
        question: dict[str, Any] = {"type": kind}
        if kind == "calculate":
            try:  # what cannot be calculated is said before what is not supported yet
                question["calculate"] = to_heard(bind.get("calculate", ""),
                                                 Scope(self.known, arithmetic=True))
            except XPathError as error:
                self._skip(row, name, f"calculation: {error}")
                return
        if kind in ("date", "calculate", "rating") and not self._needs(
                kind, row, name, reason, "the question"):
            return
        question = {"id": self._new_id(name, row), **question}
        if kind != "calculate":
            text = self._localized(element.get("label"), row)
            if text is None:
                self._skip(row, name, "no label to ask (only media)" if element.get("media")
                           else "no label to ask")
                return
            question["text"] = self._piped(text, row, name)
        if element.get("media"):
            self._skip(row, name, "images, audio and video in a label cannot be sent",
                       "its media (the label is sent)")
        if element.get("default"):
            self.notes.append(f"survey sheet row {row} ({name}): its default answer "
                              f"{element['default']!r} is left out (heard asks)")
        try:
            self._fill(question, element, bind, when, row)
        except (XPathError, _CannotMap) as error:
            self._skip(row, name, str(error))
            return
        self.questions.append(question)
        self.known[name] = (question["id"], "number" if kind in ("calculate", "rating")
                            else question["type"])

    def _fill(self, question: dict[str, Any], element: dict[str, Any], bind: dict[str, Any],
              when: str | None, row: int | None) -> None:
        """The question's keys besides id, type and text; XPathError or _CannotMap when one
        cannot map."""
        name, kind = str(element["name"]), question["type"]
        if kind in ("choice", "multi"):
            self._choices(question, element, row)
        if kind == "rating":
            question["max"] = int(float(element.get("parameters", {}).get("end", 5)))
        if kind == "number" and _stored_as(element) == "decimal":
            question["decimal"] = True
        if kind == "number" and element.get("type") == "range":
            _range(question, element.get("parameters") or {})
        relevant = bind.get("relevant")
        condition = _both(when, to_heard(relevant, Scope(self.known)) if relevant else None)
        if condition:
            question["when"] = condition
        if kind not in ("note", "calculate") and not _is_true(bind.get("required")):
            question["optional"] = True
        if _is_true(bind.get("readonly")) and kind not in ("note", "calculate"):
            raise _CannotMap("a read-only field shows a value and asks nothing: heard has no "
                             "such question")
        self._constraint(question, bind, row, name)
        hint = self._localized(element.get("hint"), row)
        if hint and self._needs("hint", row, name, "a hint under the question", "its hint"):
            self._hint(question, self._piped(hint, row, name), row, name)
        if kind == "rating":
            self._rating_labels(question, element, row, name)

    def _hint(self, question: dict[str, Any], hint: dict[str, str], row: int | None,
              name: str) -> None:
        """A hint under the question; a note's goes on a line of its text (heard's hints are
        for questions people answer), a calculation's is never shown."""
        if question["type"] == "calculate":
            self.notes.append(f"survey sheet row {row} ({name}): its hint is left out (a "
                              "calculation is never shown)")
        elif question["type"] == "note":
            question["text"] = {lang: f"{text}\n{hint[lang]}"
                                for lang, text in question["text"].items()}
            self.notes.append(f"survey sheet row {row} ({name}): its hint is the last line of "
                              "the note (heard's hints are for questions people answer)")
        else:
            question["hint"] = hint

    def _rating_labels(self, question: dict[str, Any], element: dict[str, Any],
                       row: int | None, name: str) -> None:
        """heard's own `rating_labels` column (`1 = Very bad | 5 = Very good`) as `labels`."""
        texts = self._localized(element.get(RATING_LABELS), row)
        if not texts:
            return
        labels: dict[str, dict[int, str]] = {}
        for lang, text in texts.items():
            for part in text.split("|"):
                point, equals, words = part.partition("=")
                if not equals or not point.strip().isdigit() or not words.strip():
                    self._skip(row, name, f"{RATING_LABELS} {text!r}: each point reads "
                               "'N = words', points apart with |", "the rating's labels")
                    return
                labels.setdefault(lang, {})[int(point)] = words.strip()
        question["labels"] = labels

    def _constraint(self, question: dict[str, Any], bind: dict[str, Any], row: int | None,
                    name: str) -> None:
        """The parts of a constraint that only bound the answer as min, max or max_length; the
        rest as heard's constraint with its message."""
        constraint = bind.get("constraint")
        if not constraint:
            return
        kind, left_out = question["type"], "its constraint (any answer is accepted)"
        if kind in ("note", "calculate"):
            self._skip(row, name, f"constraint {constraint!r}: a {kind} has no answer to "
                       "constrain", left_out)
            return
        bounds, rest = _bounds(constraint, kind, question.get("decimal", False))
        question.update(bounds)
        message = self._localized(bind.get("jr:constraintMsg"), row)
        if not rest:
            if message:
                self.notes.append(f"survey sheet row {row} ({name}): its constraint_message "
                                  "is left out: heard says the allowed range itself, in the "
                                  "person's language")
            return
        try:
            rule = to_heard(rest, Scope(self.known, current=kind))
        except XPathError as error:
            self._skip(row, name, f"constraint: {error}", left_out)
            return
        if self._needs("constraint", row, name, f"constraint {constraint!r}", left_out):
            question["constraint"] = rule
            if message:
                question["constraint_message"] = self._piped(message, row, name)

    def _choices(self, question: dict[str, Any], element: dict[str, Any],
                 row: int | None) -> None:
        name, listed = str(element["name"]), element.get("choices") or []
        if not listed:
            raise _CannotMap("its choices come from outside the form (an external file or "
                             "list): heard needs them listed")
        values = [str(choice.get("name", "")) for choice in listed]
        if question["type"] == "choice" and sorted(values) == ["no", "yes"]:
            question["type"] = "yesno"
            return
        choices, seen = [], set()
        for choice, value in zip(listed, values, strict=True):
            if value in seen:
                raise _CannotMap(f"choice '{value}' is listed twice")
            seen.add(value)
            text = self._localized(choice.get("label"), row)
            if text is None:
                raise _CannotMap(f"choice '{value}' has no label to send (only an image)")
            if choice.get("media"):
                self.notes.append(f"survey sheet row {row} ({name}): choice '{value}': its "
                                  "media is left out")
            if not _VALUE_PATTERN.match(value):
                raise _CannotMap(f"choice name {value!r}: heard's choice values are letters, "
                                 "digits, _ . and -")
            entry: dict[str, Any] = {"value": value, "text": self._piped(text, row, name)}
            if question["type"] == "multi" and _is_true(choice.get(EXCLUSIVE)):
                entry["exclusive"] = True
            choices.append(entry)
        question["choices"] = choices
        choice_filter = element.get("choice_filter")
        if choice_filter:
            self._choice_filter(question, str(choice_filter), listed, row, name)

    def _choice_filter(self, question: dict[str, Any], choice_filter: str,
                       listed: list[dict[str, Any]], row: int | None, name: str) -> None:
        """The filter in heard's words, the choices sheet's columns it reads as each choice's
        tags: a choice without a value there has '' (as XPath reads an empty cell)."""
        left_out = "its choice filter (every choice is offered)"
        try:
            rule = to_heard(choice_filter, Scope(self.known, choice_columns=True))
        except XPathError as error:
            self._skip(row, name, f"choice_filter: {error}", left_out)
            return
        columns = sorted(set(re.findall(r"\bchoice\.(\w+)", rule)))
        for column in columns:
            if not any(column in choice for choice in listed):
                self._skip(row, name, f"choice_filter {choice_filter!r} reads the column "
                           f"'{column}', which the choices sheet does not have (an unquoted "
                           f"word is a column; '{column}' in quotes is the text)", left_out)
                return
            if column in ("label", "media", "image", "audio", "video"):
                self._skip(row, name, f"choice_filter {choice_filter!r} reads the choices' "
                           f"{column}: heard filters on the other columns' values", left_out)
                return
        if not self._needs("choice_filter", row, name, f"choice_filter {choice_filter!r}",
                           left_out):
            return
        question["choice_filter"] = rule
        for entry, choice in zip(question["choices"], listed, strict=True):
            entry["tags"] = {column: str(choice.get(column, "")) for column in columns}
            missing = [column for column in columns if column not in choice]
            if missing:
                self.notes.append(f"survey sheet row {row} ({name}): choice '{entry['value']}' "
                                  f"has no {', '.join(missing)}: its filter reads '' there, as "
                                  "ODK does")

    def _piped(self, texts: dict[str, str], row: int | None, name: str) -> dict[str, str]:
        """`${q}` in a text as FORMAT20's `{q}` (piping); reported while that is pending."""
        if not any(_PIPED.search(text) for text in texts.values()):
            return texts
        names = sorted({found for text in texts.values() for found in _PIPED.findall(text)})
        unknown = [piped for piped in names if piped not in self.known]
        left_out = "the answers it shows: '...' stands in their place"
        if unknown:
            self._skip(row, name, f"its text shows the answer to {', '.join(unknown)}, which "
                       "is not an earlier question heard imports", left_out)
        elif self._needs("piping", row, name, f"its text shows earlier answers "
                         f"({', '.join(names)})", left_out):
            return {lang: _piping(text, self.known) for lang, text in texts.items()}
        return {lang: _PIPED.sub("...", text) for lang, text in texts.items()}

    def _new_id(self, name: str, row: int | None) -> str:
        """The form's name as a heard question id (letters, digits, _; not a word of the
        when: language), unique; a changed name is noted."""
        heard = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not _ID_PATTERN.match(heard):
            heard = f"q_{heard}"
        if keyword.iskeyword(heard) or heard in LITERAL_NAMES or heard == "answer":
            heard += "_"
        taken = {question["id"] for question in self.questions}
        unique, count = heard, 1
        while unique in taken:
            count += 1
            unique = f"{heard}_{count}"
        if unique != name:
            self.notes.append(f"survey sheet row {row} ({name}): question id '{unique}' (heard's "
                              "ids are letters, digits and _): data joins under that name")
        return unique


def _piping(text: str, known: dict[str, tuple[str, str]]) -> str:
    """`Hello ${name} {x}` as FORMAT20 writes it: `Hello {name} {{x}}`."""
    parts = _PIPED.split(text)  # literal, name, literal, name, ..., literal
    return "".join(known[part][0].join("{}") if index % 2 else
                   part.replace("{", "{{").replace("}", "}}")
                   for index, part in enumerate(parts))


def _texts(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(key): str(text).strip() for key, text in value.items()
                if isinstance(text, str | int | float) and str(text).strip()}
    if isinstance(value, str | int | float) and str(value).strip():
        return {DEFAULT: str(value).strip()}
    return {}


def _language_keys(children: list[dict[str, Any]]) -> Iterator[str]:
    """Every language pyxform found in labels, hints and messages, in form order."""
    for element in children:
        for text in (element.get("label"), element.get("hint"),
                     (element.get("bind") or {}).get("jr:constraintMsg")):
            yield from _texts(text)
        for choice in element.get("choices") or []:
            yield from _texts(choice.get("label"))
        yield from _language_keys(element.get("children") or [])


def _leaves(children: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for element in children:
        if element.get("children"):
            yield from _leaves(element["children"])
        else:
            yield element


def _both(first: str | None, second: str | None) -> str | None:
    """Both conditions (a group's relevant and its question's): `a and b`."""
    if not first or not second:
        return first or second
    return " and ".join(f"({part})" if " or " in part else part for part in (first, second))


def _heard_kind(element: dict[str, Any]) -> tuple[str | None, str]:
    """heard's question type for an XLSForm question, or None and why it cannot be asked."""
    kind = str(element.get("type", ""))
    if kind == "range":
        parameters = element.get("parameters") or {}
        if _is_rating(parameters):
            return "rating", f"a range 1..{parameters.get('end', 10)} (a rating)"
        return "number", ""
    definition = QUESTION_TYPE_DICT.get(kind)
    if definition is None:
        return None, f"question type '{kind}' has no heard equivalent"
    bind, control = definition.get("bind", {}), definition.get("control", {})
    tag, stored = control.get("tag"), bind.get("type")
    if "jr:preload" in bind:
        return None, (f"'{kind}' is recorded by the phone itself (metadata); heard keeps its "
                      "own times and contacts")
    if tag == "select1":
        return "choice", ""
    if tag == "select":
        return "multi", ""
    if kind.startswith("select"):
        return None, "its choices come from an external file"
    if stored in ("int", "decimal"):
        return "number", ""
    if stored == "date":
        return "date", "a date question"
    if stored in _CANNOT_ASK or tag in _CANNOT_ASK:
        return None, _CANNOT_ASK.get(stored) or _CANNOT_ASK[tag]
    if bind.get("readonly") == "true()":
        return "note", ""
    if tag == "input" and stored == "string":
        return "text", ""
    if control == {} and "calculate" in kind:
        return "calculate", "a calculation"
    return None, f"question type '{kind}' has no heard equivalent"


def _stored_as(element: dict[str, Any]) -> str | None:
    """The XForm data type pyxform gives the question's type ('int', 'decimal', ...)."""
    return QUESTION_TYPE_DICT.get(str(element.get("type")), {}).get("bind", {}).get("type")


def _is_rating(parameters: dict[str, Any]) -> bool:
    try:
        start, end, step = (float(parameters.get(key, default))
                            for key, default in (("start", 1), ("end", 10), ("step", 1)))
    except ValueError:
        return False
    return start == 1 and step == 1 and end == int(end) and 2 <= end <= 10


def _range(question: dict[str, Any], parameters: dict[str, Any]) -> None:
    """A range that is no rating: a number between its start and end."""
    values = {key: float(parameters.get(key, default))
              for key, default in (("start", 1), ("end", 10), ("step", 1))}
    whole = all(value == int(value) for value in values.values())
    low, high = sorted((values["start"], values["end"]))
    question["min"], question["max"] = (int(low), int(high)) if whole else (low, high)
    if not whole:
        question["decimal"] = True


_BOUND = re.compile(r"^\s*(?:(?P<dot>\.|string-length\(\s*\.\s*\))\s*(?P<op><=|>=|<|>)\s*"
                    r"(?P<value>{value})|(?P<rvalue>{value})\s*(?P<rop><=|>=|<|>)\s*"
                    r"(?P<rdot>\.|string-length\(\s*\.\s*\)))\s*$".format(
                        value=r"-?\d+(?:\.\d+)?|today\(\s*\)|date\(\s*'\d{4}-\d\d-\d\d'\s*\)"))
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_DAY = re.compile(r"\d{4}-\d\d-\d\d")


def _bounds(constraint: str, kind: str, decimal: bool) -> tuple[dict[str, Any], str]:
    """The parts of a constraint (`. >= 0 and . <= ${x}`) that only bound the answer as heard's
    min, max or max_length (`. >= 0`, `string-length(.) <= 160`, `. <= today()`), and the
    rest (`. <= ${x}`; '' when nothing is left)."""
    parts = _conjuncts(constraint)
    bounds: dict[str, Any] = {}
    rest = []
    for part in parts:
        bound = _bound(part, kind, decimal)
        if bound is None or bound[0] in bounds:
            rest.append(part)
        else:
            bounds[bound[0]] = bound[1]
    return bounds, " and ".join(rest)


def _conjuncts(xpath: str) -> list[str]:
    """`a and (b or c) and d` as its parts joined by a top-level `and` (the whole when an `or`
    is top-level too: `a or b and c` is no conjunction)."""
    parts, depth, start, quote = [], 0, 0, ""
    for found in re.finditer(r"'|\"|\(|\)|\b(?:and|or)\b", xpath):
        token = found.group()
        if quote:
            quote = "" if token == quote else quote
        elif token in "'\"":
            quote = token
        elif token in "()":
            depth += 1 if token == "(" else -1
        elif depth == 0 and token == "or":
            return [xpath.strip()]
        elif depth == 0:
            parts.append(xpath[start:found.start()].strip())
            start = found.end()
    return [*parts, xpath[start:].strip()]


def _bound(part: str, kind: str, decimal: bool) -> tuple[str, Any] | None:
    """('min' | 'max' | 'max_length', value) for one comparison of the answer with a
    constant, None for any other part."""
    found = _BOUND.match(part)
    if found is None or kind not in ("number", "text", "date"):
        return None
    if found["dot"]:
        target, op, value = found["dot"], found["op"], found["value"]
    else:
        target, op, value = found["rdot"], _FLIPPED[found["rop"]], found["rvalue"]
    length = target.startswith("string-length")
    is_day = value.startswith(("today", "date"))
    if length != (kind == "text") or is_day != (kind == "date"):
        return None
    key = "min" if op.startswith(">") else "max"
    if is_day:
        day = _DAY.search(value)
        if day is None:  # today(): heard's `today` is inclusive, so `. > today()` stays a rule
            return (key, "today") if op in ("<=", ">=") else None
        shift = {">": 1, "<": -1}.get(op, 0)
        return key, (date.fromisoformat(day.group()) + timedelta(days=shift)).isoformat()
    number = float(value)
    strict = op in ("<", ">")
    if strict and (decimal or number != int(number)):
        return None  # 10.51 < . has no heard min: it is a constraint
    number = number + (1 if op == ">" else -1 if op == "<" else 0)
    bound = int(number) if number == int(number) else number
    if length:
        return ("max_length", bound) if key == "max" else None
    return key, bound


def _is_true(value: Any) -> bool:
    return str(value or "").strip().lower() in _TRUE


@cache
def _language_names() -> dict[str, str]:
    """Lower-case language names as Babel's CLDR data writes them, in English and in the
    language itself ('swahili', 'kiswahili', 'bangla', 'বাংলা') → code."""
    names: dict[str, str] = {}
    for code, name in Locale("en").languages.items():
        if re.fullmatch(r"[a-z]{2,3}", code):
            names.setdefault(name.lower(), code)
    for code in locale_identifiers():
        if re.fullmatch(r"[a-z]{2,3}", code):
            own = Locale.parse(code).display_name
            if own:
                names.setdefault(own.lower(), code)
    return names


def language_code(name: str) -> str:
    """A form's language as a heard code: 'Swahili (sw)' → 'sw'; a name alone ('English',
    'chinese', 'Kiswahili') as Babel or ISO 639 knows it. ValueError names what is unknown."""
    found = _CODE_IN_NAME.search(name)
    if found:
        code = canonical(found.group(1))
    elif is_language(name.strip()) and len(name.strip()) <= 3:
        code = canonical(name.strip())  # 'EN', 'sw' written alone
    else:
        code = _language_names().get(name.strip().lower(), "")
        if not code:
            try:
                language = pycountry.languages.lookup(name.strip())
            except LookupError:
                language = None
            code = str(getattr(language, "alpha_2", None) or getattr(language, "alpha_3", ""))
    if not code or not is_language(code):
        raise ValueError(f"language '{name}': heard cannot tell its code; name the column "
                         f"label::{name.strip()} (xx) with its ISO 639 code in parentheses")
    return code


def _survey_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return slug or "survey"


# YAML ------------------------------------------------------------------------------------------

def survey_yaml(definition: dict[str, Any], comment: str) -> str:
    """A definition as heard's YAML: one key a line, choices one a line as flow mappings."""
    document = CommentedMap(definition)
    document.yaml_set_start_comment(comment)
    document["questions"] = [_with_flow_choices(question) for question in definition["questions"]]
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _with_flow_choices(question: dict[str, Any]) -> dict[str, Any]:
    if not question.get("choices"):
        return question
    choices = [CommentedMap(choice) for choice in question["choices"]]
    for choice in choices:
        choice.fa.set_flow_style()
    return {**question, "choices": choices}


def check_xlsform(data: bytes) -> list[str]:
    """pyxform's warnings for an XLSForm it converts to an XForm; XLSFormError if it cannot."""
    warnings: list[str] = []
    try:
        convert(io.BytesIO(data), warnings=warnings, file_type=".xlsx")
    except (PyXFormError, ValueError, KeyError) as error:
        raise XLSFormError([f"pyxform cannot convert the exported form: {error}"]) from None
    return warnings


# export ----------------------------------------------------------------------------------------

def xlsform_of(survey: Survey) -> bytes:
    """The survey as an XLSForm (.xlsx bytes): survey, choices and settings sheets, a
    `label::Name (code)` column per language (hints and constraint messages too); heard's ids
    are the form's names, `{q}` in a text is `${q}`."""
    languages = survey.languages
    names = [f"{language_name(code, reader='en')} ({code})" for code in languages]
    survey_rows: list[dict[str, Any]] = []
    choice_rows: list[dict[str, Any]] = []
    ids = {question.id for question in survey.questions}
    gate = None
    yes_no = _free("yes_no", set(ids))  # the list of yesno questions (and consent)
    if survey.intro:
        survey_rows.append({"type": "note", "name": _free("intro", ids),
                            **_in("label", survey.intro, languages, names)})
    if survey.consent:
        consent = _free("consent", ids)
        survey_rows.append({"type": f"select_one {yes_no}", "name": consent,
                            **_in("label", survey.consent, languages, names), "required": "yes"})
        gate = f"${{{consent}}} = 'yes'"
    uses_yes_no = bool(survey.consent)
    for question in survey.questions:
        try:
            row = _row_of(question, choice_rows, yes_no, languages, names)
            relevant = _both(gate, to_xpath(question.when) if question.when else None)
        except XPathError as error:
            raise XLSFormError([f"question '{question.id}': {error}"]) from None
        uses_yes_no = uses_yes_no or question.type == "yesno"
        survey_rows.append({**row, **({"relevant": relevant} if relevant else {})})
    if uses_yes_no:
        for value, word in (("yes", "Yes"), ("no", "No")):  # in heard's own words
            choice_rows.append({"list_name": yes_no, "name": value, **_in(
                "label", {code: translator(code).gettext(word) for code in languages},
                languages, names)})
    if survey.closing:
        survey_rows.append({"type": "note", "name": _free("closing", ids),
                            **_in("label", survey.closing, languages, names)})
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    _sheet(sheet, ["type", "name", *(f"label::{name}" for name in names)], survey_rows)
    _sheet(book.create_sheet("choices"),
           ["list_name", "name", *(f"label::{name}" for name in names)], choice_rows)
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([survey.title[survey.default_language], survey.id, str(survey.version),
                     names[0]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(sheet: Any, first: list[str], rows: list[dict[str, Any]]) -> None:
    """Rows as a sheet: the `first` columns, then every other column a row uses, in order."""
    columns = list(dict.fromkeys([*first, *(column for row in rows for column in row)]))
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(column, "") for column in columns])


def _in(column: str, texts: dict[str, str], languages: list[str],
        names: list[str]) -> dict[str, str]:
    """`column::Name (code)` per language, `{q}` written as XLSForm's `${q}`."""
    return {f"{column}::{name}": _xlsform_piping(texts[code])
            for code, name in zip(languages, names, strict=True)}


def _xlsform_piping(text: str) -> str:
    """`{q}` as `${q}`, `{{` and `}}` as braces."""
    return PIPED.sub(lambda found: f"${{{found.group(1)}}}" if found.group(1) else
                     found.group()[0], text)


def _free(name: str, taken: set[str]) -> str:
    """`name`, or name_2, ... where a question already has it."""
    unique, count = name, 1
    while unique in taken:
        count += 1
        unique = f"{name}_{count}"
    taken.add(unique)
    return unique


def _row_of(question: Question, choice_rows: list[dict[str, Any]], yes_no: str,
            languages: list[str], names: list[str]) -> dict[str, Any]:
    """The question's survey sheet row (its choices, in a list named by its id, go on the
    choices sheet); XPathError names an expression XPath cannot say."""
    row: dict[str, Any] = {"type": _xlsform_type(question, yes_no), "name": question.id}
    if question.said:
        row.update(_in("label", question.text, languages, names))
    if question.hint:
        row.update(_in("hint", question.hint, languages, names))
    if question.asked and not question.optional:
        row["required"] = "yes"
    constraint = _constraint_of(question)
    if constraint:
        row["constraint"] = constraint
    if question.constraint_message:
        row.update(_in("constraint_message", question.constraint_message, languages, names))
    if question.calculate:
        row["calculation"] = to_xpath(question.calculate)
    if question.type == "rating":
        row["parameters"] = f"start=1 end={question.points} step=1"
        row.update({f"{RATING_LABELS}::{name}": " | ".join(
            f"{point} = {words}" for point, words in sorted(question.labels[code].items()))
            for code, name in zip(languages, names, strict=True) if code in question.labels})
    if question.choice_filter:
        row["choice_filter"] = to_xpath(question.choice_filter)
    for choice in question.choices or []:
        choice_rows.append({"list_name": question.id, "name": choice.value,
                            **_in("label", choice.text, languages, names),
                            **({EXCLUSIVE: "yes"} if choice.exclusive else {}),
                            **{tag: _cell(value) for tag, value in choice.tags.items()}})
    return row


def _cell(value: str | int | float | bool) -> str:
    """A tag's value as the choices sheet's text (XPath compares them as text)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _xlsform_type(question: Question, yes_no: str) -> str:
    if question.type in ("choice", "multi"):
        return f"{'select_one' if question.type == 'choice' else 'select_multiple'} " \
               f"{question.id}"
    if question.type == "yesno":
        return f"select_one {yes_no}"
    if question.type == "number":
        return "decimal" if question.decimal else "integer"
    return "range" if question.type == "rating" else question.type  # text, note, date, calculate


def _constraint_of(question: Question) -> str:
    """min, max, max_length and the constraint as the XLSForm constraint that says the same."""
    parts = []
    for key, op in (("min", ">="), ("max", "<=")):
        value = getattr(question, key)
        if value is None or question.type == "rating":
            continue
        if question.type == "date":
            parts.append(f". {op} {'today()' if value == 'today' else f'date({value!r})'}")
        else:
            parts.append(f". {op} {_number(value)}")
    if question.max_length is not None:
        parts.append(f"string-length(.) <= {question.max_length}")
    if question.constraint:
        rule = to_xpath(question.constraint, answer="answer")
        parts.append(f"({rule})" if parts and " or " in rule else rule)
    return " and ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
