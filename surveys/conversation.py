"""What an inbound message means for the contact, before and around the engine: pure.

The engine walks one session through one survey. `decide` acts on the *contact*: opting out
and back in, joining a round by its code or a deep link, which session a message goes to,
stale buttons, edits and photos, a walk-in's language, and what a person hears when heard has
no question for them. It returns a `Decision`; the worker only loads, locks, applies it and
writes once per batch, and a test can run a whole conversation without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import phonenumbers

from surveys.channels import channel as channel_named
from surveys.engine import (
    FINISHED,
    Reply,
    StepResult,
    resume,
    start,
    step,
    with_language_hint,
)
from surveys.i18n import translator
from surveys.model import Survey
from surveys.words import command_of, join_code, looks_like_a_code

# the languages a country's people are most likely to read, for walk-ins heard knows nothing of
# but their number (the partner countries; the first that the survey has wins)
COUNTRY_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "BD": ("bn",), "IN": ("hi", "bn"), "NP": ("ne", "hi"), "KE": ("sw", "en"),
    "TZ": ("sw", "en"), "UG": ("en", "sw"), "VN": ("vi",), "DK": ("da", "en"),
    "CA": ("en", "fr"), "MW": ("ny", "en"), "PH": ("fil", "en"), "FR": ("fr",),
    "ES": ("es",),
}


class Person(Protocol):
    """A contact as the conversation reads it: a table row, or a test's record."""

    @property
    def channel(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def opted_out(self) -> bool: ...
    @property
    def consent(self) -> bool | None: ...
    @property
    def profile(self) -> Any: ...


class Place(Protocol):
    """A session as the conversation reads it."""

    @property
    def survey_pk(self) -> int: ...
    @property
    def round_id(self) -> int | None: ...
    @property
    def state(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def updated_at(self) -> datetime: ...


class Said(Protocol):
    """An inbound message: its text and its channel's extras (a button's question, a link)."""

    @property
    def text(self) -> str: ...
    @property
    def payload(self) -> Any: ...


class CodedRound(Protocol):
    """A round people join by its code: open, or scheduled to open at `opens_at`."""

    @property
    def id(self) -> int: ...
    @property
    def survey_pk(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def code(self) -> str | None: ...
    @property
    def opens_at(self) -> datetime | None: ...


class Surveys(Protocol):
    """What the conversation may look up: rounds open or scheduled, by code, and survey
    versions."""

    def round_by_code(self, code: str) -> CodedRound | None: ...
    def round_by_keys(self, digits: str) -> CodedRound | None:
        """The round whose code is typed with these keys (a call's keypad), if only one is."""
        ...
    def survey(self, survey_pk: int) -> Survey: ...
    def latest(self, survey_id: str) -> int | None: ...


S = TypeVar("S", bound=Place)


@dataclass(frozen=True)
class Opening:
    """A new session to create: of this survey version, in this round (None: the simulator)."""

    survey_pk: int
    round_id: int | None


@dataclass
class Decision(Generic[S]):
    """What to do with one message: the outcome recorded on it, the replies, the step to save
    into an existing `session` or into a new one (`opens`), and the contact's changed fields."""

    outcome: str
    replies: list[Reply] = field(default_factory=list)
    session: S | None = None
    opens: Opening | None = None
    result: StepResult | None = None
    contact: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Target(Generic[S]):
    session: S | None = None
    survey_pk: int | None = None
    round_id: int | None = None
    by_code: bool = False


def decide(contact: Person, sessions: Sequence[S], message: Said,
           surveys: Surveys) -> Decision[S]:
    """What `message` means for `contact`, whose open sessions are `sessions` (oldest first)."""
    lang = contact.language or "en"
    t = translator(lang)
    payload = payload_of(message)
    command = "start" if payload.get("command") == "start" else command_of(message.text, lang)
    changes: dict[str, Any] = {}
    welcome: list[Reply] = []
    if contact.opted_out:
        if command != "start":
            return Decision("opted_out")  # kept, never answered: they asked us to stop
        changes["opted_out"] = False
        welcome = [Reply(t.gettext("You will get our messages again. Reply STOP to stop."))]
    joins = not channel_named(contact.channel).trial  # simulated people stay out of rounds
    link = payload.get("start") if joins else None
    keypad = channel_named(contact.channel).keypad or channel_named(contact.channel).keyed_codes
    coded = (_round_by_code(surveys, str(link or message.text or ""), keypad) if joins
             else None)
    if coded is not None and coded.status == "scheduled":  # come too early
        return _not_open_yet(contact, surveys.survey(coded.survey_pk), coded, payload,
                             welcome, changes)
    if link and coded is None:  # a stale or mistyped deep link
        return Decision("unknown_link", welcome + [Reply(t.gettext(
            "This link is not for a survey that is open now."))], contact=changes)
    target = _target(sessions, message, payload, surveys if joins else _NoRounds(surveys),
                     keypad)
    if target.survey_pk is None:
        return _outside_survey(lang, message, command, welcome, changes)
    survey = surveys.survey(target.survey_pk)
    session = target.session
    if session is not None and session.status not in FINISHED:
        said = survey.words_for(survey.language_for(session.state.get("lang")))
        if payload.get("edited"):  # an edit is not a new answer
            return Decision("edited", welcome + [Reply(edited_reply(said))], contact=changes)
        if is_media_only(message.text, payload):  # not an answer: no attempt lost
            return Decision("media", welcome + [Reply(media_reply(said))], contact=changes)
    opens = None
    if session is None:
        opens = Opening(target.survey_pk, target.round_id)
        result = _opening(contact, survey, payload.get("language"), changes)
        # the first message only opens the survey, unless it is a keyword (not a join code)
        if message.text.strip() and not target.by_code:
            result = _first_step(survey, result, message.text)
    elif ((welcome or target.by_code or payload.get("resume"))
          and session.status not in FINISHED):
        # back again (or a call begins: a dropped call goes on): ask where they left off
        result = resume(survey, session.state)
    elif _answers_an_earlier_question(session, payload):
        t = translator(survey.words_for(survey.language_for(session.state.get("lang"))))
        return Decision("stale", welcome + [Reply(t.gettext(
            "That button was for an earlier question."))], contact=changes)
    else:
        result = step(survey, session.state, message.text)
        if "restarted" in result.events:  # a finished survey taken again: a new session
            opens, session = Opening(session.survey_pk, session.round_id), None
    changes |= _contact_changes(contact, survey, result)
    return Decision("answered" if result.answers else "replied", welcome + result.replies,
                    session, opens, result, changes)


class _NoRounds:
    """`surveys` with no round open: what a channel whose people never join rounds sees."""

    def __init__(self, surveys: Surveys) -> None:
        self.surveys = surveys

    def round_by_code(self, code: str) -> CodedRound | None:
        return None

    def round_by_keys(self, digits: str) -> CodedRound | None:
        return None

    def survey(self, survey_pk: int) -> Survey:
        return self.surveys.survey(survey_pk)

    def latest(self, survey_id: str) -> int | None:
        return self.surveys.latest(survey_id)


def _round_by_code(surveys: Surveys, text: str, keypad: bool = False) -> CodedRound | None:
    """The round of the code in `text`; on a keypad channel, digits are the code's keys."""
    code = join_code(text)
    if code is None:
        return None
    return surveys.round_by_keys(code) if keypad and code.isdigit() else surveys.round_by_code(
        code)


def _open_round(surveys: Surveys, text: str, keypad: bool = False) -> CodedRound | None:
    found = _round_by_code(surveys, text, keypad)
    return found if found is not None and found.status == "open" else None


def _not_open_yet(contact: Person, survey: Survey, round_: CodedRound,
                  payload: Mapping[str, Any], welcome: list[Reply],
                  changes: dict[str, Any]) -> Decision[Any]:
    """A round's code before it opens: when it opens, in the person's language, and that
    the same code then starts it (nothing is stored for the round yet)."""
    t = translator(survey.words_for(survey.language_for(
        _language_of(contact, survey, payload.get("language")))))
    opens = round_.opens_at.date() if round_.opens_at else None
    # TRANSLATORS: {date} is a day written out ("5 December 2026"); {code} is the round's join
    # code, typed as it is (e.g. WATER367)
    text = t.gettext("This survey opens on {date}. Send {code} again on that day.",
                     date=t.day(opens) if opens else "?", code=round_.code or "")
    return Decision("not_open_yet", welcome + [Reply(text)], contact=changes)


def _target(sessions: Sequence[S], message: Said, payload: Mapping[str, Any],
            surveys: Surveys, keypad: bool = False) -> _Target[S]:
    """A round's join code (typed, or a Telegram /start payload) opens that round; otherwise
    the session the contact was last asked something in."""
    round_ = _open_round(surveys, str(payload.get("start") or message.text or ""), keypad)
    if round_ is not None:
        session = next((s for s in sessions if s.round_id == round_.id), None)
        return _Target(session, session.survey_pk if session else round_.survey_pk,
                       round_.id, by_code=True)
    wanted = payload.get("survey")
    if wanted:  # the simulator names its survey
        latest = surveys.latest(str(wanted))
        if latest is None:
            return _Target()
        survey_id = surveys.survey(latest).id
        mine = [s for s in sessions if s.round_id is None
                and surveys.survey(s.survey_pk).id == survey_id]
        return _Target(mine[-1], mine[-1].survey_pk) if mine else _Target(None, latest)
    if not sessions:
        return _Target()
    # the newest activity wins; among equals, the newest session (the list is oldest first)
    session = max(reversed(sessions), key=lambda s: s.updated_at)
    return _Target(session, session.survey_pk, session.round_id)


def _opening(contact: Person, survey: Survey, app_language: str | None,
             changes: dict[str, Any]) -> StepResult:
    """A survey's first messages for `contact`, in their language (a walk-in's: their app's
    or their country's), with the survey's consent question when it has one: agreeing to be
    contacted (an import's consent) is not agreeing to this survey."""
    result = start(survey, _language_of(contact, survey, app_language), ask_consent=True)
    if contact.language is None:  # a walk-in: heard guessed, so say how to change it
        changes["language"] = result.state["lang"]
        if len(survey.languages) > 1:
            result = with_language_hint(survey, result)
    return result


def _language_of(contact: Person, survey: Survey, app_language: str | None) -> str | None:
    """The person's language: as known, else a walk-in's app's or their number's country's."""
    address = contact.address if channel_named(contact.channel).phone_addresses else None
    return contact.language or walk_in_language(survey.languages, app_language, address)


def _first_step(survey: Survey, opened: StepResult, text: str) -> StepResult:
    """Keywords (STOP, LANG, HELP) in the very first message still work."""
    following = step(survey, opened.state, text)
    if following.events and not following.answers:
        return StepResult(following.state, opened.replies + following.replies,
                          following.answers, following.retracted, following.events)
    return opened


def _contact_changes(contact: Person, survey: Survey, result: StepResult) -> dict[str, Any]:
    """What a step changes about the person: language, opt-out, consent, profile answers."""
    changes: dict[str, Any] = {}
    profile = {answer.question_id: answer.value for answer in result.answers
               if not answer.skipped and survey.question(answer.question_id).profile}
    if profile:  # `profile: true` answers describe the person: kept on the contact
        changes["profile"] = {**(contact.profile or {}), **profile}
    if "language" in result.events:
        changes["language"] = result.state["lang"]
    if "stop" in result.events:
        changes["opted_out"] = True
    if "consented" in result.events:
        changes["consent"] = True
    if "declined" in result.events and contact.consent is None:
        changes["consent"] = False  # a walk-in's no; one survey declined is not all of heard
    return changes


def _outside_survey(lang: str, message: Said, command: str | None, welcome: list[Reply],
                    changes: dict[str, Any]) -> Decision[Any]:
    """STOP and HELP work for anyone, in a survey or not; anything else is told how to join
    (or, for what looks like a code, that it is not open now): never silence."""
    t = translator(lang)
    if command == "stop":
        return Decision("opted_out", welcome + [Reply(t.gettext(
            "You will get no more messages from us. Reply START to join again."))],
            contact=changes | {"opted_out": True})
    if command == "help":
        return Decision("help", welcome + [Reply(t.gettext(
            "heard: short surveys about your community, in your language. "
            "Reply STOP to stop getting messages, START to join again."))], contact=changes)
    if command is None and looks_like_a_code(message.text):
        return Decision("no_survey", welcome + [Reply(unknown_code(lang))], contact=changes)
    return Decision("no_survey", welcome + [Reply(not_in_a_survey(lang))], contact=changes)


def _answers_an_earlier_question(session: Place, payload: Mapping[str, Any]) -> bool:
    """A button press (payload `answer_to`) counts only for the question it was sent with."""
    answer_to = payload.get("answer_to")
    return answer_to is not None and answer_to != session.state.get("current")


def payload_of(message: Said) -> dict[str, Any]:
    """The channel's extras (a button's question, a deep link's code); {} when malformed."""
    return message.payload if isinstance(message.payload, dict) else {}


def walk_in_language(offered: Iterable[str], app_language: str | None,
                     address: str | None) -> str | None:
    """A newcomer's language: their app's (Telegram tells it), else their country's, when the
    survey offers it; None leaves the survey's first language."""
    offered = list(offered)
    bases = {code.split("_")[0].split("-")[0].lower(): code for code in offered}
    if app_language:
        found = bases.get(app_language.split("_")[0].split("-")[0].lower())
        if found:
            return found
    for language in COUNTRY_LANGUAGES.get(_country_of(address) or "", ()):
        if language in bases:
            return bases[language]
    return None


def _country_of(address: str | None) -> str | None:
    if not address or not address.startswith("+"):
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(address))
    except phonenumbers.NumberParseException:
        return None


def is_media_only(text: str, payload: Mapping[str, Any]) -> bool:
    """A photo, voice note or file with no words: nothing heard can read as an answer."""
    return not (text or "").strip() and bool(payload.get("media"))


def media_reply(lang: str) -> str:
    """What a person who sent a picture or a voice note hears: type instead."""
    # TRANSLATORS: the reply to a photo, voice message, sticker, location or file
    return translator(lang).gettext(
        "Sorry, I can only read text. Please answer with a message or a button.")


def not_in_a_survey(lang: str) -> str:
    """A person heard has no question for: what they can do."""
    return translator(lang).gettext(
        "Welcome to heard. To answer a survey, send its code (for example from a poster). "
        "HELP tells you more, LANG changes language, STOP ends all messages.")


def unknown_code(lang: str) -> str:
    """A code that is not an open round's."""
    return translator(lang).gettext(
        "That code is not for a survey that is open now. Please check it and send it again.")


def edited_reply(lang: str) -> str:
    """A corrected (edited) message changes nothing already answered: how to change it."""
    return translator(lang).gettext(
        "An edited message does not change an answer already sent. Reply BACK to change "
        "your last answer.")
