"""A survey's spoken prompts on a call, per language: recorded (played) or said by a voice.

Twilio has no voice for some languages (Swahili, Nepali, Chichewa): there every prompt a call
says must be recorded (`audio:` in the survey) or the call is refused. A language with a voice
(HEARD_VOICE_LANGUAGES) can always be called: a prompt without a recording is said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from surveys.engine import CONSENT
from surveys.model import Question, Recordings, SpokenText, Survey
from voice.render import Recorded

AUDIO_PATH = "/voice/audio/"


@dataclass(frozen=True)
class Prompt:
    """One thing the survey itself says on a call: a question (or note), or its intro, consent
    or closing; `name` is the question's id or that word."""

    name: str
    text: Mapping[str, str]
    audio: Recordings
    question: Question | None = None


def spoken_prompts(survey: Survey) -> list[Prompt]:
    """The survey's prompts in the order a call may say them."""

    def told(key: SpokenText) -> list[Prompt]:
        text = getattr(survey, key)
        return [Prompt(key, text, survey.audio.get(key, {}))] if text is not None else []

    questions = [Prompt(question.id, question.text, question.audio, question)
                 for question in survey.questions if question.said]
    return told("intro") + told("consent") + questions + told("closing")


def audio_url(base_url: str, sha256: str) -> str:
    """Where Twilio fetches a recording (voice.audio serves it)."""
    return f"{base_url.rstrip('/')}{AUDIO_PATH}{sha256}"


def recorded(survey: Survey, lang: str, base_url: str) -> Recorded:
    """The survey's recordings in `lang`, as render plays them."""
    questions: dict[str, str] = {}
    messages: dict[str, str] = {}
    for prompt in spoken_prompts(survey):
        recording = prompt.audio.get(lang)
        if recording is None or recording.sha256 is None:
            continue
        url = audio_url(base_url, recording.sha256)
        if prompt.question is not None:
            questions[prompt.question.id] = url
        elif prompt.name == "consent":
            questions[CONSENT] = url
        else:
            messages[prompt.text[lang]] = url
    return Recorded(questions, messages)


def unrecorded(survey: Survey, lang: str) -> list[str]:
    """The names of the prompts that have no recording in `lang`."""
    return [prompt.name for prompt in spoken_prompts(survey)
            if prompt.audio.get(lang) is None or prompt.audio[lang].sha256 is None]


def callable_in(survey: Survey | None, lang: str, voices: Mapping[str, str],
                pack_complete: bool = False) -> bool:
    """Whether a call in `lang` can say everything: a voice says what is not recorded; without
    one, heard's own phrases must be recorded (`pack_complete`, voice.pack) and so must every
    prompt of the survey (None: no survey yet, only heard's phrases)."""
    return lang in voices or (pack_complete and (survey is None or not unrecorded(survey, lang)))
