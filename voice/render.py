"""Engine replies as TwiML a caller hears and answers with their phone's keys (pure).

SMS numbers a choice "1 Tap at home"; a call says "Press 1 for Tap at home." Every sentence is
a `<Say>` in the language's configured voice; while a question is open they are inside a
`<Gather input="dtmf">` whose action posts the keys back to the webhook (the next step), and
when nothing is asked any more the call ends with `<Hangup/>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from surveys.engine import Reply
from surveys.i18n import Translator

ASKING = ("question", "reprompt", "menu")
WAIT_SECONDS = 10  # for the first key; people who cannot read may need a moment
ONE_KEY = 9  # choices up to 9 are one key each; more are typed, then #


@dataclass(frozen=True)
class Voice:
    """How `<Say>` speaks a language: its BCP-47 tag and, optionally, Twilio's voice name."""

    tag: str
    name: str | None = None

    @classmethod
    def configured(cls, setting: str) -> Voice:
        """From HEARD_VOICE_LANGUAGES' value for a language: 'bn-IN' or 'bn-IN:Google....'."""
        tag, _, name = setting.partition(":")
        return cls(tag, name or None)


def sentences(reply: Reply, t: Translator) -> list[str]:
    """What is said for one reply: its text (without what only makes sense in writing), then
    how to answer it with the keys."""
    sms_only = {t.gettext("Reply LANG to change the language.")}  # no LANG key on a call
    said = [line for line in reply.text.splitlines() if line.strip() and line not in sms_only]
    if reply.kind not in ASKING:
        return said
    said += [t.gettext("Press {number} for {label}.", number=choice.number, label=choice.label)
             for choice in reply.choices]
    if reply.multi:
        said.append(t.gettext("Press the numbers of all that apply, then the hash key."))
    elif not reply.choices or len(reply.choices) > ONE_KEY:
        said.append(t.gettext("Type your answer with the number keys, then press the hash key."))
    if reply.decimal:
        said.append(t.gettext("Press star for the decimal point."))
    return said


def keys_greeting(t: Translator) -> str:
    """Told once, as a call begins: how to answer, and the key that repeats a question."""
    return t.gettext("Answer with your phone's keys. Press star to hear a question again.")


def conversation(replies: list[Reply], t: Translator, voice: Voice, action: str,
                 greeting: bool = False, silence: str | None = None) -> str:
    """The replies said; the last one, if it asks something, waits for keys posted to `action`
    (with `keys=each` for a multiple choice, `keys=decimal` for a number with a fraction), and
    where no key comes goes to `silence` (if given); otherwise the call ends."""
    asking = replies[-1] if replies and replies[-1].kind in ASKING else None
    said = [sentence for reply in replies for sentence in sentences(reply, t)]
    if greeting and asking is not None:  # before the question's own sentences
        said.insert(len(said) - len(sentences(asking, t)), keys_greeting(t))
    if asking is None:
        return spoken(said, voice)
    one_key = bool(asking.choices) and not asking.multi and len(asking.choices) <= ONE_KEY
    keys = "&keys=each" if asking.multi else "&keys=decimal" if asking.decimal else ""
    return gathering(said, voice, action + keys, one_key, silence)


def gathering(said: list[str], voice: Voice, action: str, one_key: bool = False,
              silence: str | None = None) -> str:
    """`said` inside a `<Gather>` of keys (one key, or keys up to #) posted to `action`; when
    no key comes, a `<Redirect>` to `silence` (if given), else the call ends."""
    response = VoiceResponse()
    gather = response.gather(input="dtmf", action=action, method="POST", timeout=WAIT_SECONDS,
                             finish_on_key="#", num_digits=1 if one_key else None)
    for sentence in said:
        gather.say(sentence, language=voice.tag, voice=voice.name)
    if silence is not None:
        response.redirect(silence, method="POST")
    return str(response)


def spoken(said: list[str], voice: Voice | None) -> str:
    """`said`, then the call ends (a voice of None: Twilio's default voice)."""
    response = VoiceResponse()
    for sentence in said:
        if voice is None:
            response.say(sentence)
        else:
            response.say(sentence, language=voice.tag, voice=voice.name)
    response.hangup()
    return str(response)
