"""What each column of an export means: every question's texts and choices per language.

One place for it: `GET /api/v1/surveys/{id}/versions/{v}`, the `codebook` sheet of an xlsx
export, the `.codebook.csv` / `.codebook.json` beside a csv or jsonl export, and the Stata and
SPSS labels (surveys.stats_labels) are all made from `codebook()`. Several versions of a survey
make one codebook the way they make one export: the newest version's questions in its order,
then the questions only older versions asked; a question's texts are from the newest version
that asked it, its choices the union of every version's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pydantic import BaseModel, Field

from surveys.i18n import translator
from surveys.model import Question, Survey, TagValue

METADATA_TYPES = {"_session": "integer", "_uuid": "text", "_contact": "text",
                  "_address": "text", "_channel": "text", "_language": "text",
                  "_community": "text", "_round": "integer", "_survey_version": "integer",
                  "_status": "text", "_started_at": "datetime", "_completed_at": "datetime"}
"""Every metadata column of an export and the type of its values (`_profile.*` are text)."""


class CodedChoice(BaseModel):
    value: str = Field(description="As exported (without --labels)")
    label: dict[str, str] = Field(description="Its text per language")
    exclusive: bool = False
    tags: dict[str, TagValue] = Field(default={}, description="What a choice_filter reads")


class CodedQuestion(BaseModel):
    id: str
    type: str
    text: dict[str, str] = Field(description="The question per language")
    hint: dict[str, str] = {}
    choices: list[CodedChoice] = Field(
        [], description="Choices; yes/no's two; a rating's labelled points")
    when: str | None = None
    constraint: str | None = None
    constraint_message: dict[str, str] = {}
    choice_filter: str | None = None
    calculate: str | None = None
    min: float | str | None = None
    max: float | str | None = None
    optional: bool = False
    profile: bool = False
    sensitive: bool = False
    version: int = Field(description="The newest survey version that asked it: its texts")
    versions: list[int] = Field(description="Every survey version that asked it")

    @property
    def coded(self) -> bool:
        """Its values are codes the choices name (a multi's are several in one cell)."""
        return self.type in ("choice", "multi", "yesno", "rating") and bool(self.choices)

    def labels_in(self, lang: str) -> dict[str, str]:
        """value → its label in `lang`, for the choices that have one."""
        return {choice.value: choice.label[lang] for choice in self.choices
                if lang in choice.label}


class Codebook(BaseModel):
    survey: str
    versions: list[int] = Field(description="The survey versions it describes, newest first")
    languages: list[str]
    title: dict[str, str]
    questions: list[CodedQuestion] = Field(description="Answerable questions (notes have no "
                                                       "column), in export order")
    columns: list[str] = Field(description="The export's columns (here, those of the questions: "
                                           "an export adds its metadata first)")

    def question(self, question_id: str) -> CodedQuestion | None:
        return next((found for found in self.questions if found.id == question_id), None)


def codebook(surveys: list[Survey]) -> Codebook:
    """The codebook of `surveys`, versions of one survey given newest first."""
    found: dict[str, list[tuple[int, Question]]] = {}
    for survey in surveys:
        for question in survey.questions:
            if question.answerable:
                found.setdefault(question.id, []).append((survey.version, question))
    languages = list(dict.fromkeys(lang for survey in surveys for lang in survey.languages))
    newest = surveys[0]
    questions = [_coded(asked, surveys) for asked in found.values()]
    return Codebook(survey=newest.id, versions=[survey.version for survey in surveys],
                    languages=languages, title=newest.title, questions=questions,
                    columns=[name for question in questions for name in columns_of(question)])


def columns_of(question: CodedQuestion) -> list[str]:
    """A question's export columns: its own, and a multi's 0/1 column per choice (ODK's and
    Kobo's `question/choice`)."""
    if question.type == "multi":
        return [question.id] + [f"{question.id}/{choice.value}" for choice in question.choices]
    return [question.id]


def _coded(asked: list[tuple[int, Question]], surveys: list[Survey]) -> CodedQuestion:
    version, question = asked[0]
    return CodedQuestion(
        id=question.id, type=question.type, text=question.text, hint=question.hint or {},
        choices=_choices([q for _, q in asked], surveys), when=question.when,
        constraint=question.constraint, constraint_message=question.constraint_message or {},
        choice_filter=question.choice_filter, calculate=question.calculate, min=question.min,
        max=question.max, optional=question.optional, profile=question.profile,
        sensitive=question.sensitive, version=version, versions=[v for v, _ in asked])


def _choices(versions: list[Question], surveys: list[Survey]) -> list[CodedChoice]:
    """The union of every version's choices, the newest's first and its texts winning."""
    newest = versions[0]
    if newest.type == "yesno":  # heard's own words, in each survey language
        languages = dict.fromkeys(lang for survey in surveys for lang in survey.languages)
        words = {lang: translator(surveys[0].words_for(lang)) for lang in languages}
        return [CodedChoice(value=value, label={lang: t.gettext(text)
                                                for lang, t in words.items()})
                for value, text in (("yes", "Yes"), ("no", "No"))]
    if newest.type == "rating":
        points = range(1, newest.points + 1)
        labelled = [CodedChoice(value=str(point), label={
            lang: words[point] for lang, words in newest.labels.items() if point in words})
            for point in points]
        return [choice for choice in labelled if choice.label]
    merged: dict[str, CodedChoice] = {}
    for question in versions:
        for choice in question.choices or []:
            merged.setdefault(choice.value, CodedChoice(
                value=choice.value, label=choice.text, exclusive=choice.exclusive,
                tags=choice.tags))
    return list(merged.values())


def header_of(question: CodedQuestion, lang: str, choice: str | None = None) -> str | None:
    """A column's header in `lang` (`--labels`): the question's text, and for a multi's 0/1
    column 'question/choice label'; None when the survey has no text in `lang`."""
    text = question.text.get(lang)
    if text is None:
        return None
    if choice is None:
        return text
    return f"{text}/{question.labels_in(lang).get(choice, choice)}"


def table(book: Codebook, columns: Iterable[str]) -> list[list[str]]:
    """The codebook as one table (the csv file, the xlsx sheet; R's `read.csv` reads it): a
    row per export column, then under each coded question a row per choice with its `value`
    (a multi's 0/1 column is `question/value`). Metadata rows give only their type."""
    languages = book.languages
    header = ["name", "type", "value", *(f"label::{lang}" for lang in languages),
              *(f"hint::{lang}" for lang in languages), "version", "versions", "when",
              "constraint", "choice_filter", "calculate", "min", "max", "optional", "profile",
              "sensitive", "tags"]
    rows = [header]
    blank_languages = [""] * len(languages)
    for name in columns:
        question = book.question(name)
        if question is None:
            if "/" not in name:  # (a multi's 0/1 columns are its choices' rows)
                kind = "text" if name.startswith("_profile.") else METADATA_TYPES.get(name, "")
                rows.append([name, kind, "", *blank_languages, *blank_languages,
                             *[""] * 12])
            continue
        rows.append([question.id, question.type, "",
                     *(question.text.get(lang, "") for lang in languages),
                     *(question.hint.get(lang, "") for lang in languages),
                     str(question.version), " ".join(map(str, question.versions)),
                     question.when or "", question.constraint or "",
                     question.choice_filter or "", question.calculate or "",
                     _text(question.min), _text(question.max), _flag(question.optional),
                     _flag(question.profile), _flag(question.sensitive), ""])
        for choice in question.choices:
            rows.append([question.id, "", choice.value,
                         *(choice.label.get(lang, "") for lang in languages),
                         *blank_languages, *[""] * 11,
                         json.dumps(choice.tags, ensure_ascii=False) if choice.tags else ""])
    return rows


def _text(value: float | str | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _flag(value: bool) -> str:
    return "1" if value else "0"
