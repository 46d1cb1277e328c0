"""A round's `summary:` sentences in one language, packed into as few messages as fit.

Figures are formatted by Babel for the language and written in its own digits (Babel formats
every locale with ASCII digits; Bengali readers get ০-৯). A sentence any of whose figures is
suppressed is replaced as a whole, so a hidden figure never reaches anybody. On SMS, sentences
are joined into messages of at most two segments (a single sentence longer than that, e.g. a
long Bengali one in UCS-2, goes alone: the language does not allow better).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from sms.segments import count_segments
from surveys.i18n import Translator, translator
from surveys.model import SummaryItem
from surveys.summaries import COMMUNITY, QuestionSummary, RoundSummary
from surveys.suppression import TOTAL

MAX_SEGMENTS = 2
MAX_CHAT_TEXT = 4096  # Telegram's limit for one message


@dataclass(frozen=True)
class Sentence:
    text: str
    question_id: str
    shown: bool  # False: replaced, a figure it needs is suppressed
    chart: dict[str, Any] | None = None


@dataclass(frozen=True)
class Message:
    text: str
    chart: dict[str, Any] | None = None  # a bar chart to send as an image, `text` its caption


def messages(summary: RoundSummary, lang: str, charts: bool = False,
             max_segments: int | None = MAX_SEGMENTS) -> list[Message]:
    """What one contact receives: a heading, then the sentences (SMS: packed into segments;
    with `charts`, a sentence with a chart becomes its own captioned image)."""
    lang = summary.survey.language_for(lang)
    found = sentences(summary, lang)
    if not found:
        return []
    if not any(sentence.shown for sentence in found):
        found = found[:1]  # one "too few answers" says it all
    texts = [heading(summary, lang)]
    result: list[Message] = []
    for sentence in found:
        if charts and sentence.chart is not None:
            result += [Message(text) for text in pack(texts, max_segments)]
            result.append(Message(sentence.text, sentence.chart))
            texts = []
        else:
            texts.append(sentence.text)
    return result + [Message(text) for text in pack(texts, max_segments)]


def heading(summary: RoundSummary, lang: str) -> str:
    """The title, and whose results these are: one community's, or several together."""
    title = summary.survey.title.get(lang) or summary.survey.title[summary.survey.default_language]
    t = translator(lang)
    if summary.community:
        return t.gettext('Results of "{title}" in {community}:', title=title,
                         community=summary.community)
    if COMMUNITY in summary.dimensions:
        return t.gettext('Results of "{title}", all communities together:', title=title)
    return t.gettext('Results of "{title}":', title=title)


def sentences(summary: RoundSummary, lang: str) -> list[Sentence]:
    """Every `summary:` item of the survey rendered for `lang`, suppressed ones replaced."""
    t = translator(lang)
    rendered = []
    for item in summary.survey.summary:
        question = summary.questions.get(item.question)
        figures = _figures(question, item, t, lang) if question else None
        template = item.text.get(lang) or item.text[summary.survey.default_language]
        needed = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        if figures is None or not needed <= figures.keys():
            text = t.gettext("Too few answers to share this result.")
            rendered.append(Sentence(text, item.question, shown=False))
            continue
        chart = chart_spec(question, lang, item.value) if question else None
        rendered.append(Sentence(template.format_map(figures), item.question, True, chart))
    return rendered


def pack(texts: list[str], max_segments: int | None = MAX_SEGMENTS) -> list[str]:
    """Join texts, in order, into as few messages as stay within `max_segments` SMS segments
    (None: no SMS limit, only the chat limit)."""
    packed: list[str] = []
    for text in texts:
        joined = f"{packed[-1]}\n{text}" if packed else text
        if packed and _fits(joined, max_segments):
            packed[-1] = joined
        else:
            packed.append(text)
    return packed


def chart_spec(question: QuestionSummary, lang: str, highlight: str | None = None
               ) -> dict[str, Any] | None:
    """A bar per shown answer of a choice, multi or yes/no question, as shares of respondents.

    Hidden cells are left out (with a note), never drawn.
    """
    table = question.overall
    respondents = table.count()
    if not table.values or not respondents:
        return None
    t = translator(lang)
    labels = _labels(question, t, lang)
    bars = []
    for value in table.values:
        count = table.count(TOTAL, value)
        if count is not None:
            ratio = count / respondents
            bars.append({"value": value, "label": labels.get(value, value), "ratio": ratio,
                         "text": t.percent(ratio),
                         "highlight": value == highlight})
    spec: dict[str, Any] = {"title": question.question.text.get(lang, question.question.id),
                            "bars": bars, "lang": lang}  # shaped by its language's rules
    if len(bars) < len(table.values):
        spec["note"] = t.gettext("Answers given by too few people are not shown.")
    return spec


def _figures(question: QuestionSummary, item: SummaryItem, t: Translator, lang: str
             ) -> dict[str, str] | None:
    """The placeholders this item may use, formatted; only figures that may be published."""
    table = question.overall
    count = table.count()
    if not count:
        return None
    figures = {"count": t.number(count)}
    if question.question.type == "number":
        stats = table.stat()
        if stats is None:
            return None
        figures |= {"mean": t.number(round(stats.mean, 1)),
                    "median": t.number(_whole(stats.median))}
        figures |= {name: t.number(_whole(value)) for name, value in
                    (("min", stats.min), ("max", stats.max)) if value is not None}
    elif item.value is not None:
        matching = table.count(TOTAL, item.value)
        if matching is not None:
            figures |= {"matching": t.number(matching), "percent": t.percent(matching / count)}
    return figures


def _whole(value: float) -> float:
    return int(value) if float(value).is_integer() else round(value, 1)


def _labels(question: QuestionSummary, t: Translator, lang: str) -> dict[str, str]:
    if question.question.type == "yesno":
        return {"yes": t.gettext("Yes"), "no": t.gettext("No")}
    return {choice.value: choice.text.get(lang, choice.value)
            for choice in question.question.choices or []}


def _fits(text: str, max_segments: int | None) -> bool:
    if max_segments is None:
        return len(text) <= MAX_CHAT_TEXT
    return count_segments(text).count <= max_segments
