"""Engine replies as TwiML a caller hears and answers with their phone's keys (pure).

SMS numbers a choice "1 Tap at home"; a call says "Press 1 for Tap at home." Every sentence is
a `<Say>` in the language's configured voice, but a prompt the survey recorded in the call's
language (`Recorded`) is a `<Play>` of its recording, which says all of it (a question's text
and how to answer it); while a question is open they are inside a `<Gather input="dtmf">` whose
action posts the keys back to the webhook (the next step), and when nothing is asked any more
the call ends with `<Hangup/>`. A question in words is answered aloud: its sentences, then a
`<Record>` (after a beep, up to # or a pause) posted to the next step with `record=1`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from twilio.twiml.voice_response import Gather, VoiceResponse

from surveys.engine import Reply
from surveys.i18n import Translator

ASKING = ("question", "reprompt", "menu")
WAIT_SECONDS = 10  # for the first key; people who cannot read may need a moment
ONE_KEY = 9  # choices up to 9 are one key each; more are typed, then #
MAX_RECORDING_SECONDS = 120  # a spoken answer, at most
RECORDING_PAUSE_SECONDS = 5  # of silence, and the answer is over


@dataclass(frozen=True)
class Voice:
    """How heard's words are heard in a language: `<Say>` with its BCP-47 tag and, optionally,
    Twilio's voice name; a phrase recorded in its prompt pack (voice.pack: words → URL) is
    played instead. No tag: Twilio has no voice for it, and only what is recorded is heard."""

    tag: str | None
    name: str | None = None
    phrases: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def configured(cls, setting: str | None, phrases: Mapping[str, str] | None = None) -> Voice:
        """From HEARD_VOICE_LANGUAGES' value for a language ('bn-IN' or 'bn-IN:Google....';
        None: it has none) and its recorded phrases."""
        tag, _, name = (setting or "").partition(":")
        return cls(tag or None, name or None, phrases or {})


@dataclass(frozen=True)
class Played:
    """A recording played where a sentence would be said: its URL (voice.prompts.audio_url)."""

    url: str


Line = str | Played  # said (<Say>) or played (<Play>)


@dataclass(frozen=True)
class Recorded:
    """A survey's recorded prompts in the call's language, as URLs: a question's (its text and
    how to answer it; a note's; consent's) by its id, a message of the survey's own (intro,
    closing) by its text."""

    questions: Mapping[str, str] = field(default_factory=dict)
    messages: Mapping[str, str] = field(default_factory=dict)

    def url(self, reply: Reply, t: Translator) -> str | None:
        """The recording that says `reply`, if there is one."""
        if reply.question_id is not None:
            return self.questions.get(reply.question_id)
        if not self.messages:
            return None
        said = _as_said("\n".join(sentences(reply, t)))
        return next((url for text, url in self.messages.items() if _as_said(text) == said),
                    None)


NOTHING_RECORDED = Recorded()


def lines(reply: Reply, t: Translator, recorded: Recorded = NOTHING_RECORDED,
          spoken: bool = False, voiced: bool = True) -> list[Line]:
    """What is heard for one reply: its recording where the survey has one (after heard's words
    of a reprompt: why it is asked again; without a voice, which could not say its numbers, a
    recorded phrase saying so), else its sentences (`spoken`: answered aloud)."""
    url = recorded.url(reply, t)
    if url is None:
        return list(sentences(reply, t, spoken))
    if reply.kind != "reprompt":
        return [Played(url)]
    why = sentences(Reply(reply.text), t) if voiced else [t.gettext(
        "Sorry, that answer could not be taken. Here is the question again.")]
    return [*why, Played(url)]


def _as_said(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def sentences(reply: Reply, t: Translator, spoken: bool = False) -> list[str]:
    """What is said for one reply: its text (without what only makes sense in writing), then
    how to answer it: with the keys, or (`spoken`) aloud."""
    sms_only = {t.gettext("Reply LANG to change the language.")}  # no LANG key on a call
    said = [line for line in reply.text.splitlines() if line.strip() and line not in sms_only]
    if reply.kind not in ASKING:
        return said
    if spoken:
        return said + [t.gettext("Speak your answer after the tone. Press the hash key when "
                                 "you have finished.")]
    if reply.scale:  # a rating: its range, then the words of the points that have some
        points = reply.choices
        said.append(t.gettext("Choose a number from {low} to {high}.", low=points[0].number,
                              high=points[-1].number))
        points = tuple(point for point in points if point.label != point.mark)
    else:
        points = reply.choices
    said += [t.gettext("Press {number} for {label}.", number=choice.number, label=choice.label)
             for choice in points]
    if reply.multi:
        said.append(t.gettext("Press the numbers of all that apply, then the hash key."))
    elif not reply.choices or len(reply.choices) > ONE_KEY:
        said.append(t.gettext("Type your answer with the number keys, then press the hash key."))
    if reply.decimal:
        said.append(t.gettext("Press star for the decimal point."))
    return said


def keys_greeting(t: Translator) -> str:
    """Told once, as a call begins: how to answer, and the key of the menu."""
    return t.gettext("Answer with your phone's keys. Press star at any time to hear the "
                     "question again, go back, get help or stop these calls.")


def conversation(replies: list[Reply], t: Translator, voice: Voice, action: str,
                 greeting: bool = False, silence: str | None = None,
                 recorded: Recorded = NOTHING_RECORDED, in_words: bool = False) -> str:
    """The replies said (or played, where `recorded`); the last one, if it asks something,
    waits for keys posted to `action` (with `keys=each` for a multiple choice, `keys=decimal`
    for a number with a fraction) or, `in_words`, records the answer, and where nothing comes
    goes to `silence` (if given); otherwise the call ends."""
    asking = replies[-1] if replies and replies[-1].kind in ASKING else None
    voiced = voice.tag is not None
    said = [line for reply in replies
            for line in lines(reply, t, recorded, in_words and reply is asking, voiced)]
    if greeting and asking is not None:  # before the question's own sentences
        said.insert(len(said) - len(lines(asking, t, recorded, in_words, voiced)),
                    keys_greeting(t))
    if asking is None:
        return spoken(said, voice)
    if in_words:
        return recording(said, voice, action, silence)
    one_key = bool(asking.choices) and not asking.multi and len(asking.choices) <= ONE_KEY
    keys = "&keys=each" if asking.multi else "&keys=decimal" if asking.decimal else ""
    return gathering(said, voice, action + keys, one_key, silence)


def gathering(said: list[Line], voice: Voice, action: str, one_key: bool = False,
              silence: str | None = None) -> str:
    """`said` inside a `<Gather>` of keys (one key, or keys up to #) posted to `action`; when
    no key comes, a `<Redirect>` to `silence` (if given), else the call ends."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=action, method="POST", timeout=WAIT_SECONDS,
                             finish_on_key="#", num_digits=1 if one_key else None)
    for line in said:
        _heard(gather, line, voice)
    if silence is not None:
        response.redirect(silence, method="POST")
    return str(response)


def recording(said: list[Line], voice: Voice, action: str, silence: str | None = None) -> str:
    """`said`, then the answer recorded after a beep (until #, a pause or two minutes) and
    posted to `action` with `record=1`; when nothing is recorded, a `<Redirect>` to `silence`
    (if given; else this was the last chance, `last=1`, and the call ends)."""
    response = VoiceResponse()
    for line in said:
        _heard(response, line, voice)
    response.record(action=action + "&record=1" + ("" if silence is not None else "&last=1"),
                    method="POST", max_length=MAX_RECORDING_SECONDS, finish_on_key="#",
                    play_beep=True, timeout=RECORDING_PAUSE_SECONDS, trim="trim-silence")
    if silence is not None:
        response.redirect(silence, method="POST")
    return str(response)


def spoken(said: list[Line], voice: Voice | None) -> str:
    """`said`, then the call ends (a voice of None: Twilio's default voice)."""
    response = VoiceResponse()
    for line in said:
        _heard(response, line, voice)
    response.hangup()
    return str(response)


def rejected() -> str:
    """The call is not answered (it costs the caller nothing): heard calls them back."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)


def _heard(parent: VoiceResponse | Gather, line: Line, voice: Voice | None) -> None:
    """One line into `parent`: a `<Play>` of a recording (the survey's, or a phrase of the
    voice's pack), else a `<Say>` in `voice` (Twilio's default where there is none: never
    silence)."""
    played = line.url if isinstance(line, Played) else voice and voice.phrases.get(line)
    if played:
        parent.play(played)
    elif voice is None or voice.tag is None:
        parent.say(str(line))
    else:
        parent.say(str(line), language=voice.tag, voice=voice.name)
