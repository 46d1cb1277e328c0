"""How long one person's call takes, estimated before a round goes out (calls are paid by the
minute): every prompt once, recorded ones by their duration, said ones by their words.

An upper bound of the usual call: every question is counted (skip logic may leave some out),
and no question is asked twice.
"""

from __future__ import annotations

from surveys.engine import Reply, question_reply
from surveys.i18n import Translator, translator
from surveys.model import Survey
from voice import render
from voice.prompts import spoken_prompts

WORDS_PER_MINUTE = 150  # a text-to-speech voice at its usual rate
# scripts written without spaces (Thai, Chinese, Burmese...): characters said in a word's time
CHARACTERS_PER_WORD = 2.5
LONGEST_WORD = 20  # a "word" longer than this is a run of such a script
ANSWER_SECONDS = 4.0  # a person finding and pressing the keys of one answer


def estimated_seconds(survey: Survey, lang: str,
                      answer_seconds: float = ANSWER_SECONDS) -> float:
    """Seconds of a call in `lang` that hears every prompt once and answers every question."""
    t = translator(survey.words_for(lang))
    seconds = said_seconds(render.keys_greeting(t))
    for prompt in spoken_prompts(survey):
        recording = prompt.audio.get(lang)
        if prompt.question is not None:
            reply = (question_reply(prompt.question, lang, survey.words_for(lang))
                     if prompt.question.answerable
                     else Reply(prompt.text[lang], question_id=prompt.question.id))
            seconds += seconds_to_hear(reply, t, survey, lang, answer_seconds)
        elif recording is not None and recording.seconds is not None:
            seconds += recording.seconds
        else:
            seconds += said_seconds(prompt.text[lang])
    if survey.closing is None:  # heard's thanks
        seconds += said_seconds(t.gettext("Thank you! Your answers have been recorded."))
    return seconds


def seconds_to_hear(reply: Reply, t: Translator, survey: Survey | None = None,
                    lang: str | None = None, answer_seconds: float = ANSWER_SECONDS) -> float:
    """About how long a call takes over one reply (the launch plan's and `round status`'
    minutes): its question's recording in `lang` or its sentences said, and for a question
    the person's answer."""
    question = (survey.question(reply.question_id) if survey is not None and reply.question_id
                in survey.question_index else None)
    recording = question.audio.get(lang) if question is not None and lang else None
    heard = (recording.seconds if recording is not None and recording.seconds is not None
             else sum(map(said_seconds, render.sentences(reply, t))))
    return heard + (answer_seconds if reply.kind in render.ASKING else 0)


def said_seconds(text: str) -> float:
    """How long a voice takes to say `text`: its words at WORDS_PER_MINUTE, a run of a script
    without spaces by its characters."""
    words = sum(max(1.0, len(word) / CHARACTERS_PER_WORD) if len(word) > LONGEST_WORD else 1.0
                for word in text.split())
    return words * 60 / WORDS_PER_MINUTE
