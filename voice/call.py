"""One request of a call: the conversation's step (run inline) and the TwiML that says it.

How a caller joins: a caller with an unfinished session in an open round (invited by a launch,
or a call that dropped) goes on at the question they were at; anyone else is asked for a
round's join code typed on the phone's keys (each letter by the key it is printed on,
WATER367 = 92837367, then #). A question that needs words (type text) is answered aloud: a
`<Record>`, whose audio becomes personal data kept by heard (`surveys.recordings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from surveys import catalog
from surveys.actions import Converse
from surveys.conversation import walk_in_language
from surveys.database import session_scope
from surveys.engine import Reply
from surveys.i18n import Translator, language_name, translator
from surveys.messages import Inbound
from surveys.model import Question, Survey
from surveys.settings import Settings
from surveys.tables import Contact, OutboxMessage
from voice import pack, prompts, render
from voice.adapter import CHANNEL, STOP, MenuAsked
from voice.render import Voice
from voice.sender import CALL_BACK
from worker.outbox import LANG, PURPOSE, outbox_row, reply_body, stored_reply
from worker.pipeline import Answered, converse, record_handled, where_they_are
from worker.queues import enqueue_outbound
from worker.runtime import Runtime

log = logging.getLogger(__name__)
OUTSIDE = frozenset({"no_survey", "help"})  # the caller is in no survey: asked for a code


def answer(runtime: Runtime, settings: Settings, action: Converse) -> str:
    """The TwiML answering this request of the call."""
    step = int(action.inbound.payload["step"])
    made = action.inbound.payload.get("outbox")  # a call heard made: the row it was made for
    if step == 0 and made is None and settings.call_back:  # costs the caller nothing
        call_back(runtime, action.inbound)
        return render.rejected()
    first = first_words(runtime, int(made), action.inbound.address) if step == 0 and made \
        else None
    if first is not None and first.purpose == "results":  # told, and the call ends
        # (figures need a voice: results in a language without one went by SMS instead)
        lang = first.lang if first.lang in settings.voice_languages else _first(
            settings.voice_languages)
        t = translator(lang)
        return render.spoken([sentence for reply in first.replies
                              for sentence in render.sentences(reply, t)],
                             Voice.configured(settings.voice_languages.get(lang)))
    answered = converse(runtime, action)
    next_step = f"{settings.public_base_url.rstrip('/')}/voice/twilio?step={step + 1}"
    silent = bool(action.inbound.payload.get("silent"))
    # no key pressed: asked once more (heard's redirect), then the call ends
    silence = None if silent else next_step + "&silent=1"
    voices = settings.voice_languages
    if answered.outcome in OUTSIDE or (answered.outcome == "opted_out" and not answered.said):
        lang = (answered.language
                or walk_in_language(voices, None, action.inbound.address) or _first(voices))
        with session_scope(runtime.database_url) as db:
            voice = voice_for(db, settings, lang)
        if voice is None:
            return refusal(lang, voices)
        if answered.outcome == "opted_out":  # they had asked us to stop
            return _opted_out(translator(lang), voice, next_step)
        welcome = step == 0 or silent or bool(action.inbound.payload.get("rejoin"))
        return join_prompt(translator(lang), voice, next_step, welcome=welcome,
                           silence=silence)
    lang = answered.language or "en"
    with session_scope(runtime.database_url) as db:  # one transaction for what is said
        survey = catalog.survey_at(db, answered.survey_pk) if answered.survey_pk else None
        voice = voice_for(db, settings, lang, survey)
    if voice is None:
        log.warning("a call in %s, which has no voice (HEARD_VOICE_LANGUAGES) and not every "
                    "prompt recorded: refused", lang)
        return refusal(lang, voices)
    t = translator(survey.words_for(lang) if survey is not None else lang)
    replies = _said(answered)
    if answered.outcome == "opted_out" or action.inbound.text == STOP:  # 4 on the menu
        return render.spoken([t.gettext("You will get no more calls from us. Goodbye.")], voice)
    if action.inbound.payload.get("help"):  # how the keys work, then the question again
        replies = [Reply(t.gettext(
            "heard asks short questions about your community. Answer with your phone's keys. "
            "Press star at any time for the menu."))] + replies
    if first is not None:  # what the call was made to say before the question (an invitation's
        replies = [reply for reply in first.replies if reply.kind not in render.ASKING] + replies
    recorded = render.NOTHING_RECORDED
    if survey is not None:
        recorded = prompts.recorded(survey, lang, settings.public_base_url)
    asked = _asked(survey, replies) if survey is not None else None
    greeting = step == 0 or bool(action.inbound.payload.get("joining"))  # a survey begins
    return render.conversation(replies, t, voice, next_step, greeting, silence, recorded,
                               in_words=asked is not None and asked.type == "text")


@dataclass(frozen=True)
class FirstWords:
    """What a call heard made was made to say: the row's reply and those written with it."""

    purpose: str | None
    lang: str | None
    replies: list[Reply]


MAX_SAID = 20  # rows said in one call heard made, at most


def first_words(runtime: Runtime, outbox_id: int, address: str) -> FirstWords | None:
    """The replies of the call made for row `outbox_id`: it and the rows written with it for
    the same person (`voice.sender.said_in_its_first_call`); None if it is not a call to them."""
    with session_scope(runtime.database_url) as db:
        made = db.get(OutboxMessage, outbox_id)
        if made is None or made.channel != CHANNEL or made.address != address:
            log.warning("a call for outbox %s, which is no call to this person", outbox_id)
            return None
        said = [made]
        if made.inbox_id is None and made.contact_id is not None:
            after = db.scalars(select(OutboxMessage).where(
                OutboxMessage.contact_id == made.contact_id, OutboxMessage.id > outbox_id)
                .order_by(OutboxMessage.id).limit(MAX_SAID)).all()
            for row in after:
                if row.inbox_id is not None or row.seq != made.seq + len(said):
                    break  # (the next row of another time)
                said.append(row)
        return FirstWords(made.reply.get(PURPOSE), made.reply.get(LANG),
                          [stored_reply(row.reply) for row in said if row.text])


CALL_BACK_GAP = 600  # seconds: one who rings again and again is called back once in this


def call_back(runtime: Runtime, inbound: Inbound) -> bool:
    """Queue a call to one who rang heard's number (once per call they made, and once in
    CALL_BACK_GAP): whether one was queued."""
    with session_scope(runtime.database_url) as db:
        if record_handled(db, replace(inbound, text=""), "missed_call") is None:
            return False  # (a re-delivered request, or the status after the rejection)
        if not runtime.redis.set(f"heard:call-back:{inbound.address}", "1", nx=True,
                                 ex=CALL_BACK_GAP):
            return False
        contact_id = db.scalar(select(Contact.id).where(Contact.channel == CHANNEL,
                                                         Contact.address == inbound.address))
        reply = Reply("")
        row = outbox_row(contact_id, CHANNEL, inbound.address, reply, None, 0,
                         reply_body(reply) | {PURPOSE: CALL_BACK, "after_opt_out": True})
        outbox_id = db.execute(insert(OutboxMessage).values(row)
                               .returning(OutboxMessage.id)).scalar_one()
    enqueue_outbound(runtime.redis, [outbox_id])
    return True


def menu(runtime: Runtime, settings: Settings, asked: MenuAsked) -> str:
    """The star key's menu, one key: what each does; no key, and the question is asked again."""
    with session_scope(runtime.database_url) as db:
        survey_pk, lang = where_they_are(db, CHANNEL, asked.address)
        survey = catalog.survey_at(db, survey_pk) if survey_pk is not None else None
        voices = settings.voice_languages
        lang = lang or walk_in_language(voices, None, asked.address) or _first(voices)
        voice = voice_for(db, settings, lang, survey)
    if voice is None:
        return refusal(lang, voices)
    t = translator(survey.words_for(lang) if survey is not None else lang)
    here = f"{settings.public_base_url.rstrip('/')}/voice/twilio?step={asked.step}&menu=1"
    return render.gathering([t.gettext(
        "To hear the question again, press 1. To go back to the question before, press 2. "
        "For help, press 3. To get no more calls from us, press 4.")], voice, here,
        one_key=True, silence=here + "&silent=1")  # (a silence, as after a question)


def join_prompt(t: Translator, voice: Voice, action: str, welcome: bool,
                silence: str | None) -> str:
    """Asked of a caller in no survey: a round's code on the keys (again, after a wrong one)."""
    said = (t.gettext("Welcome to heard. To answer a survey, type its code with your phone's "
                      "keys, then press the hash key.") if welcome else
            t.gettext("That code is not for a survey that is open now. Type it again, then "
                      "press the hash key."))
    joining = "&joining=1"
    return render.gathering([said], voice, action + joining, silence=silence and silence + joining)


def _opted_out(t: Translator, voice: Voice, next_step: str) -> str:
    """One who opted out and calls: never silence, but no survey either unless they say so
    (a key, which is START); no key, and the call ends with nothing changed."""
    said = t.gettext("You asked us not to contact you, so we will not. To take part again, "
                     "press 1. Otherwise, hang up.")
    return render.gathering([said], voice, next_step + "&rejoin=1", one_key=True)


def voice_for(db: Session, settings: Settings, lang: str,
              survey: Survey | None = None) -> Voice | None:
    """How a call is heard in `lang`: its voice (HEARD_VOICE_LANGUAGES) and its recorded
    phrases (voice.pack); None where it cannot be heard: no voice, and not every phrase and
    prompt of `survey` recorded."""
    phrases = pack.recorded_phrases(db, lang, settings.public_base_url)
    if not prompts.callable_in(survey, lang, settings.voice_languages,
                               pack.complete(phrases, lang)):
        return None
    return Voice.configured(settings.voice_languages.get(lang), phrases)


def refusal(lang: str, voices: dict[str, str]) -> str:
    """A call in a language heard has no voice for: said so in the first configured voice
    (English in Twilio's default voice when none is), then the call ends; never silence."""
    first = _first(voices)
    t = translator(first)
    said = t.gettext("Sorry, this survey cannot be heard in {language} yet. Goodbye.",
                     language=language_name(lang, reader=first))
    return render.spoken([said], Voice.configured(voices.get(first)))


def _first(voices: dict[str, str]) -> str:
    return next(iter(voices), "en")


def _said(answered: Answered) -> list[Reply]:
    return [stored_reply(body) for body in answered.said]


def _asked(survey: Survey, replies: list[Reply]) -> Question | None:
    """The question the last reply asks, if it asks one of the survey's."""
    last = replies[-1] if replies else None
    if last is None or last.kind not in render.ASKING or last.question_id is None:
        return None
    return survey.question(last.question_id) if last.question_id in survey.question_index \
        else None
