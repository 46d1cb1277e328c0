"""The survey engine: a pure function of data.

``step(survey, state, text)`` → new state, replies and answers. No database, network or clock:
every channel (SMS, Telegram, the simulators) runs the same steps, so they behave identically.
State is a plain JSON-serializable dict, stored by the worker between messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from surveys.answers import Invalid, Unsure, Value, parse_answer
from surveys.i18n import (
    Translator,
    canonical,
    language_name,
    localize_digits,
    normalize,
    translator,
)
from surveys.model import Question, Survey
from surveys.piping import Answered
from surveys.words import bare_word, command_of

State = dict[str, Any]
Status = Literal["consent", "active", "completed", "ended", "declined", "stopped"]
FINISHED: frozenset[str] = frozenset({"completed", "ended", "declined", "stopped"})
STATE_VERSION = 1
CONSENT = "_consent"  # the "question id" of the consent question (buttons carry it)


@dataclass(frozen=True)
class ReplyChoice:
    number: int
    value: str
    label: str
    shown: str = ""  # the number in the language's digits ('৩' in Bengali), as menus show it

    @property
    def mark(self) -> str:
        return self.shown or str(self.number)


def _choices(labelled: list[tuple[str, str]], lang: str) -> tuple[ReplyChoice, ...]:
    """(value, label) pairs numbered from 1, the numbers written as the language writes them."""
    return tuple(ReplyChoice(number, value, label, localize_digits(str(number), lang))
                 for number, (value, label) in enumerate(labelled, start=1))


@dataclass(frozen=True)
class Reply:
    """One outgoing message. Channels render `choices` as numbers (SMS) or buttons (Telegram)."""

    text: str
    kind: Literal["message", "question", "reprompt", "menu"] = "message"
    question_id: str | None = None
    choices: tuple[ReplyChoice, ...] = ()
    multi: bool = False
    decimal: bool = False  # a number that may have a fraction (a call's star is its point)
    # a rating's points as SMS writes them under the question, "1-5 (1 = Very bad, 5 = Very
    # good)"; its choices are the points (buttons, keys)
    scale: str = ""


@dataclass(frozen=True)
class Answer:
    question_id: str
    value: Value | None
    raw: str
    skipped: bool = False


@dataclass
class StepResult:
    state: State
    replies: list[Reply] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    retracted: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state["status"] in FINISHED


def new_state(survey: Survey, lang: str | None) -> State:
    return {"v": STATE_VERSION, "status": "active", "lang": survey.language_for(lang),
            "current": None, "asked": [], "attempts": 0, "answers": {}, "awaiting": None}


def start(survey: Survey, lang: str | None = None, ask_consent: bool = False) -> StepResult:
    """Open a session: intro, then the consent question or the first question."""
    result = StepResult(new_state(survey, lang))
    wanted, lang = lang, result.state["lang"]
    if wanted and lang != canonical(wanted).split("_")[0]:
        result.replies.append(_fallback_notice(wanted, lang))
        result.events.append("language_fallback")
    if survey.intro:
        result.replies.append(Reply(survey.intro[lang]))
    if ask_consent and survey.consent:
        result.state["status"] = "consent"
        result.state["current"] = CONSENT
        result.replies.append(_consent_reply(survey, lang))
        return result
    _advance(survey, result, after=None)
    return result


def with_language_hint(survey: Survey, opened: StepResult) -> StepResult:
    """A walk-in's first messages, telling them LANG exists: joined to the survey's intro (no
    extra message, no extra SMS), else before the first question."""
    lang = opened.state["lang"]
    hint = _words(survey, lang).gettext("Reply LANG to change the language.")
    replies = list(opened.replies)
    if replies and replies[0].kind == "message":
        replies[0] = replace(replies[0], text=f"{replies[0].text}\n{hint}")
    else:
        replies.insert(0, Reply(hint))
    return replace(opened, replies=replies)


def _fallback_notice(wanted: str, lang: str) -> Reply:
    """Told once, as a survey starts, in the contact's own language (heard's catalogs have more
    languages than most surveys): which language the survey goes on in."""
    t = translator(wanted)
    return Reply(t.gettext("This survey is not available in {language}. It continues in "
                           "{survey_language}.",
                           language=language_name(canonical(wanted), reader=wanted),
                           survey_language=language_name(lang, reader=wanted)))


def step(survey: Survey, state: State | None, text: str, today: date | None = None) -> StepResult:
    """Handle one inbound text. Never raises on any text; the state it returns is JSON. A date
    answer's relative words ("yesterday") and `today` bounds count from `today` (the day the
    message came; without it, the machine's)."""
    if not state:
        return start(survey)
    result = StepResult(_copy(state))
    state = result.state
    state["lang"] = lang = survey.language_for(state["lang"])
    t = _words(survey, lang)
    text = text if isinstance(text, str) else ""
    word = bare_word(text)
    command = command_of(text, lang)

    if command == "stop":  # a finished session keeps its outcome; the contact opts out
        if state["status"] not in FINISHED:
            state["paused"] = state["status"]  # START takes them back here
            state["status"] = "stopped"
        result.events.append("stop")
        result.replies.append(Reply(t.gettext(
            "You will get no more messages from us. Reply START to join again.")))
        return result
    if command == "start" and state["status"] == "stopped" and state.get("paused"):
        state["status"] = state.pop("paused")  # the same session, where they left off
        result.events.append("resumed")
        _ask_again(survey, result)
        return result
    if command == "start" and state["status"] in FINISHED:  # asked for consent as before
        restarted = start(survey, lang, ask_consent="consent" in state)
        restarted.events.append("restarted")
        return restarted
    if state["status"] in FINISHED:
        result.replies.append(Reply(t.gettext("This survey is finished. Thank you!")))
        return result
    if command == "start":  # mid-survey, START is never an answer: ask where they left off
        _ask_again(survey, result)
        return result
    if command == "lang":  # "LANG" or "LANG sw", also while the menu is open
        return _language_menu(survey, result, word)
    if state.get("awaiting") == "language":
        return _choose_language(survey, result, word)
    if command == "help":
        result.events.append("help")
        result.replies.append(Reply(_help_text(t)))
        _ask_again(survey, result)
        return result
    if state["status"] == "consent":
        return _consent(survey, result, text)

    question = _current(survey, state)
    if question is None:
        _advance(survey, result, after=None)
        return result
    if command == "back":
        return _back(survey, result, question)
    if command == "skip":
        if question.optional:
            result.answers.append(Answer(question.id, None, text, skipped=True))
            state["answers"][question.id] = None
            _advance(survey, result, after=question)
        else:
            result.replies.append(Reply(t.gettext("This question cannot be skipped.")))
            _ask_again(survey, result)
        return result

    meant = state.pop("confirm", None)
    if meant and meant.get("question") == question.id:  # "Did you mean 2,000?": yes stores
        verdict = parse_answer(_YES_NO, text, lang, t)  # it, no asks again, else a new answer
        if verdict == "yes":
            return _answered(survey, result, question, meant["value"], meant["raw"])
        if verdict == "no":
            _ask_again(survey, result)
            return result
    value = parse_answer(question.offered(state["answers"]), text, lang, t, today)
    if isinstance(value, Invalid):
        return _invalid(survey, result, question, value)
    if isinstance(value, Unsure):  # asked back, not guessed; no attempt spent
        state["confirm"] = {"question": question.id, "value": value.value, "raw": text}
        result.replies.append(Reply(
            t.gettext("Did you mean {number}?", number=t.number(value.value)),
            kind="question", question_id=question.id, choices=_yes_no_choices(t)))
        return result
    return _answered(survey, result, question, value, text)


_YES_NO = Question(id="_yes_no", type="yesno", text={"en": "-"})


def _yes_no_choices(t: Translator, lang: str | None = None) -> tuple[ReplyChoice, ...]:
    return _choices([("yes", t.gettext("Yes")), ("no", t.gettext("No"))], lang or t.lang)


def _answered(survey: Survey, result: StepResult, question: Question, value: Value,
              raw: str) -> StepResult:
    refused = _refused(survey, result.state, question, value)
    if refused is not None:
        return _invalid(survey, result, question, refused)
    result.answers.append(Answer(question.id, value, raw))
    result.state["answers"][question.id] = value
    _advance(survey, result, after=question)
    return result


def _refused(survey: Survey, state: State, question: Question, value: Value) -> Invalid | None:
    """Why an answer its constraint refuses is refused (its constraint_message, else heard's
    words); None when it has no constraint or meets it."""
    accepts = question.accepts
    if accepts is None or accepts.evaluate(state["answers"] | {"answer": value}):
        return None
    lang = state["lang"]
    if question.constraint_message:
        return Invalid(_answered_so_far(survey, state).pipe(question.constraint_message[lang]))
    return Invalid(_words(survey, lang).gettext(
        "This answer is not possible here. Please check it and reply again."))


def _answered_so_far(survey: Survey, state: State) -> Answered:
    return Answered(survey, state["answers"], state["lang"])


def resume(survey: Survey, state: State) -> StepResult:
    """Ask the current question (or consent) again, e.g. after the contact opted back in."""
    result = StepResult(_copy(state))
    result.state["lang"] = survey.language_for(result.state["lang"])
    _ask_again(survey, result)
    return result


def _advance(survey: Survey, result: StepResult, after: Question | None) -> None:
    """Move to the next question whose `when` holds, sending notes on the way."""
    state = result.state
    lang = state["lang"]
    index = 0 if after is None else survey.question_index[after.id] + 1
    state["attempts"] = 0
    answered = _answered_so_far(survey, state)
    for question in survey.questions[index:]:
        condition = question.condition
        if condition is not None and not condition.evaluate(state["answers"]):
            continue
        if question.type == "calculate":
            _calculate(result, question)
            continue
        if not question.answerable:
            result.replies.append(Reply(answered.pipe(question.text[lang]),
                                        question_id=question.id))
            continue
        if question.choices and not question.offered(state["answers"]).choices:
            continue  # its choice_filter offers nothing: there is nothing to ask
        state["current"] = question.id
        if not state["asked"] or state["asked"][-1] != question.id:
            state["asked"].append(question.id)
        result.replies.append(question_reply(question, lang, survey.words_for(lang), answered))
        return
    state["current"] = None
    state["status"] = "completed"
    result.events.append("completed")
    result.replies.append(closing_reply(survey, lang, answered))


def _calculate(result: StepResult, question: Question) -> None:
    """A calculation's number, stored as its answer when reached (none when an operand is
    missing: a stale one from before a BACK is withdrawn)."""
    answers = result.state["answers"]
    value = question.calculation.value(answers) if question.calculation else None
    if value is not None:
        answers[question.id] = value
        result.answers.append(Answer(question.id, value, question.calculate or ""))
    elif answers.pop(question.id, None) is not None:
        result.retracted.append(question.id)


def closing_reply(survey: Survey, lang: str, answered: Answered | None = None) -> Reply:
    """The survey's last message: its own closing (with the answers it pipes in), else heard's
    thanks."""
    if survey.closing:
        text = survey.closing[lang]
        return Reply(answered.pipe(text) if answered is not None else text)
    return Reply(_words(survey, lang).gettext("Thank you! Your answers have been recorded."))


def question_reply(question: Question, lang: str, words: str | None = None,
                   answered: Answered | None = None) -> Reply:
    """The question as sent in `lang`; yes and no in heard's `words` for it (its catalog's
    language, else the survey's `system_language`). A question that pipes answers in or
    filters its choices is built from `answered` each time (without it, as written: what an
    estimate of its length needs); any other is built once per language."""
    if question.piped and answered is not None:
        return _build_question_reply(question.offered(answered.answers), lang, words or lang,
                                     answered)
    key = ("reply", lang)
    reply = question.memo.get(key)
    if reply is None:
        reply = question.memo[key] = _build_question_reply(question, lang, words or lang)
    return reply  # type: ignore[return-value]


def _words(survey: Survey, lang: str) -> Translator:
    """heard's own words for a session in `lang`: its catalog, else the survey's
    `system_language` (the survey's texts are in `lang` whatever heard has)."""
    return translator(survey.words_for(lang))


def _build_question_reply(question: Question, lang: str, words: str,
                          answered: Answered | None = None) -> Reply:
    def said(text: str) -> str:
        return answered.pipe(text) if answered is not None else text

    text = said(question.text.get(lang, ""))
    if question.hint:
        text = f"{text}\n{said(question.hint[lang])}"
    scale = ""
    if question.type == "yesno":
        choices = _yes_no_choices(translator(words), lang)
    elif question.type == "rating":
        choices, scale = _rating_points(question, lang)
    else:
        choices = _choices([(choice.value, said(choice.text[lang]))
                            for choice in question.choices or []], lang)
    return Reply(text, kind="question", question_id=question.id, choices=choices,
                 multi=question.type == "multi", scale=scale,
                 decimal=question.type == "number" and question.decimal)


def _rating_points(question: Question, lang: str) -> tuple[tuple[ReplyChoice, ...], str]:
    """A rating's points as choices (labelled by their words where the survey gives some,
    else by their number), and its scale as SMS writes it: "1-5 (1 = Very bad, 5 = Good)"."""
    labels = question.labels.get(lang, {})
    points = range(1, question.points + 1)
    choices = tuple(ReplyChoice(point, str(point), labels.get(point) or shown, shown)
                    for point in points for shown in [localize_digits(str(point), lang)])
    scale = f"{choices[0].mark}-{choices[-1].mark}"
    meanings = [f"{choice.mark} = {labels[choice.number]}" for choice in choices
                if choice.number in labels]
    return choices, f"{scale} ({', '.join(meanings)})" if meanings else scale


def _current(survey: Survey, state: State) -> Question | None:
    current = state.get("current")
    if current in survey.question_index:
        return survey.question(current)
    return None


def _ask_again(survey: Survey, result: StepResult) -> None:
    state = result.state
    if state["status"] == "consent":
        result.replies.append(_consent_reply(survey, state["lang"]))
    elif (question := _current(survey, state)) is not None:
        result.replies.append(question_reply(question, state["lang"],
                                             survey.words_for(state["lang"]),
                                             _answered_so_far(survey, state)))


def _invalid(survey: Survey, result: StepResult, question: Question,
             invalid: Invalid) -> StepResult:
    state = result.state
    state["attempts"] += 1
    if state["attempts"] < question.max_attempts:
        reply = question_reply(question, state["lang"], survey.words_for(state["lang"]),
                               _answered_so_far(survey, state))
        result.replies.append(Reply(invalid.message, kind="reprompt", question_id=question.id,
                                    choices=reply.choices, multi=reply.multi,
                                    decimal=reply.decimal, scale=reply.scale))
        return result
    t = _words(survey, state["lang"])
    if question.on_max_attempts == "end":
        state["status"] = "ended"
        state["current"] = None
        result.events.append("ended")
        result.replies.append(Reply(t.gettext(
            "We could not understand your answer, so this survey has ended. Thank you.")))
        return result
    result.events.append("gave_up")
    result.replies.append(Reply(t.gettext("Let's move on to the next question.")))
    _advance(survey, result, after=question)
    return result


def _back(survey: Survey, result: StepResult, question: Question) -> StepResult:
    state = result.state
    asked = state["asked"]
    if len(asked) < 2:
        result.replies.append(Reply(_words(survey, state["lang"]).gettext(
            "This is the first question.")))
        _ask_again(survey, result)
        return result
    asked.pop()
    previous = survey.question(asked[-1])
    state["current"] = previous.id
    state["attempts"] = 0
    if previous.id in state["answers"]:
        del state["answers"][previous.id]
        result.retracted.append(previous.id)
    result.replies.append(question_reply(previous, state["lang"], survey.words_for(state["lang"]),
                                         _answered_so_far(survey, state)))
    return result


def _language_menu(survey: Survey, result: StepResult, word: str) -> StepResult:
    parts = word.split(" ", 1)
    if len(parts) == 2:  # "LANG sw" switches at once
        return _choose_language(survey, result, parts[1])
    t = _words(survey, result.state["lang"])
    result.state["awaiting"] = "language"
    choices = _choices([(code, language_name(code)) for code in survey.languages],
                       result.state["lang"])
    result.replies.append(Reply(t.gettext("Choose your language:"), kind="menu", choices=choices))
    return result


def _choose_language(survey: Survey, result: StepResult, word: str) -> StepResult:
    state = result.state
    chosen = None
    for number, code in enumerate(survey.languages, start=1):
        if word in (str(number), code.lower(), normalize(language_name(code))):
            chosen = code
    if chosen is None:
        result.state["awaiting"] = None
        return _language_menu(survey, result, "")
    state["awaiting"] = None
    state["lang"] = chosen
    result.events.append("language")
    result.replies.append(Reply(_words(survey, chosen).gettext(
        "Language changed to {language}.", language=language_name(chosen))))
    if state["status"] in FINISHED:
        return result
    if state["current"] is None and state["status"] == "active":
        _advance(survey, result, after=None)
    else:
        _ask_again(survey, result)
    return result


def _consent_reply(survey: Survey, lang: str) -> Reply:
    t = _words(survey, lang)
    text = survey.consent[lang] if survey.consent else t.gettext("Do you agree to take part?")
    return Reply(text, kind="question", question_id=CONSENT, choices=_yes_no_choices(t))


def _consent(survey: Survey, result: StepResult, text: str) -> StepResult:
    state = result.state
    t = _words(survey, state["lang"])
    value = parse_answer(_YES_NO, text, state["lang"], t)
    if isinstance(value, Invalid):
        reply = _consent_reply(survey, state["lang"])
        result.replies.append(Reply(value.message, kind="reprompt", question_id=CONSENT,
                                    choices=reply.choices))
        return result
    state["consent"] = value  # kept with the session: agreeing to be contacted is not this
    if value == "no":
        state["status"] = "declined"
        state["current"] = None
        result.events.append("declined")
        result.replies.append(Reply(t.gettext(
            "Thank you. We will not ask you again for this survey.")))
        return result
    state["status"] = "active"
    result.events.append("consented")
    _advance(survey, result, after=None)
    return result


def _help_text(t: Translator) -> str:
    # TRANSLATORS: one SMS: at most 160 characters in Latin letters (no accents beyond GSM-7's)
    return t.gettext(
        "heard is a survey for your community. Answer each question. SKIP skips an optional "
        "question, BACK goes back, LANG changes language, STOP ends all messages.")


def _copy(state: State) -> State:
    copied = dict(state)
    copied["asked"] = list(state.get("asked") or [])
    copied["answers"] = dict(state.get("answers") or {})
    copied.setdefault("attempts", 0)
    copied.setdefault("awaiting", None)
    copied.setdefault("status", "active")
    copied.setdefault("current", None)
    copied.setdefault("lang", "en")
    return copied


__all__ = ["Answer", "Reply", "ReplyChoice", "StepResult", "new_state", "question_reply",
           "resume", "start", "step", "with_language_hint"]
