"""Survey rounds: create, plan, launch (bulk invitations), remind, close, status.

Launching writes sessions and outbox rows in bulk, chunk by chunk, and queues one send job per
100 contacts: the invitations to 100,000 contacts are all queued in seconds, and sending is paced
by the channels' senders. Chunks are written (COPY) and queued by WRITERS threads while the next
one is read and built, so the database and Python work at the same time. A paced launch
(`over`) queues its send jobs for later instead, spread evenly over the window (rq's scheduler
moves each to the queue when due), so replies to the people already answering never wait behind
a whole community's invitations.
"""

from __future__ import annotations

import math
import secrets
import string
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple, Protocol, cast

from redis import Redis
from sqlalchemy import ColumnElement, CursorResult, and_, exists, func, select, true, update
from sqlalchemy.orm import Session

from surveys import catalog, spans
from surveys.airtime import Airtime, shown
from surveys.channels import channel as channel_named
from surveys.channels import importable, keypads, trials
from surveys.contact_import import language_code
from surveys.database import analyze, session_scope
from surveys.engine import (
    FINISHED,
    Reply,
    StepResult,
    closing_reply,
    question_reply,
    resume,
    start,
)
from surveys.i18n import Translator, language_name, translator
from surveys.model import Survey
from surveys.profile_fields import declared_profile_fields
from surveys.settings import Settings
from surveys.sql import Shared, bulk_insert, bulk_insert_shared
from surveys.tables import (
    AirtimeReward,
    Contact,
    OutboxMessage,
    Round,
    StoredAnswer,
    SurveySession,
    SurveyVersion,
    new_uuid,
    utcnow,
)
from voice.minutes import seconds_to_hear
from worker.airtime import SPENDING
from worker.outbox import outbox_fields, outbox_row, reply_body, sms_text

CHUNK = 5000
WRITTEN_TABLES = (SurveySession.__tablename__, OutboxMessage.__tablename__)  # by a launch
CONTACTS_PER_SEND_JOB = 100
# a paced launch's send jobs are queued this much before their contacts are due: rq's scheduler
# moves jobs once a second, and a sender with nothing queued loses its slots for good
PACE_LEAD = timedelta(seconds=2)
WRITERS = 2  # chunks written at once: PostgreSQL checks and indexes them on two cores
Progress = Callable[[int], None]


class Enqueue(Protocol):
    """Queues a send job for outbox rows (worker.queues.enqueue_outbound): now, or `at`."""

    def __call__(self, redis: Redis, outbox_ids: list[int], *,
                  at: datetime | None = None) -> bool: ...


class RoundError(ValueError):
    """A round operation that cannot be done: str() says why in English (the CLI's and the
    API's words), said(t) in the reader's language (the console's). The message is a msgid
    (babel.cfg extracts RoundError's first argument), filled with `values` either way."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message, self.values = message, values

    def said(self, t: Translator) -> str:
        return t.gettext(self.message, **self.values)


class NotOpen(RoundError):
    """An action only an open round takes, asked of one that is scheduled or closed."""

    def said(self, t: Translator) -> str:
        return t.gettext("This round is {status}: only an open round can do this.",
                         status=t.gettext(str(self.values["status"])))


# how a round's USSD session that timed out goes on: dialled again, or by SMS at once
UssdContinue = Literal["ussd", "sms"]
USSD_CONTINUE: tuple[str, ...] = UssdContinue.__args__  # type: ignore[attr-defined]


def create_round(db: Session, survey_row: SurveyVersion, community: str | None,
                 opens_at: datetime | None = None, closes_at: datetime | None = None,
                 reminder_hours: Sequence[int] = (), target: Target | None = None,
                 ussd_continue: UssdContinue = "ussd", airtime: Airtime | None = None) -> Round:
    """A new open round of this survey version (inviting only its `target`, when given; a
    USSD session of it that times out goes on as `ussd_continue` says; each who completes
    thanked with `airtime`, within its budget); RoundError for times that cannot be."""
    opens_at, closes_at, now = _in_utc(opens_at), _in_utc(closes_at), utcnow()
    if opens_at and closes_at and closes_at <= opens_at:
        raise RoundError("the round would close ({closes} UTC) before it opens ({opens} UTC): "
                         "give a close after the open", closes=f"{closes_at:%Y-%m-%d %H:%M}",
                         opens=f"{opens_at:%Y-%m-%d %H:%M}")
    if closes_at and closes_at <= now:
        raise RoundError("the close ({closes} UTC) has passed: give a close in the future",
                         closes=f"{closes_at:%Y-%m-%d %H:%M}")
    status = "scheduled" if opens_at and opens_at > now else "open"
    if any(hours <= 0 for hours in reminder_hours):
        raise RoundError("reminders are hours after the invitation, above 0: not {hours}",
                         hours=", ".join(str(hours) for hours in reminder_hours))
    round_ = Round(survey_pk=survey_row.id, community=community, status=status,
                   code=_new_code(db, survey_row.survey_id), opens_at=opens_at,
                   closes_at=closes_at, ussd_continue=ussd_continue)
    if reminder_hours:  # (left out, the column is NULL: None would be stored as JSON null)
        round_.reminder_hours = sorted(set(reminder_hours))
    if target:  # (likewise)
        round_.target = target.stored()
    if airtime:
        round_.airtime_currency, round_.airtime_amount, round_.airtime_budget = (
            airtime.currency, airtime.amount, airtime.budget)
    db.add(round_)
    db.flush()
    return round_


def _in_utc(moment: datetime | None) -> datetime | None:
    """A time as UTC; one given without a zone is taken as UTC (as stored)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _new_code(db: Session, survey_id: str) -> str:
    """A short join code people can type on a feature phone: letters of the survey + digits."""
    stem = "".join(ch for ch in survey_id.upper() if ch in string.ascii_uppercase)[:5] or "JOIN"
    while True:
        code = f"{stem}{secrets.randbelow(900) + 100}"
        if db.scalar(select(func.count()).select_from(Round).where(Round.code == code)) == 0:
            return code


def get_round(db: Session, round_id: int) -> tuple[Round, SurveyVersion, Survey]:
    round_ = db.get(Round, round_id)
    if round_ is None:
        raise RoundError("no round {round_id}", round_id=round_id)
    survey_row = db.get(SurveyVersion, round_.survey_pk)
    assert survey_row is not None
    return round_, survey_row, catalog.survey_of(survey_row)


def require_open(db: Session, round_id: int, action: str) -> tuple[Round, SurveyVersion, Survey]:
    """The round, its version and survey; RoundError unless it is open (only those `action`)."""
    found = get_round(db, round_id)
    if found[0].status != "open":
        raise NotOpen("round {round_id} is {status}: only open rounds {action}",
                      round_id=round_id, status=found[0].status, action=action)
    return found


def _eligible(round_: Round) -> Any:
    """Contacts a launch invites: in the community, consented, reachable, not yet invited."""
    return and_(_reachable(round_), ~_invited(round_.id, Contact.id))


def _reachable(round_: Round) -> Any:
    conditions: list[ColumnElement[bool]] = [
        Contact.consent.is_(True), Contact.opted_out.is_(False), Contact.unreachable.is_(None)]
    if round_.community:
        conditions.append(Contact.community == round_.community)
    targeted = Target.of(round_.target).clause()
    if targeted is not None:
        conditions.append(targeted)
    return and_(*conditions)


@dataclass(frozen=True)
class Target:
    """Whom a round invites beyond its community: people of these languages, on these
    channels, with these profile values (each part empty: anyone; all given parts: all of them).
    Made by `target_for`, which checks each part."""

    languages: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    profile: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, its values), by field

    def __bool__(self) -> bool:
        return bool(self.languages or self.channels or self.profile)

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Target:
        """The target a round stores (rounds.target; None: no target)."""
        stored = stored or {}
        return cls(tuple(stored.get("languages") or ()), tuple(stored.get("channels") or ()),
                   tuple((name, tuple(values))
                         for name, values in sorted((stored.get("profile") or {}).items())))

    def stored(self) -> dict[str, Any]:
        """As rounds.target keeps it (and the API shows it): only the parts given."""
        parts: dict[str, Any] = {"languages": list(self.languages),
                                 "channels": list(self.channels),
                                 "profile": {name: list(values) for name, values in self.profile}}
        return {part: value for part, value in parts.items() if value}

    def described(self, t: Translator | None = None) -> str:
        """Whom it takes in, in words of `t`'s language (English without one): "speaking
        Swahili; on sms; whose gender is female"."""
        t = t or translator("en")
        parts = []
        if self.languages:
            parts.append(t.gettext("speaking {languages}", languages=", ".join(
                language_name(code, t.lang) for code in self.languages)))
        if self.channels:
            parts.append(t.gettext("on {channels}", channels=", ".join(self.channels)))
        parts += [t.gettext("whose {field} is {values}", field=name, values=", ".join(values))
                  for name, values in self.profile]
        return "; ".join(parts)

    def clause(self) -> Any | None:
        """The contacts it takes in, as SQL on SQLite and PostgreSQL alike, never NULL (so its
        negation counts those it leaves out); None: everyone."""
        if not self:
            return None
        conditions: list[ColumnElement[bool]] = [true()]
        if self.languages:
            conditions += [Contact.language.is_not(None),
                           Contact.language.in_(self.languages)]
        if self.channels:
            conditions.append(Contact.channel.in_(self.channels))
        for name, values in self.profile:  # compared without regard to case, as typed
            value = func.lower(Contact.profile[name].as_string())
            conditions += [value.is_not(None), value.in_([v.lower() for v in values])]
        return and_(*conditions)


def target_for(db: Session, survey: Survey, languages: Iterable[str] = (),
               channels: Iterable[str] = (),
               profile: Mapping[str, Iterable[str]] | None = None) -> Target:
    """A round's target, each part checked: languages (codes or names), channels of the
    registry, profile fields declared (at import, or by the survey's profile questions), each
    with a value; RoundError naming what is unknown and what is known."""
    codes = []
    for language in (name.strip() for name in languages if name.strip()):
        try:
            codes.append(language_code(language))
        except ValueError:
            raise RoundError("target language: unknown language {language} (a code such as sw, "
                             "or a name such as Swahili)", language=repr(language)) from None
    known_channels = importable()
    named = [name.strip().lower() for name in channels if name.strip()]
    for name in named:
        if name not in known_channels:
            raise RoundError("target channel: unknown channel {channel} (one of {channels})",
                             channel=repr(name), channels=", ".join(known_channels))
    values: dict[str, tuple[str, ...]] = {}
    if profile:
        declared = declared_profile_fields(db, [survey])
        for name, given in profile.items():
            if name not in declared:
                if not declared:
                    raise RoundError("target profile: unknown profile field {field} (none is "
                                     "declared yet: declare profile fields when importing "
                                     "contacts)", field=repr(name))
                raise RoundError("target profile: unknown profile field {field} (declared: "
                                 "{fields})", field=repr(name), fields=", ".join(sorted(declared)))
            kept = tuple(dict.fromkeys(value.strip() for value in given if value.strip()))
            if not kept:
                raise RoundError("target profile: give {field} a value, e.g. {name}=VALUE",
                                 field=repr(name), name=name)
            values[name] = kept
    return Target(tuple(dict.fromkeys(codes)), tuple(dict.fromkeys(named)),
                  tuple(sorted(values.items())))


def parse_profile_values(texts: Iterable[str]) -> dict[str, list[str]]:
    """["gender=female", "village=kibera,soweto"] → {field: [values]} (a field named twice:
    its values together); RoundError for a text that is not FIELD=VALUE[,VALUE...]."""
    found: dict[str, list[str]] = {}
    for text in (text.strip() for text in texts if text.strip()):
        name, equals, given = text.partition("=")
        if not equals or not name.strip():
            raise RoundError("target profile: {text} is not FIELD=VALUE[,VALUE...] (e.g. "
                             "gender=female or village=kibera,soweto)", text=repr(text))
        found.setdefault(name.strip(), []).extend(given.split(","))
    return found


def _invited(round_id: int, contact_id: Any) -> Any:
    return exists().where(SurveySession.contact_id == contact_id,
                          SurveySession.round_id == round_id)


@dataclass(frozen=True)
class PlanLine:
    """One language on one channel of a launch's plan. Counts are in `unit`: SMS segments on an
    SMS channel, else messages; the money (None off SMS) is the whole conversation's."""

    language: str
    channel: str
    contacts: int
    messages: int  # the invitation's
    unit: str
    invitation: int
    typical: int  # the whole conversation, along the typical path ...
    longest: int  # ... and the longest
    reminder: int  # one reminder, to everyone of the line
    cost_typical: float | None
    cost_longest: float | None


Prices = Mapping[str, float]  # a unit's price: "segments" (SMS), "minutes" (calls)


def prices_of(settings: Settings, per_segment: float | None = None) -> Prices:
    """What heard pays per SMS segment (HEARD_PRICE_PER_SEGMENT, or `per_segment` given) and
    per call minute (HEARD_PRICE_PER_CALL_MINUTE)."""
    return {"segments": settings.price_per_segment if per_segment is None else per_segment,
            "minutes": settings.price_per_call_minute}


@dataclass
class Plan:
    """What a launch would send: per (language, channel) contacts, messages and SMS segments."""

    rows: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    # contacts it would not invite, by why (a reason a facilitator can act on), and for a
    # community nobody is in, the nearest one there is (its name and contacts)
    left_out: Counter[str] = field(default_factory=Counter)
    absent_community: str | None = None
    nearest_community: tuple[str, int] | None = None

    def total(self, what: str) -> int:
        return sum(counter[what] for counter in self.rows.values())

    def lines(self, prices: Prices) -> list[PlanLine]:
        """Its rows, by language and channel, with their cost at `prices` (per SMS segment and
        per call minute): the one arithmetic the CLI, the API and the console show."""
        found = []
        for (language, channel), counts in sorted(self.rows.items()):
            unit = unit_of(channel)
            price = prices.get(unit)
            typical, longest = counts[f"typical_{unit}"], counts[f"longest_{unit}"]
            found.append(PlanLine(
                language, channel, counts["contacts"], counts["messages"], unit,
                counts[unit], typical, longest, counts[f"reminder_{unit}"],
                typical * price if price is not None else None,
                longest * price if price is not None else None))
        return found

    def cost(self, prices: Prices) -> tuple[float, float]:
        """The whole conversations' cost (SMS segments, call minutes), typical and longest, of
        everyone invited."""
        return (sum(self.total(f"typical_{unit}") * price for unit, price in prices.items()),
                sum(self.total(f"longest_{unit}") * price for unit, price in prices.items()))

    def invitation_cost(self, prices: Prices) -> float:
        """The invitations' cost alone (SMS segments, and the calls' first minutes)."""
        return sum(self.total(unit) * price for unit, price in prices.items())

    def quickest(self, sms_per_second: float) -> timedelta:
        """The least time its invitations can take: Twilio's messages (SMS and WhatsApp share
        one sender) at HEARD_SMS_PER_SECOND; a launch spread over less takes this long."""
        twilio = sum(counter["messages"] for (_, channel), counter in self.rows.items()
                     if channel_named(channel).sms_text)
        return timedelta(seconds=twilio / sms_per_second)

    @property
    def community_hint(self) -> str | None:
        """For a community nobody is in: the nearest one (in English, as the API gives it)."""
        return self.hint(translator("en"))

    def hint(self, t: Translator) -> str | None:
        """For a community nobody is in, "did you mean ...?" in `t`'s language."""
        if self.absent_community is None:
            return None
        if self.nearest_community is None:
            return t.gettext("no contact is in community '{community}'",
                             community=self.absent_community)
        name, contacts = self.nearest_community
        return t.gettext("no contact is in community '{community}'; did you mean '{nearest}' "
                         "({contacts} contacts)?", community=self.absent_community,
                         nearest=name, contacts=t.number(contacts))

    def left_out_notice(self, t: Translator | None = None) -> str | None:
        """Who will not be invited and why, in one line, in `t`'s language (English without
        one); None: everyone will be."""
        if not self.left_out:
            return None
        t = t or translator("en")
        words = left_out_words(t)
        reasons = ", ".join(words[reason].format(count=t.number(count))
                            for reason, count in self.left_out.items())
        hint = self.hint(t)
        return t.gettext("not invited: {reasons}", reasons=reasons) + (
            f" ({hint})" if hint else "")


def plan_launch(db: Session, round_id: int) -> Plan:
    round_, _, survey = get_round(db, round_id)
    plan = Plan()
    counts = db.execute(select(Contact.language, Contact.channel, func.count())
                        .where(_eligible(round_)).group_by(Contact.language, Contact.channel))
    for language, channel, contacts in counts:
        lang = survey.language_for(language)
        replies = start(survey, language, ask_consent=True).replies  # a fallback notice counts
        counter = plan.rows.setdefault((lang, channel), Counter())
        counter["contacts"] += contacts
        counter["messages"] += contacts * len(replies)
        if channel_named(channel).sms_text:
            counter["segments"] += contacts * sum(sms_text(reply)[1] for reply in replies)
        if channel_named(channel).keypad:  # the call's first minutes: its invitation said
            t = translator(survey.words_for(lang))
            counter["minutes"] += contacts * math.ceil(
                sum(seconds_to_hear(reply, t, survey, lang) for reply in replies) / 60)
        for what, number in conversation_cost(survey, lang, channel, replies).items():
            counter[what] += contacts * number
    _explain_left_out(db, round_, plan)
    return plan


REPROMPT_SHARE = 0.1  # questions asked again (an answer the engine could not read), one in ten


def sms_per_person(survey: Survey, lang: str) -> Counter[str]:
    """One person's whole conversation by SMS in `lang`, invitation included: what a survey
    costs each person it reaches (the console's survey upload shows it per language)."""
    return conversation_cost(survey, lang, "sms", start(survey, lang, ask_consent=True).replies)


def conversation_cost(survey: Survey, lang: str, channel: str,
                      invitation: Sequence[Reply]) -> Counter[str]:
    """One person's whole conversation beyond the invitation: the questions (along the typical
    path, those asked of everyone, and the longest, every question), re-asked ones, the
    closing; and one reminder. Messages, and SMS segments on an SMS channel."""
    sms, call = channel_named(channel).sms_text, channel_named(channel).keypad
    words = survey.words_for(lang)
    t = translator(words)

    def cost(reply: Reply) -> float:
        return (sms_text(reply)[1] if sms else seconds_to_hear(reply, t, survey, lang)
                if call else 1)

    asked = [(question.when is None, cost(question_reply(question, lang, words)))
             for question in survey.questions]
    closing = cost(closing_reply(survey, lang))
    reminder = max(cost(reminder_line(lang, part_way)) for part_way in (False, True))
    invited = sum(cost(reply) for reply in invitation)
    unit = unit_of(channel)
    # a call is paid by the minute begun; what is counted in minutes is counted in seconds
    # first, then a call's worth rounded up
    whole = (lambda seconds: math.ceil(seconds / 60)) if call else math.ceil
    costs: Counter[str] = Counter()
    for path, questions in (("typical", [c for everyone, c in asked if everyone]),
                            ("longest", [c for _, c in asked])):
        again = math.ceil(REPROMPT_SHARE * len(questions))
        average = sum(questions) / len(questions) if questions else 0
        costs[f"{path}_{unit}"] = whole(invited + sum(questions) + again * average + closing)
    costs[f"reminder_{unit}"] = whole(reminder + max((c for _, c in asked), default=0))
    return costs


def unit_of(channel: str) -> str:
    """What a launch plan counts a channel's messages in: SMS segments, call minutes (a call,
    paid by the minute), else messages."""
    found = channel_named(channel)
    return "segments" if found.sms_text else "minutes" if found.keypad else "messages"


LEFT_OUT = (  # the first reason that applies is the one given
    ("in another community", lambda round_: Contact.community.is_distinct_from(round_.community)
     if round_.community else None),
    ("outside the round's target", lambda round_: _outside(round_)),
    ("opted out", lambda round_: Contact.opted_out.is_(True)),
    ("unreachable", lambda round_: Contact.unreachable.is_not(None)),
    ("without consent in the import", lambda round_: Contact.consent.is_(None)),
    ("who said no to being contacted", lambda round_: Contact.consent.is_(False)),
    ("already invited", lambda round_: _invited(round_.id, Contact.id)),
)


def _outside(round_: Round) -> Any | None:
    targeted = Target.of(round_.target).clause()
    return None if targeted is None else ~targeted


def left_out_words(t: Translator) -> dict[str, str]:
    """Each reason of LEFT_OUT as `t`'s language says it, with its {count}."""
    return {"in another community": t.gettext("{count} in another community"),
            "outside the round's target": t.gettext("{count} outside the round's target"),
            "opted out": t.gettext("{count} opted out"),
            "unreachable": t.gettext("{count} unreachable"),
            "without consent in the import": t.gettext("{count} without consent in the import"),
            "who said no to being contacted": t.gettext(
                "{count} who said no to being contacted"),
            "already invited": t.gettext("{count} already invited")}


def _explain_left_out(db: Session, round_: Round, plan: Plan) -> None:
    """Why contacts will not be invited, and for a community nobody is in, the nearest one:
    a launch of "0 invitations" must say why."""
    from difflib import get_close_matches

    real = Contact.channel.not_in(trials())
    remaining: list[ColumnElement[bool]] = [real]
    for reason, condition in LEFT_OUT:
        clause = condition(round_)
        if clause is None:
            continue
        number = db.scalar(select(func.count()).select_from(Contact)
                           .where(*remaining, clause)) or 0
        if number:
            plan.left_out[reason] = number
        remaining.append(~clause)
    if round_.community and plan.left_out["in another community"]:
        present = db.scalar(select(func.count()).select_from(Contact)
                            .where(real, Contact.community == round_.community)) or 0
        if not present:
            names = cast(dict[str, int], dict(db.execute(  # NULL communities left out
                select(Contact.community, func.count()).where(
                    real, Contact.community.is_not(None)).group_by(Contact.community)).all()))
            near = get_close_matches(round_.community.lower(),
                                     [name.lower() for name in names], n=1, cutoff=0.6)
            found = next((name for name in names if near and name.lower() == near[0]), None)
            plan.absent_community = round_.community
            plan.nearest_community = (found, names[found]) if found else None


def parse_hours(text: str | None) -> list[int]:
    """"24,72" → [24, 72] (a reminder policy: hours after the invitation); RoundError else."""
    try:
        return [int(part) for part in (text or "").replace(" ", "").split(",") if part]
    except ValueError:
        raise RoundError("reminders are whole hours separated by commas, e.g. 24,72, not "
                         "{text}", text=repr(text)) from None


def parse_moment(text: str | None, what: str) -> datetime | None:
    """An ISO date or datetime ("2026-12-07T06:00", UTC unless it says) or nothing."""
    if not text or not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise RoundError("{what}: not an ISO date or datetime: {text} (e.g. 2026-12-01T09:00)",
                         what=what, text=repr(text)) from None


def parse_span(text: str) -> timedelta:
    """"2h", "90m", "1h30m", "45s" → a timedelta (surveys.spans); RoundError saying what is
    expected."""
    try:
        return spans.parse_span(text)
    except ValueError:
        raise RoundError("not a length of time above 0: {text} (e.g. 2h, 90m, 1h30m)",
                         text=repr(text)) from None


@dataclass(frozen=True)
class Pace:
    """A paced launch: its contacts' invitations queued evenly over `over` from `start`."""

    start: datetime
    over: timedelta
    contacts: int

    def due(self, index: int) -> datetime:
        """When the `index`-th contact of the launch (from 0) is queued."""
        return self.start + self.over * (index / max(self.contacts, 1))

    def per_job(self) -> int:
        """Contacts in one send job: about a second's worth (the scheduler moves jobs every
        second), so sends stay even; never more than an unpaced job's."""
        per_second = self.contacts / max(self.over.total_seconds(), 1.0)
        return max(1, min(CONTACTS_PER_SEND_JOB, math.ceil(per_second)))


def launch(database_url: str, redis: Redis, round_id: int, enqueue: Enqueue,
           progress: Progress | None = None, over: timedelta | None = None) -> int:
    """Invite every eligible contact (spread over `over` when given); returns how many were
    invited. Safe to run again: a paced launch run again spreads those left over `over`."""
    with session_scope(database_url) as db:
        round_, survey_row, survey = require_open(db, round_id, "launch")
        reachable = _reachable(round_)
        pace = None
        if over is not None:
            pace = Pace(utcnow(), over, db.scalar(select(func.count()).select_from(Contact)
                                                  .where(_eligible(round_))) or 0)
        invitations = _Invitations(survey, survey_row.id, round_id, pace)
    invited = 0
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="launch") as writers:
        writing: deque[Future[int]] = deque()
        for contacts in _uninvited(database_url, round_id, reachable):
            chunk = invitations.chunk(contacts)  # built while earlier chunks are written
            if len(writing) == WRITERS:
                invited += _written(writing.popleft(), progress)
            writing.append(writers.submit(_write_chunk, database_url, redis, enqueue, chunk))
        while writing:
            invited += _written(writing.popleft(), progress)
    analyze(database_url, WRITTEN_TABLES, invited)  # the round's sessions were not there
    return invited


def _uninvited(database_url: str, round_id: int, reachable: Any) -> Iterator[Sequence[Any]]:
    """Eligible contacts, CHUNK by CHUNK in id order (keyset: no rescans).

    A chunk is the next CHUNK reachable contacts less those the round already has: sessions are
    read by contact id range, not probed one contact at a time, because while a launch writes a
    round's sessions the planner's statistics still say the round has none.
    """
    last_id = 0
    while True:
        with session_scope(database_url) as db:
            contacts = db.execute(select(Contact.id, Contact.channel, Contact.address,
                                         Contact.language)
                                  .where(reachable, Contact.id > last_id)
                                  .order_by(Contact.id).limit(CHUNK)).all()
            if not contacts:
                return
            invited = set(db.scalars(select(SurveySession.contact_id).where(
                SurveySession.round_id == round_id,
                SurveySession.contact_id.between(contacts[0].id, contacts[-1].id))))
        last_id = contacts[-1].id
        fresh = [contact for contact in contacts if contact.id not in invited]
        if fresh:
            yield fresh


@dataclass
class _Chunk:
    contacts: int
    sessions: list[Shared]  # (contact_id,), the shared columns
    # (contact_id, address[, next_attempt_at]), the shared columns; a contact's in order
    messages: list[Shared]
    due: dict[int, datetime] | None = None  # a paced launch's: when each contact is queued
    per_job: int | None = None  # contacts in a send job (None: CONTACTS_PER_SEND_JOB)


class _Invitations:
    """Everyone of one language on one channel gets the same session state and messages: each
    is built once per chunk and shared by its rows (COPY encodes it once)."""

    def __init__(self, survey: Survey, survey_pk: int, round_id: int,
                 pace: Pace | None = None) -> None:
        self.survey, self.survey_pk, self.round_id = survey, survey_pk, round_id
        self.openings: dict[str | None, StepResult] = {}
        self.shared: dict[tuple[str | None, str], tuple[dict, list[dict]]] = {}
        self.pace, self.built = pace, 0

    def chunk(self, contacts: Sequence[Any]) -> _Chunk:
        self.shared.clear()  # each chunk's rows carry the time they were built
        sessions: list[Shared] = []
        messages: list[Shared] = []
        due: dict[int, datetime] = {}
        for contact in contacts:
            session, replies = self._shared(contact.language, contact.channel)
            sessions.append(((contact.id, new_uuid()), session))
            own: tuple[Any, ...] = (contact.id, contact.address)
            if self.pace is not None:  # (a pending row's next_attempt_at: when it is queued)
                due[contact.id] = self.pace.due(self.built)
                own += (due[contact.id],)
            self.built += 1
            messages += [(own, reply) for reply in replies]
        if self.pace is None:
            return _Chunk(len(contacts), sessions, messages)
        return _Chunk(len(contacts), sessions, messages, due, self.pace.per_job())

    def _shared(self, language: str | None, channel: str) -> tuple[dict, list[dict]]:
        found = self.shared.get((language, channel))
        if found is None:
            opening = self.openings.get(language) or self.openings.setdefault(
                language, start(self.survey, language, ask_consent=True))  # and consent
            found = self.shared[(language, channel)] = (
                _session_fields(self.survey_pk, self.round_id, opening),
                [outbox_fields(channel, reply, None, seq,
                               reply_body(reply, "invitation", opening.state["lang"]))
                 for seq, reply in enumerate(opening.replies)])
        return found


def _write_chunk(database_url: str, redis: Redis, enqueue: Enqueue, chunk: _Chunk) -> int:
    """Write a chunk's sessions and messages in one transaction, then queue its send jobs (a
    paced launch's each for when its first contact is due)."""
    own = ["contact_id", "address"] + (["next_attempt_at"] if chunk.due is not None else [])
    with session_scope(database_url) as db:
        bulk_insert_shared(db, SurveySession.__table__, ["contact_id", "uuid"],
                           chunk.sessions)
        outbox_ids = bulk_insert_shared(db, OutboxMessage.__table__, own, chunk.messages,
                                        ids=True)
    contact_ids = [values[0] for values, _ in chunk.messages]
    for batch, first in _per_contacts(outbox_ids, contact_ids, chunk.per_job):
        if chunk.due is None:
            enqueue(redis, batch)
        else:  # (a little early: the senders' limit keeps the pace, and never waits idle)
            enqueue(redis, batch, at=chunk.due[first] - PACE_LEAD)
    return chunk.contacts


def _written(writing: Future[int], progress: Progress | None) -> int:
    contacts = writing.result()  # a failed write raises here, in the caller's thread
    if progress:
        progress(contacts)
    return contacts


REMINDED_RECENTLY = timedelta(hours=20)  # a second manual remind within this skips them


class Reminded(NamedTuple):
    reminded: int
    recently_reminded: int  # skipped: reminded within REMINDED_RECENTLY (unless `again`)
    not_started: int = 0  # of those reminded: who had answered nothing yet
    part_way: int = 0  # who had begun and stopped


WHO = ("all", "not-started", "part-way")  # whom a manual remind reaches


def remind(database_url: str, redis: Redis, round_id: int, enqueue: Enqueue,
           progress: Progress | None = None, again: bool = False, who: str = "all"
           ) -> Reminded:
    """Ask again everyone invited who has not finished (or only those who have not started, or
    only those part-way through); never the opted-out or unreachable, nor (unless `again`)
    those reminded within REMINDED_RECENTLY."""
    if who not in WHO:
        raise RoundError("remind whom: one of {whom}, not {who}", whom=", ".join(WHO),
                         who=repr(who))
    now = utcnow()
    with session_scope(database_url) as db:
        _, _, survey = require_open(db, round_id, "remind")
        unfinished = [row for row in db.execute(_unfinished(round_id))
                      if who == "all" or (who == "part-way") == part_way(row.state)]
    pending = [row for row in unfinished if again or row.reminded_at is None
               or row.reminded_at <= now - REMINDED_RECENTLY]
    _send_reminders(database_url, redis, survey, pending, enqueue, now, progress)
    begun = sum(part_way(row.state) for row in pending)
    return Reminded(len(pending), len(unfinished) - len(pending), len(pending) - begun, begun)


def part_way(state: dict[str, Any]) -> bool:
    """Whether the person has begun the survey (answered a question) and not finished it."""
    return bool(state.get("answers"))


def remind_on_policy(database_url: str, redis: Redis, round_id: int, enqueue: Enqueue,
                     now: datetime) -> int:
    """The round's policy reminders now due: the k-th once `reminder_hours[k]` hours have
    passed since the invitation, each at most once per person, none within
    REMINDED_RECENTLY of another."""
    with session_scope(database_url) as db:
        round_, _, survey = get_round(db, round_id)
        hours = sorted(round_.reminder_hours or [])
        unfinished = db.execute(_unfinished(round_id)).all()
    due = [row for row in unfinished if _reminder_due(row, hours, now)]
    _send_reminders(database_url, redis, survey, due, enqueue, now, None, policy=True)
    return len(due)


def _reminder_due(row: Any, hours: list[int], now: datetime) -> bool:
    if row.reminders >= len(hours):
        return False  # every reminder of the policy sent
    invited = row.started_at.replace(tzinfo=row.started_at.tzinfo or UTC)
    last = row.reminded_at and row.reminded_at.replace(tzinfo=row.reminded_at.tzinfo or UTC)
    return bool(invited + timedelta(hours=hours[row.reminders]) <= now
                and (last is None or last <= now - REMINDED_RECENTLY))


def _unfinished(round_id: int) -> Any:
    """The round's sessions not finished, of people who may be written to."""
    return (select(SurveySession.id, SurveySession.state, SurveySession.reminded_at,
                   SurveySession.reminders, SurveySession.started_at,
                   Contact.id.label("contact_id"), Contact.channel, Contact.address)
            .join(Contact, Contact.id == SurveySession.contact_id)
            .where(SurveySession.round_id == round_id,
                   SurveySession.status.not_in(FINISHED), Contact.opted_out.is_(False),
                   Contact.unreachable.is_(None))
            .order_by(SurveySession.id))


def reminder_line(lang: str, begun: bool = False) -> Reply:
    """What a reminder says before the question the person was at: those part-way through are
    told they go on where they stopped, not that they start again."""
    if begun:
        return Reply(translator(lang).gettext(
            "A reminder: you have not finished the survey. Here is where you stopped."))
    return Reply(translator(lang).gettext("A reminder: we would still like to hear from you."))


def _send_reminders(database_url: str, redis: Redis, survey: Survey, rows: Sequence[Any],
                    enqueue: Enqueue, now: datetime, progress: Progress | None,
                    policy: bool = False) -> None:
    """A reminder and the question each person was at, written and queued in chunks."""
    for start_index in range(0, len(rows), CHUNK):
        chunk = rows[start_index:start_index + CHUNK]
        messages = []
        for row in chunk:
            lang = row.state.get("lang") or survey.default_language
            replies = [reminder_line(lang, part_way(row.state))]
            replies += resume(survey, row.state).replies
            messages += [_outbox_row(row.contact_id, row, reply, seq, lang)
                         for seq, reply in enumerate(replies)]
        values: dict[str, Any] = {"reminded_at": now}
        if policy:
            values["reminders"] = SurveySession.reminders + 1
        with session_scope(database_url) as db:
            outbox_ids = bulk_insert(db, OutboxMessage.__table__, messages, ids=True)
            db.execute(update(SurveySession).where(SurveySession.id.in_(
                [row.id for row in chunk])).values(**values))
        for batch, _ in _per_contacts(outbox_ids,
                                      [message["contact_id"] for message in messages]):
            enqueue(redis, batch)
        if progress:
            progress(len(chunk))
    analyze(database_url, WRITTEN_TABLES, len(rows))


def due_rounds(db: Session, now: datetime) -> tuple[list[int], list[int]]:
    """Rounds whose time has come: (scheduled ones to open now, open ones to close now)."""
    opening = db.scalars(select(Round.id).where(Round.status == "scheduled",
                                                Round.opens_at <= now)).all()
    closing = db.scalars(select(Round.id).where(Round.status.in_(("open", "scheduled")),
                                                Round.closes_at <= now)).all()
    return [id_ for id_ in opening if id_ not in closing], list(closing)


def open_round(db: Session, round_id: int) -> None:
    """A scheduled round opens: its code starts the survey, and it may be launched."""
    db.execute(update(Round).where(Round.id == round_id, Round.status == "scheduled")
               .values(status="open"))


def close_round(db: Session, round_id: int) -> int:
    """Close the round; sessions still open expire. Returns how many expired."""
    round_, _, _ = get_round(db, round_id)
    round_.status = "closed"
    round_.closes_at = round_.closes_at or utcnow()
    result = db.execute(update(SurveySession)
                        .where(SurveySession.round_id == round_id,
                               SurveySession.status.not_in(FINISHED))
                        .values(status="expired", updated_at=utcnow()))
    return cast(CursorResult[Any], result).rowcount or 0


@dataclass
class RoundStatus:
    round_id: int
    survey: str
    community: str | None
    status: str
    code: str | None
    totals: Counter[str]
    by_group: dict[tuple[str, str], Counter[str]]
    # messages to the round's people since it began that never arrived, by channel and the
    # provider's error code (a contact in two rounds at once is counted in both)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    # SMS segments: the estimate for the people invited (typical, longest path), and spent
    segments: Counter[str] = field(default_factory=Counter)
    # calls: the estimated minutes for the people invited (typical, longest path); calls
    # made, answered and not, and the minutes they took
    calls: Counter[str] = field(default_factory=Counter)
    # airtime thank-yous (a round that gives them): top-ups by status, spent (sent or being
    # sent) and the budget, in hundredths of `currency`
    airtime: Airtimes | None = None


@dataclass(frozen=True)
class Airtimes:
    """A round's airtime: its top-ups by status, and what was spent against its budget."""

    currency: str
    amount: int
    budget: int
    by_status: dict[str, int]
    spent: int

    def described(self) -> str:
        """'airtime (KES 10.00 each): 3 sent, 1 failed; spent KES 30.00 of KES 50.00'."""
        counts = ", ".join(f"{number} {status.replace('_', ' ')}"
                           for status, number in sorted(self.by_status.items())) or "none yet"
        return (f"airtime ({shown(self.currency, self.amount)} each): {counts}; spent "
                f"{shown(self.currency, self.spent)} of {shown(self.currency, self.budget)}")


def round_status(db: Session, round_id: int) -> RoundStatus:
    round_, survey_row, survey = get_round(db, round_id)
    answered = (select(StoredAnswer.session_id).where(StoredAnswer.session_id == SurveySession.id)
                .exists())
    rows = db.execute(
        select(Contact.language, Contact.channel, SurveySession.status, Contact.opted_out,
               answered.label("answered"), func.count())
        .join(Contact, Contact.id == SurveySession.contact_id)
        .where(SurveySession.round_id == round_id)
        .group_by(Contact.language, Contact.channel, SurveySession.status, Contact.opted_out,
                  answered))
    totals: Counter[str] = Counter()
    by_group: dict[tuple[str, str], Counter[str]] = {}
    for language, channel, status, opted_out, has_answers, number in rows:
        group = by_group.setdefault((survey.language_for(language), channel), Counter())
        for counter in (totals, group):
            counter["invited"] += number
            counter["started"] += number if has_answers or status == "completed" else 0
            counter["completed"] += number if status == "completed" else 0
            counter["opted_out"] += number if opted_out or status == "stopped" else 0
            counter["declined"] += number if status == "declined" else 0
    theirs = and_(OutboxMessage.contact_id.in_(select(SurveySession.contact_id).where(
        SurveySession.round_id == round_id)), OutboxMessage.created_at >= round_.created_at)
    failures: Counter[tuple[str, str]] = Counter()
    for channel, code, number in db.execute(
            select(OutboxMessage.channel, OutboxMessage.error_code, func.count())
            .where(theirs, OutboxMessage.status.in_(("failed", "undelivered")))
            .group_by(OutboxMessage.channel, OutboxMessage.error_code)):
        failures[(channel, code or "unknown")] += number
    segments: Counter[str] = Counter()  # SMS: the whole conversations' estimate, and spent
    calls: Counter[str] = Counter()  # calls: their minutes' estimate; made, answered, minutes
    for (lang, channel), group in by_group.items():
        unit = unit_of(channel)
        if unit == "messages":
            continue
        invitation = start(survey, lang, ask_consent=True).replies
        for path, number in conversation_cost(survey, lang, channel, invitation).items():
            if path in (f"typical_{unit}", f"longest_{unit}"):
                estimate = segments if unit == "segments" else calls
                estimate[path.removesuffix(f"_{unit}")] += number * group["invited"]
    segments["spent"] = db.scalar(select(func.coalesce(func.sum(OutboxMessage.segments), 0))
                                  .where(theirs, OutboxMessage.status.not_in(UNSPENT))) or 0
    calls.update(_calls_made(db, theirs))
    return RoundStatus(round_.id, f"{survey_row.survey_id} v{survey_row.version}",
                       round_.community, round_.status, round_.code, totals, by_group,
                       failures, segments, calls, _airtimes(db, round_))


def _airtimes(db: Session, round_: Round) -> Airtimes | None:
    """The round's airtime top-ups by status and spend; None for a round that gives none."""
    if not (round_.airtime_currency and round_.airtime_amount):
        return None
    by_status: dict[str, int] = {}
    spent = 0
    for status, number, amount in db.execute(
            select(AirtimeReward.status, func.count(), func.sum(AirtimeReward.amount))
            .where(AirtimeReward.round_id == round_.id).group_by(AirtimeReward.status)):
        by_status[status] = number
        spent += int(amount or 0) if status in SPENDING else 0
    return Airtimes(round_.airtime_currency, round_.airtime_amount,
                    round_.airtime_budget or 0, by_status, spent)


def _calls_made(db: Session, theirs: Any) -> dict[str, int]:
    """The calls heard made to a round's people: answered, not answered (each of a row's
    tries, `voice.sender.unanswered`), still ringing, all made; and the minutes they took."""
    unanswered, minutes = (func.coalesce(func.sum(OutboxMessage.reply[key].as_integer()), 0)
                           for key in ("unanswered", "minutes"))
    row = db.execute(select(
        func.count().filter(OutboxMessage.status == "delivered"), unanswered, minutes,
        func.count().filter(OutboxMessage.status == "sent", OutboxMessage.provider_id.is_not(
            None))).where(theirs, OutboxMessage.channel.in_(keypads()))).one()
    answered, missed, spent, ringing = (int(value or 0) for value in row)
    return {"answered": answered, "unanswered": missed, "minutes": spent,
            "made": answered + missed + ringing}


# statuses of messages no provider charged for
UNSPENT = ("pending", "retrying", "dispatching", "suppressed", "failed")


def _session_fields(survey_pk: int, round_id: int, opening: StepResult) -> dict[str, Any]:
    now = utcnow()
    return {"survey_pk": survey_pk, "round_id": round_id, "status": opening.state["status"],
            "state": opening.state, "started_at": now, "updated_at": now}


_body = lru_cache(maxsize=4096)(reply_body)  # one object for every row: COPY serializes it once


def _outbox_row(contact_id: int, contact: Any, reply: Reply, seq: int,
                lang: str) -> dict[str, Any]:
    """A reminder's row; its body is one object for everyone in `lang` (COPY: encoded once)."""
    return outbox_row(contact_id, contact.channel, contact.address, reply, None, seq,
                      _body(reply, "reminder", lang))


def _per_contacts(outbox_ids: list[int], contact_ids: list[int],
                  per_job: int | None = None) -> Iterator[tuple[list[int], int]]:
    """Send batches of whole contacts (`per_job`, or CONTACTS_PER_SEND_JOB, in each) with their
    first contact: one contact's messages stay together, in order."""
    per_job = per_job or CONTACTS_PER_SEND_JOB
    batch: list[int] = []
    contacts = first = 0
    previous: int | None = None
    for outbox_id, contact_id in zip(outbox_ids, contact_ids, strict=True):
        if contact_id != previous:
            previous = contact_id
            contacts += 1
            if contacts > per_job:
                yield batch, first
                batch, contacts = [], 1
            if contacts == 1:
                first = contact_id
        batch.append(outbox_id)
    if batch:
        yield batch, first
