"""Piping: `{question_id}` in a later text is that answer as the person reads it (pure).

A choice is its label in their language, a multi answer its labels, yes and no heard's words
for them, a number (rating, calculation) in their digits, a date as they write it (surveys.dates:
"25/12/2024", "২৫/১২/২০২৪", in their order), a text as typed; a skipped or missing answer is
nothing. `{{` and `}}` are braces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from surveys.dates import written
from surveys.i18n import translator
from surveys.model import PIPED, Survey


@dataclass(frozen=True)
class Answered:
    """A session's answers so far, for the texts that pipe them in."""

    survey: Survey
    answers: Mapping[str, Any]
    lang: str

    def pipe(self, text: str) -> str:
        """`text` with each `{question_id}` replaced by that answer as read."""
        if "{" not in text and "}" not in text:
            return text
        return PIPED.sub(self._replacement, text)

    def _replacement(self, found: Any) -> str:
        name = found.group(1)
        if name is None:
            return found.group()[0]  # `{{` is `{`, `}}` is `}`
        if name not in self.survey.question_index:
            return found.group()  # validation refuses it; a stored definition keeps its text
        return self.shown(name)

    def shown(self, question_id: str) -> str:
        """One answer as the person reads it."""
        value = self.answers.get(question_id)
        if value is None:
            return ""
        question = self.survey.question(question_id)
        labels = {choice.value: choice.text.get(self.lang, choice.value)
                  for choice in question.choices or []}
        if question.type == "yesno":
            words = translator(self.survey.words_for(self.lang))
            return words.gettext("Yes") if value == "yes" else words.gettext("No")
        if isinstance(value, list):
            return ", ".join(labels.get(str(item), str(item)) for item in value)
        if question.type == "date" and isinstance(value, str):
            try:
                return written(date.fromisoformat(value), self.lang)
            except ValueError:
                return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return translator(self.lang).number(value)
        return labels.get(str(value), str(value))
