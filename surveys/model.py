"""The survey format as pydantic models: what a loaded, valid survey looks like.

Shape checks (types, unknown keys, required keys) live here; checks across fields (translations,
skip-logic references, min <= max) live in :mod:`surveys.validation`, which reports every
problem of a file at once with its line and column.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import Annotated, Literal

from anyascii import anyascii
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StringConstraints

from surveys.conditions import Condition, parse_calculation, parse_condition
from surveys.i18n import canonical, catalog_language
from surveys.media import Media
from surveys.words import bare_word

QuestionType = Literal["choice", "multi", "number", "text", "yesno", "note", "date", "rating",
                       "calculate"]
QUESTION_TYPES: tuple[str, ...] = QuestionType.__args__  # type: ignore[attr-defined]

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
SurveyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z][A-Za-z]{1,3})?$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
LocalText = dict[str, NonEmpty]
"""Text per language code: every language the survey lists must be present."""
SourceHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]
"""The first 12 hex digits of the sha256 of a text a translation was made from."""

PIPED = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""`{question_id}` in a text is that earlier answer as read; `{{` and `}}` are braces."""
RATING_POINTS = 5  # a rating's `max` when it has none


def piped_names(text: str) -> list[str]:
    """The question ids a text pipes in, in order."""
    return [found.group(1) for found in PIPED.finditer(text) if found.group(1)]


def _iso_day(value: object) -> object:
    """A YAML date (`min: 2024-01-01` unquoted) as the ISO text the format keeps."""
    return value.isoformat() if isinstance(value, date) else value


DayBound = Annotated[str, StringConstraints(pattern=r"^(\d{4}-\d{2}-\d{2}|today)$")]
"""A date question's `min`/`max`: an ISO day or `today` (the day the answer comes)."""
Bound = Annotated[float | DayBound | None, BeforeValidator(_iso_day)]
TagValue = str | int | float | bool


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Recording(Strict):
    """A recorded prompt (surveys.media): its file beside the survey's YAML and, once read, the
    sha256 of its bytes (kept in survey_media, served at /voice/audio/<sha256>) and how long it
    plays. In YAML just the file name: `audio: {bn: q1_bn.mp3}`."""

    file: NonEmpty
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    seconds: float | None = None
    _media: Media | None = PrivateAttr(default=None)  # as read with the YAML, until stored

    @property
    def media(self) -> Media | None:
        """The bytes read with the YAML (None in a definition loaded back from the database)."""
        return self._media

    def read_as(self, media: Media) -> None:
        """Its file read as `media`: the sha256 and seconds go in the definition."""
        self.sha256, self.seconds, self._media = media.sha256, media.seconds, media


def _file_name_alone(value: object) -> object:
    return {"file": value} if isinstance(value, str) else value


Recordings = dict[LanguageCode, Annotated[Recording, BeforeValidator(_file_name_alone)]]
"""A prompt's recording per language: as heard on a call it replaces the text (and for a
question, how to answer it: the recording says "press 1 for ...")."""
SpokenText = Literal["intro", "consent", "closing"]  # the survey's texts besides its questions
SPOKEN_TEXTS: tuple[str, ...] = SpokenText.__args__  # type: ignore[attr-defined]


Shorts = dict[LanguageCode, NonEmpty]
"""A shorter text per language (any of the survey's) for a small screen: a USSD screen shows
it instead of the text (ussd.screens)."""


class Choice(Strict):
    value: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")]
    text: LocalText
    # other words people use for this choice, per language ("*": any): romanised forms,
    # local names ('nari', 'mahila' for a choice labelled নারী)
    aliases: dict[str, list[NonEmpty]] = {}
    exclusive: bool = False  # a multi choice never chosen with others ("None of these")
    tags: dict[Identifier, TagValue] = {}  # what a choice_filter reads as choice.<tag>
    short: Shorts = {}


class Question(Strict):
    id: Identifier
    type: QuestionType
    text: LocalText = {}  # required but for calculate (validation says so, naming the question)
    hint: LocalText | None = None  # said after the text: how to answer, what counts
    short: Shorts = {}
    choices: list[Choice] | None = None
    when: str | None = None
    constraint: str | None = None  # an answer is taken only if it holds (`answer` is it)
    constraint_message: LocalText | None = None
    choice_filter: str | None = None  # a choice is offered only if it holds
    calculate: str | None = None  # a calculate question's arithmetic
    optional: bool = False
    profile: bool = False
    sensitive: bool = False  # a higher k, never on public pages, never 0 % or 100 % of a group
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    on_max_attempts: Literal["skip", "end"] = "skip"
    min: Bound = None  # a number's, or a date's (ISO or `today`)
    max: Bound = None  # a number's, a date's, or a rating's points (2..10, default 5)
    decimal: bool = False
    max_length: Annotated[int, Field(ge=1, le=10_000)] | None = None
    labels: dict[LanguageCode, dict[int, NonEmpty]] = {}  # a rating's words for its points
    audio: Recordings = {}

    @cached_property
    def condition(self) -> Condition | None:
        return parse_condition(self.when) if self.when else None

    @cached_property
    def accepts(self) -> Condition | None:
        """The constraint an answer must meet, if any."""
        return parse_condition(self.constraint) if self.constraint else None

    @cached_property
    def offers(self) -> Condition | None:
        """The choice_filter a choice must meet to be offered, if any."""
        return parse_condition(self.choice_filter, tags=True) if self.choice_filter else None

    @cached_property
    def calculation(self) -> Condition | None:
        return parse_calculation(self.calculate) if self.calculate else None

    @property
    def answerable(self) -> bool:
        """It has an answer (a calculate's is worked out, never asked)."""
        return self.type != "note"

    @property
    def asked(self) -> bool:
        """The person answers it (notes are only said, calculations never)."""
        return self.type not in ("note", "calculate")

    @property
    def said(self) -> bool:
        """It is sent or said to the person (a calculation is not)."""
        return self.type != "calculate"

    @property
    def low(self) -> float | None:
        """A number question's minimum (a date's bounds are days, not numbers)."""
        return None if isinstance(self.min, str) else self.min

    @property
    def high(self) -> float | None:
        return None if isinstance(self.max, str) else self.max

    @property
    def points(self) -> int:
        """A rating's highest point."""
        return int(self.max) if isinstance(self.max, int | float) else RATING_POINTS

    @cached_property
    def piped(self) -> bool:
        """Its texts pipe earlier answers in, or its choices depend on them: asked afresh."""
        texts = [*self.text.values(), *(self.hint or {}).values(),
                 *(text for choice in self.choices or [] for text in choice.text.values())]
        return self.offers is not None or any(piped_names(text) for text in texts)

    @cached_property
    def memo(self) -> dict[object, object]:
        """Per-question cache for derived, immutable values (e.g. rendered replies)."""
        return {}

    @cached_property
    def choice_words(self) -> dict[str, dict[str, str]]:
        """Per language: the words a person may send, read as typed (`bare_word`) → value.

        Numbers, values, labels and aliases in every language are accepted; the contact's
        own language wins where two collide. Built once per question, not per message.
        """
        choices = self.choices or []
        shared: dict[str, str] = {}
        for choice in choices:
            for label in [*choice.text.values(), *_all_aliases(choice)]:
                shared[bare_word(label)] = choice.value
            shared[bare_word(choice.value)] = choice.value
        numbers = {str(number): choice.value for number, choice in enumerate(choices, start=1)}
        languages = {lang for choice in choices for lang in [*choice.text, *choice.aliases]}
        words = {"*": shared | numbers}
        for lang in languages - {"*"}:
            own = {bare_word(word): c.value for c in choices
                   for word in ([c.text[lang]] if lang in c.text else []) + c.aliases.get(lang, [])}
            words[lang] = shared | own | numbers
        return words

    @cached_property
    def romanised_words(self) -> dict[str, str]:
        """Labels in other scripts as people type them in Latin letters ('নারী' → 'nari'),
        where exactly one choice romanises so."""
        found: dict[str, set[str]] = {}
        for choice in self.choices or []:
            for label in choice.text.values():
                if not label.isascii():
                    found.setdefault(bare_word(anyascii(label)), set()).add(choice.value)
        return {word: values.pop() for word, values in found.items()
                if word and len(values) == 1}

    def choice_values(self) -> list[str]:
        if self.type == "yesno":
            return ["yes", "no"]
        return [choice.value for choice in self.choices or []]

    def offered(self, answers: Mapping[str, object]) -> Question:
        """The question with only the choices its choice_filter offers after `answers`,
        numbered 1..n (itself when it has no filter); kept per offer, so parsing the numbers
        and words of a filtered question costs what an unfiltered one does."""
        if self.offers is None or not self.choices:
            return self
        offers = self.offers
        kept = tuple(choice.value for choice in self.choices if offers.evaluate(
            {**answers, **{f"choice.{tag}": choice.tags.get(tag) for tag in offers.tags}}))
        key = ("offered", kept)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.model_copy(update={
                "choices": [choice for choice in self.choices if choice.value in kept],
                "choice_filter": None})
            for cached in ("memo", "choice_words", "romanised_words", "offers", "piped"):
                found.__dict__.pop(cached, None)  # model_copy shares the original's caches
        return found  # type: ignore[return-value]


def _all_aliases(choice: Choice) -> list[str]:
    return [word for words in choice.aliases.values() for word in words]


class SummaryItem(Strict):
    question: Identifier
    value: str | None = None
    text: LocalText


class Survey(Strict):
    id: SurveyId
    version: Annotated[int, Field(ge=1)] = 1
    languages: Annotated[list[LanguageCode], Field(min_length=1)]
    title: LocalText
    intro: LocalText | None = None
    closing: LocalText | None = None
    consent: LocalText | None = None
    questions: Annotated[list[Question], Field(min_length=1)]
    summary: list[SummaryItem] = []
    # recordings of the survey's other spoken texts: {intro: {sw: intro_sw.mp3}, ...}
    audio: dict[SpokenText, Recordings] = {}
    # heard's own messages (re-prompts, HELP, menus) for a survey language heard has no
    # catalog for: the survey's texts are in that language, these are in this one
    system_language: LanguageCode | None = None
    # what each translation was made from (surveys.translations): per language, text id →
    # SourceHash; a translation whose source text has changed since is stale
    translated_from: dict[LanguageCode, dict[str, SourceHash]] = {}

    def recordings(self) -> list[Recording]:
        """Every recording the survey plays: of its texts (intro, consent, closing), then of its
        questions."""
        return [recording for by_lang in [*self.audio.values(),
                                          *(question.audio for question in self.questions)]
                for recording in by_lang.values()]

    def words_for(self, lang: str) -> str:
        """The language heard's own messages take in a session in `lang`."""
        if catalog_language(lang) is not None:
            return lang
        return self.system_language or "en"

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @cached_property
    def question_index(self) -> dict[str, int]:
        return {question.id: index for index, question in enumerate(self.questions)}

    def question(self, question_id: str) -> Question:
        return self.questions[self.question_index[question_id]]

    def language_for(self, wanted: str | None) -> str:
        """The survey language closest to `wanted` ('bn_IN' → 'bn'), else the default."""
        if wanted in self.languages:
            return wanted
        if wanted:
            wanted = canonical(wanted)  # 'BN', 'bn-BD' as imports and apps spell them
            for candidate in (wanted, wanted.split("_")[0]):
                if candidate in self.languages:
                    return candidate
        return self.default_language

    @cached_property
    def content_hash(self) -> str:
        """Stable hash of the definition: two uploads with the same content share it."""
        canonical = json.dumps(_as_before(self.model_dump(mode="json")), sort_keys=True,
                               ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _as_before(definition: dict) -> dict:
    """A definition without the keys added since hashes were first stored, where they hold
    their defaults: a survey that uses none of them keeps its hash, and so its version."""
    if definition.get("system_language") is None:
        definition.pop("system_language", None)
    for key in ("audio", "translated_from"):
        if not definition.get(key):
            definition.pop(key, None)
    for question in definition.get("questions") or []:
        for key in ("audio", "hint", "constraint", "constraint_message", "choice_filter",
                    "calculate", "labels", "short"):
            if not question.get(key):
                question.pop(key, None)
        for choice in question.get("choices") or []:
            for key in ("aliases", "exclusive", "tags", "short"):
                if not choice.get(key):
                    choice.pop(key, None)
    return definition
