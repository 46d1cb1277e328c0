"""Load survey YAML and report every problem at once as ``FILE:LINE:COL: message``.

ruamel.yaml keeps the line and column of every key and value, so a problem found by pydantic
(shape) or by the cross-field checks below (meaning) points at the exact place in the file.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeGuard, cast

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from surveys.conditions import ConditionError, parse_calculation, parse_condition
from surveys.i18n import catalog_language, is_language, shipped_languages
from surveys.media import Files, MediaError, folder_files, no_files, read_media
from surveys.model import QUESTION_TYPES, Recordings, Survey, piped_names
from surveys.words import bare_word

Loc = tuple[str | int, ...]

# Placeholders a summary sentence may use: {count} is how many answered the question,
# {matching} how many of them gave `value`, {percent} that share.
SUMMARY_FIELDS = {
    "choice": {"percent", "count", "matching"},
    "multi": {"percent", "count", "matching"},
    "yesno": {"percent", "count", "matching"},
    "number": {"mean", "median", "min", "max", "count"},
}
TYPE_ONLY_KEYS = {
    "choices": ("choice", "multi"),
    "choice_filter": ("choice", "multi"),
    "min": ("number", "date"),
    "max": ("number", "date", "rating"),
    "decimal": ("number",),
    "max_length": ("text",),
    "labels": ("rating",),
    "calculate": ("calculate",),
}
ASKED_ONLY_KEYS = ("hint", "constraint", "constraint_message")  # not for note, calculate
RATING_POINTS = (2, 10)


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class SurveyError(ValueError):
    """A survey file has problems; `problems` lists all of them in file order."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load_survey(path: str | Path) -> Survey:
    """The survey in file `path`, its recordings (`audio:`) read from the file's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SurveyError([Problem(str(path), 1, 1, f"cannot read file: {error}")]) from None
    return parse_survey(text, str(path), folder_files(path.parent))


MAX_SURVEY_BYTES = 2_000_000  # the largest real survey is a few hundred kB
MAX_DEPTH = 30  # a survey nests a handful of levels
MAX_NODES = 200_000  # values once aliases are expanded: thousands of questions' worth


def parse_survey(text: str, filename: str = "<survey>", files: Files = no_files) -> Survey:
    """The survey in `text`; each recording it names is read from `files` and checked."""
    if len(text) > MAX_SURVEY_BYTES:
        raise SurveyError([Problem(filename, 1, 1, f"file too large: {len(text)} characters; "
                                   f"a survey is at most {MAX_SURVEY_BYTES}")])
    if _flow_depth(text) > MAX_DEPTH:  # before the parser recurses through it for seconds
        raise SurveyError([Problem(filename, 1, 1, f"YAML nested more than {MAX_DEPTH} levels "
                                   "deep")])
    yaml = YAML(typ="rt")
    # a date stays its text ('min: 2024-02-30' is reported, not a crash); the model reads it
    yaml.constructor.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (error.context, error.problem) if part)
        raise SurveyError([Problem(filename, line, column, f"YAML syntax: {message}")]) from None
    except RecursionError:
        raise SurveyError([Problem(filename, 1, 1, "YAML nested too deeply")]) from None
    shape = _shape_problem(raw)
    if shape:
        raise SurveyError([Problem(filename, 1, 1, shape)])
    if not isinstance(raw, dict):
        raise SurveyError([Problem(filename, 1, 1, "a survey must be a YAML mapping (id: ...)")])

    problems = [Problem(filename, *_position(raw, loc), message) for loc, message in _check(raw)]
    try:
        survey = Survey.model_validate(raw)
    except ValidationError as error:
        problems += [_pydantic_problem(filename, raw, detail) for detail in error.errors()]
        raise SurveyError(problems) from None
    problems += [Problem(filename, *_position(raw, loc), message)
                 for loc, message in _read_recordings(survey, files)]
    if problems:
        raise SurveyError(problems)
    return survey


def _as_text(constructor: Any, node: Any) -> str:
    return str(constructor.construct_scalar(node))


def _read_recordings(survey: Survey, files: Files) -> Iterator[tuple[Loc, str]]:
    """Each recording read and checked; its sha256 and seconds kept in the definition, its
    bytes with the survey until `surveys.catalog.register` stores them."""
    for key, recordings in survey.audio.items():
        if getattr(survey, key) is None:
            yield ("audio", key), f"audio: {key}: the survey has no {key} text to record"
        yield from _read_each(recordings, ("audio", key), f"audio: {key}", survey, files)
    for index, question in enumerate(survey.questions):
        yield from _read_each(question.audio, ("questions", index, "audio"),
                              f"question '{question.id}' audio", survey, files)


def _read_each(recordings: Recordings, loc: Loc, what: str, survey: Survey,
               files: Files) -> Iterator[tuple[Loc, str]]:
    for lang, recording in recordings.items():
        if lang not in survey.languages:
            yield loc + (lang,), f"{what}: language '{lang}' is not in the survey's languages"
            continue
        try:
            media = read_media(recording.file, files)
        except MediaError as error:
            yield loc + (lang,), f"{what} ({lang}): {recording.file}: {error}"
            continue
        recording.read_as(media)


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ and { in the text (quotes are not told apart: an upper bound)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def _shape_problem(raw: Any) -> str | None:
    """A tree whose aliases expand it past any real survey (a few lines of `&a [*a, *a...]`
    make gigabytes: an "alias bomb"), or nested deeper than one, is refused before anything
    walks it in full. Sizes are counted once per node (aliases share nodes), so this is quick."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, dict | list):
            return 1
        if depth > MAX_DEPTH:
            raise _TooDeep
        if id(node) not in sizes:
            children = node.values() if isinstance(node, dict) else node
            sizes[id(node)] = 1 + sum(size(child, depth + 1) for child in children)
        return sizes[id(node)]

    try:
        expanded = size(raw, 0)
    except _TooDeep:
        return f"YAML nested more than {MAX_DEPTH} levels deep"
    if expanded > MAX_NODES:
        return (f"YAML expands to {expanded:,} values through its aliases (& and *); a survey "
                f"has at most {MAX_NODES:,}")
    return None


class _TooDeep(Exception):
    pass


def _pydantic_problem(filename: str, raw: Any, detail: Any) -> Problem:
    loc: Loc = tuple(detail["loc"])
    kind = detail["type"]
    where = _describe(raw, loc[:-1]) if kind in ("extra_forbidden", "missing") else ""
    if kind == "extra_forbidden":
        message = f"unknown key '{loc[-1]}'{where}"
    elif kind == "missing":
        message = f"missing required key '{loc[-1]}'{where}"
    elif kind == "literal_error" and loc[-1] == "type":
        message = (f"unknown question type {detail['input']!r}{_describe(raw, loc[:-1])}; "
                   f"expected one of: {', '.join(QUESTION_TYPES)}")
    else:
        message = f"{_dotted(loc)}: {detail['msg']} (got {detail['input']!r})"
    line, column = _position(raw, loc, key=kind == "extra_forbidden")
    return Problem(filename, line, column, message)


def _check(raw: dict) -> Iterator[tuple[Loc, str]]:
    """Cross-field checks on the raw YAML, tolerant of shapes pydantic will report."""
    languages = [lang for lang in _as_list(raw.get("languages")) if isinstance(lang, str)]
    yield from _check_languages(languages)
    yield from _check_system_language(raw)
    for lang in _as_dict(raw.get("translated_from")):
        if lang not in languages:
            yield ("translated_from", lang), (f"translated_from: language '{lang}' is not in the "
                                              "survey's languages")
    for key in ("title", "intro", "closing", "consent"):
        if key in raw:
            yield from _check_translations(raw[key], (key,), languages, key)
    for key in ("title", "intro", "consent"):  # said before any question is answered
        yield from _check_piped(raw.get(key), (key,), key, set())

    questions = _as_list(raw.get("questions"))
    seen: dict[str, str] = {}
    for index, question in enumerate(questions):
        if not isinstance(question, dict):
            continue
        loc: Loc = ("questions", index)
        qid = question.get("id")
        if isinstance(qid, str):
            if qid in seen:
                yield loc + ("id",), f"duplicate question id '{qid}'"
            seen.setdefault(qid, question.get("type", ""))
        yield from _check_question(question, loc, languages, earlier=set(seen) - {qid})

    yield from _check_piped(raw.get("closing"), ("closing",), "closing", set(seen))
    for index, item in enumerate(_as_list(raw.get("summary"))):
        if isinstance(item, dict):
            yield from _check_summary(item, ("summary", index), languages, questions, seen)


def _check_languages(languages: list[str]) -> Iterator[tuple[Loc, str]]:
    """Any ISO 639 code: Tumbuka (tum), Sylheti (syl), Cree (cr) are survey languages too,
    whatever Babel knows, since the survey brings every text itself."""
    for index, code in enumerate(languages):
        if languages.index(code) != index:
            yield ("languages", index), f"language '{code}' is listed twice"
        elif not is_language(code):
            yield ("languages", index), f"unknown language code '{code}'"


def _check_system_language(raw: dict) -> Iterator[tuple[Loc, str]]:
    code = raw.get("system_language")
    if isinstance(code, str) and catalog_language(code) is None:
        yield ("system_language",), (f"system_language '{code}': heard has no catalog for it; "
                                     f"expected one of {', '.join(shipped_languages())}")


def _check_question(question: dict, loc: Loc, languages: list[str],
                    earlier: set[str]) -> Iterator[tuple[Loc, str]]:
    qtype = question.get("type")
    label = f"question '{question.get('id', loc[-1])}'"
    if "text" in question:
        yield from _check_translations(question["text"], loc + ("text",), languages,
                                       f"{label} text")
    elif qtype != "calculate":
        yield loc, f"missing required key 'text' in {label}"
    for key, types in TYPE_ONLY_KEYS.items():
        if key in question and qtype in QUESTION_TYPES and qtype not in types:
            yield loc + (key,), f"{label}: '{key}' is only for {' and '.join(types)} questions"
    for key in ASKED_ONLY_KEYS:
        if key in question and qtype in ("note", "calculate"):
            yield loc + (key,), f"{label}: '{key}' is only for questions people answer"
    for key in ("hint", "constraint_message"):
        if key in question:
            yield from _check_translations(question[key], loc + (key,), languages,
                                           f"{label} {key}")
    for key in ("text", "hint", "constraint_message"):
        yield from _check_piped(question.get(key), loc + (key,), f"{label} {key}", earlier)
    yield from _check_shorts(question.get("short"), loc + ("short",), languages, label)
    yield from _check_expressions(question, loc, label, earlier)
    yield from _check_bounds(question, loc, label, qtype)
    if qtype == "rating":
        yield from _check_rating(question, loc, label, languages)
    if qtype in ("choice", "multi"):
        choices = _as_list(question.get("choices"))
        if not choices:
            yield loc, f"{label}: a {qtype} question needs a non-empty 'choices' list"
        values: set[str] = set()
        for index, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            value = str(choice.get("value"))
            if value in values:
                yield loc + ("choices", index, "value"), f"{label}: duplicate choice '{value}'"
            values.add(value)
            if "text" in choice:
                yield from _check_translations(choice["text"], loc + ("choices", index, "text"),
                                               languages, f"{label} choice '{value}'")
                yield from _check_piped(choice["text"], loc + ("choices", index, "text"),
                                        f"{label} choice '{value}'", earlier)
            yield from _check_shorts(choice.get("short"), loc + ("choices", index, "short"),
                                     languages, f"{label} choice '{value}'")
            if choice.get("exclusive") and qtype != "multi":
                yield (loc + ("choices", index, "exclusive"),
                       f"{label} choice '{value}': 'exclusive' is only for multi questions")
            aliases = choice.get("aliases")
            if isinstance(aliases, dict):
                for lang in aliases:
                    if lang != "*" and lang not in languages:
                        yield (loc + ("choices", index, "aliases", lang),
                               f"{label} choice '{value}' aliases: language '{lang}' is not in "
                               "the survey's languages (or '*' for any)")
        yield from _check_words_apart(question, loc, label)


def _check_shorts(shorts: object, loc: Loc, languages: list[str],
                  label: str) -> Iterator[tuple[Loc, str]]:
    """A `short:` text is for some of the survey's languages, and pipes nothing in (a small
    screen shows it as written)."""
    if not isinstance(shorts, dict):
        return
    for lang, text in shorts.items():
        if lang not in languages:
            yield loc + (lang,), (f"{label} short: language '{lang}' is not in the survey's "
                                  f"languages")
        elif isinstance(text, str) and piped_names(text):
            yield loc + (lang,), f"{label} short: a short text cannot pipe answers in"


def _check_expressions(question: dict, loc: Loc, label: str,
                       earlier: set[str]) -> Iterator[tuple[Loc, str]]:
    """`when`, `constraint`, `choice_filter` and `calculate`: whitelisted expressions that
    name earlier questions only (a constraint `answer` too, a choice_filter `choice.<tag>`)."""
    parsers = {"when": parse_condition, "constraint": parse_condition,
               "choice_filter": lambda source: parse_condition(source, tags=True),
               "calculate": parse_calculation}
    for key, parse in parsers.items():
        source = question.get(key)
        if not isinstance(source, str):
            continue
        try:
            expression = parse(source)
        except ConditionError as error:
            yield loc + (key,), f"{label}: {key}: {error}"
            continue
        known = earlier | ({"answer"} if key == "constraint" else set())
        for name in sorted(expression.names - known):
            yield loc + (key,), (f"{label}: {key} names '{name}', which is not an earlier "
                                 "question (skip logic can only look back)")
        if key == "choice_filter":
            yield from _check_tags(question, loc, label, expression.tags)
    if question.get("type") == "calculate" and "calculate" not in question:
        yield loc, f"missing required key 'calculate' in {label}"
    if "constraint_message" in question and "constraint" not in question:
        yield loc + ("constraint_message",), f"{label}: constraint_message without a constraint"


def _check_tags(question: dict, loc: Loc, label: str,
                tags: frozenset[str]) -> Iterator[tuple[Loc, str]]:
    """Every choice has the tags its question's choice_filter reads (else it is never
    offered, which is surely not what was meant)."""
    for index, choice in enumerate(_as_list(question.get("choices"))):
        if not isinstance(choice, dict):
            continue
        have = _as_dict(choice.get("tags"))
        for tag in sorted(tags - set(have)):
            yield (loc + ("choices", index),
                   f"{label} choice '{choice.get('value')}': no tag '{tag}', which its "
                   f"choice_filter reads (choice.{tag})")


def _check_bounds(question: dict, loc: Loc, label: str,
                  qtype: Any) -> Iterator[tuple[Loc, str]]:
    """min <= max; a number's are numbers, a date's ISO days or `today`."""
    low, high = question.get("min"), question.get("max")
    if qtype == "date":
        days = {}
        for key, value in (("min", low), ("max", high)):
            if value is None:
                continue
            day = _day(value)
            if day is None:
                yield loc + (key,), (f"{label}: {key} {value!r} is not a date: write it as "
                                     "YYYY-MM-DD, or today")
            else:
                days[key] = day
        if "min" in days and "max" in days and days["min"] > days["max"] and \
                "today" not in (low, high):
            yield loc + ("min",), f"{label}: min {low} is later than max {high}"
        return
    for key, value in (("min", low), ("max", high)):
        if value is not None and not _is_number(value) and qtype in ("number", "rating"):
            yield loc + (key,), f"{label}: {key} must be a number (got {value!r})"
    if _is_number(low) and _is_number(high) and low > high:
        yield loc + ("min",), f"{label}: min {low} is greater than max {high}"


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if value == "today":
        return date.max
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _check_rating(question: dict, loc: Loc, label: str,
                  languages: list[str]) -> Iterator[tuple[Loc, str]]:
    """A rating has 2 to 10 points; its labels name points it has, in the survey's languages."""
    points = question.get("max", 5)
    low, high = RATING_POINTS
    if not (isinstance(points, int) and not isinstance(points, bool) and low <= points <= high):
        yield loc + ("max",), (f"{label}: a rating's max is a whole number from {low} to "
                               f"{high} (got {points!r})")
        points = high
    for lang, named in _as_dict(question.get("labels")).items():
        if lang not in languages:
            yield (loc + ("labels", lang),
                   f"{label} labels: language '{lang}' is not in the survey's languages")
        for point in _as_dict(named):
            if not (isinstance(point, int) and 1 <= point <= points):
                yield (loc + ("labels", lang),
                       f"{label} labels ({lang}): {point!r} is not a point of the rating "
                       f"(1 to {points})")


def _check_piped(texts: Any, loc: Loc, what: str,
                 earlier: set[str]) -> Iterator[tuple[Loc, str]]:
    """`{question_id}` in a text pipes in an earlier answer: the id must be one."""
    for lang, text in _as_dict(texts).items():
        for name in piped_names(str(text)):
            if name not in earlier:
                yield loc + (lang,), (f"{what} ({lang}): {{{name}}} is not an earlier question "
                                      "(a text can only pipe in answers given before it; "
                                      "write {{ and }} for braces)")


def _check_words_apart(question: dict, loc: Loc, label: str) -> Iterator[tuple[Loc, str]]:
    """A word (label or alias, read as typed) may stand for one choice only, in a language."""
    owner: dict[tuple[str, str], str] = {}
    for index, choice in enumerate(_as_list(question.get("choices"))):
        if not isinstance(choice, dict):
            continue
        value = str(choice.get("value"))
        texts = choice["text"] if isinstance(choice.get("text"), dict) else {}
        aliases = choice["aliases"] if isinstance(choice.get("aliases"), dict) else {}
        words = [(str(lang), str(text)) for lang, text in texts.items()]
        words += [(str(lang), str(word)) for lang, listed in aliases.items()
                  for word in _as_list(listed)]
        for lang, word in words:
            key = (lang, bare_word(word))
            if owner.setdefault(key, value) != value:
                yield (loc + ("choices", index)), (
                    f"{label}: '{word}' ({lang}) stands for both choice '{owner[key]}' and "
                    f"choice '{value}'")


def _check_summary(item: dict, loc: Loc, languages: list[str], questions: list,
                   types: dict[str, str]) -> Iterator[tuple[Loc, str]]:
    qid = item.get("question")
    qtype = types.get(qid) if isinstance(qid, str) else None
    if isinstance(qid, str) and qtype is None:
        yield loc + ("question",), f"summary names unknown question '{qid}'"
    elif qtype is not None and qtype not in SUMMARY_FIELDS:
        yield loc + ("question",), f"summary of question '{qid}': {qtype} answers cannot be counted"
    elif qtype in ("choice", "multi", "yesno"):
        question = next(q for q in questions if isinstance(q, dict) and q.get("id") == qid)
        allowed = ["yes", "no"] if qtype == "yesno" else [
            str(c.get("value")) for c in _as_list(question.get("choices")) if isinstance(c, dict)]
        if item.get("value") is None:
            yield loc, f"summary of question '{qid}' needs a 'value' (one of: {', '.join(allowed)})"
        elif str(item["value"]) not in allowed:
            yield loc + ("value",), (f"summary value '{item['value']}' is not a choice of "
                                     f"'{qid}' (one of: {', '.join(allowed)})")
    if "text" in item:
        yield from _check_translations(item["text"], loc + ("text",), languages, "summary text")
        fields = SUMMARY_FIELDS.get(qtype or "", set().union(*SUMMARY_FIELDS.values()))
        for lang, template in _as_dict(item["text"]).items():
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(str(template)) if name}
            except ValueError as error:
                yield loc + ("text", lang), f"summary text ({lang}): {error}"
                continue
            for name in sorted(names - fields):
                yield loc + ("text", lang), (f"summary text ({lang}): unknown placeholder "
                                             f"{{{name}}} (use {', '.join(sorted(fields))})")


def _check_translations(texts: Any, loc: Loc, languages: list[str],
                        what: str) -> Iterator[tuple[Loc, str]]:
    if not isinstance(texts, dict):
        return
    for lang in languages:
        if lang not in texts:
            yield loc, f"{what}: missing translation for '{lang}'"
    for lang in texts:
        if languages and lang not in languages:
            yield loc + (lang,), f"{what}: language '{lang}' is not in the survey's languages"


def _position(raw: Any, loc: Loc, key: bool = False) -> tuple[int, int]:
    """1-based line and column of the node at `loc` (of its key when `key` is true)."""
    node, line, column = raw, 0, 0
    if hasattr(raw, "lc"):
        line, column = raw.lc.line, raw.lc.col
    for part in loc:
        try:
            if isinstance(node, dict) and part in node:
                lc = cast(Any, node).lc  # ruamel's CommentedMap, typed as the dict it is
                line, column = lc.key(part) if key else lc.value(part)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line, column = cast(Any, node).lc.item(part)
                node = node[part]
            else:
                break
        except (AttributeError, KeyError, TypeError):
            break
    return line + 1, column + 1


def _describe(raw: Any, loc: Loc) -> str:
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        questions = _as_list(raw.get("questions"))
        if loc[1] < len(questions) and isinstance(questions[loc[1]], dict):
            qid = questions[loc[1]].get("id", loc[1])
            rest = _dotted(loc[2:])
            return f" in question '{qid}'" + (f" at {rest}" if rest else "")
    return f" in {_dotted(loc)}" if loc else ""


def _dotted(loc: Loc) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
