"""Replies as USSD screens (pure): what fits a phone's one screen, and pages where it does not.

A screen holds 182 GSM-7 characters, about 80 where one character is not GSM-7 (Bengali,
Arabic: UCS-2), counted as SMS counts them (`sms.segments`). A question is shown with its
`short:` text and its choices' where the survey gives them, its options one a line as in SMS.
What does not fit goes on pages: "98 More" turns one, "0 Back" goes back one (on a first page,
back a question); messages before a question (an intro) that do not fit with it get pages of
their own, "1 Continue". Every screen that waits says which keys do what.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sms.render import render_sms
from sms.segments import GSM7_BASIC, GSM7_EXTENSION
from surveys.engine import CONSENT, Reply, ReplyChoice
from surveys.i18n import Translator, localize_digits
from surveys.model import Question, Survey
from ussd.adapter import BACK, BACK_IN_NUMBERS, CONTINUE, MORE, Shown

GSM7_SCREEN, UCS2_SCREEN = 182, 80
ASKING = frozenset({"question", "reprompt", "menu"})


@dataclass(frozen=True)
class Screens:
    """One screen's pages, and how the keys on it read."""

    pages: tuple[str, ...]
    ends: bool = False  # the last page ends the session (END)
    messages_only: int = 0  # how many first pages show messages only (an intro)
    back_key: str | None = BACK
    multi_choices: int = 0
    rejoin: bool = False

    def answer(self, page: int) -> str:
        """Page `page` as AT's answer: CON, or END on the last page of an ending screen."""
        page = max(0, min(page, len(self.pages) - 1))
        ending = self.ends and page == len(self.pages) - 1
        return ("END " if ending else "CON ") + self.pages[page]

    def shown(self, page: int) -> Shown:
        """Page `page` as the next input reads it."""
        return Shown(page, len(self.pages), page < self.messages_only, self.back_key,
                     self.multi_choices, self.rejoin)


def gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def units(text: str, ucs2: bool) -> int:
    """What `text` takes of a screen: septets in GSM-7, UTF-16 code units in UCS-2."""
    if ucs2:
        return len(text.encode("utf-16-le")) // 2
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def screen_size(text: str) -> int:
    """How much of `text`'s encoding one screen holds."""
    return GSM7_SCREEN if gsm7(text) else UCS2_SCREEN


def fits(text: str) -> bool:
    """`text` fits one USSD screen."""
    return units(text, not gsm7(text)) <= screen_size(text)


def shortened(reply: Reply, survey: Survey | None, lang: str) -> Reply:
    """The reply with the survey's `short:` texts (the question's, its choices') in `lang`."""
    if survey is None or reply.question_id not in survey.question_index:
        return reply
    question = survey.question(reply.question_id or "")
    text = (question.short or {}).get(lang)
    shorts = {choice.value: choice.short[lang] for choice in question.choices or []
              if choice.short and lang in choice.short}
    if text is None and not shorts:
        return reply
    choices = tuple(ReplyChoice(choice.number, choice.value, shorts.get(choice.value,
                                                                        choice.label),
                                choice.shown) for choice in reply.choices)
    return replace(reply, text=text if text is not None and reply.kind == "question"
                   else reply.text, choices=choices)


def lines_of(reply: Reply, t: Translator, lang: str) -> list[str]:
    """A reply as the lines a screen shows: its text, options one a line, how to answer."""
    lines = render_sms(reply).split("\n")
    if reply.multi and len(reply.choices) < 10:
        lines.append(t.gettext("Type the numbers of all that apply, e.g. {example}.",
                               example=localize_digits("13", lang)))
    return lines


def back_key_of(reply: Reply, survey: Survey | None) -> str | None:
    """The key that goes back from this question: 0, or 00 where 0 is a number's answer;
    None where nothing comes before (consent, the language menu)."""
    if reply.kind == "menu" or reply.question_id in (None, CONSENT):
        return None
    question = (survey.question(reply.question_id) if survey is not None
                and reply.question_id in survey.question_index else None)
    return BACK_IN_NUMBERS if question is not None and zero_answers(question) else BACK


def zero_answers(question: Question) -> bool:
    """0 is an answer to it: a number whose range holds 0."""
    return question.type == "number" and (question.low is None or question.low <= 0) and (
        question.high is None or question.high >= 0)


def survey_screens(replies: list[Reply], survey: Survey | None, lang: str,
                   t: Translator) -> Screens:
    """A step's replies as one screen's pages."""
    replies = [shortened(reply, survey, lang) for reply in replies if reply.text or reply.choices]
    asking = replies[-1] if replies and replies[-1].kind in ASKING else None
    back = back_key_of(asking, survey) if asking is not None else None
    told = [lines_of(reply, t, lang) for reply in (replies[:-1] if asking else replies)]
    asked = lines_of(asking, t, lang) if asking is not None else []
    pages, messages_only = paginate(told, asked, t, lang, back)
    return Screens(pages, ends=asking is None, messages_only=messages_only,
                   back_key=back or BACK,  # (on pages after the first: the page before)
                   multi_choices=len(asking.choices) if asking is not None and asking.multi
                   else 0)


def one_screen(text: str, t: Translator, lang: str, ends: bool = False,
               back_key: str | None = None, rejoin: bool = False) -> Screens:
    """heard's own words (a welcome, a refusal) as a screen, paged if they must be."""
    pages, _ = paginate([text.split("\n")], [], t, lang, None)
    return Screens(pages, ends=ends, back_key=back_key, rejoin=rejoin)


def paginate(told: list[list[str]], asked: list[str], t: Translator, lang: str,
             back: str | None) -> tuple[tuple[str, ...], int]:
    """The pages of messages `told` then a question `asked` (its lines; none: no question),
    with how many first pages show messages only. All on one page when it fits; else the
    messages have pages of their own ("1 Continue") and the question its own ("98 More")."""
    # TRANSLATORS: a USSD screen's key back (a page, or the question before), "0 Back"
    back_word = t.gettext("Back")
    back_line = f"{localize_digits(back, lang)} {back_word}" if back else None
    lines = [line for block in told for line in block] + asked
    whole = "\n".join(lines + ([back_line] if back_line else []))
    if fits(whole):
        return (whole,), 0
    # TRANSLATORS: a USSD screen's key to its next page, shown as "98 More"
    more_word = t.gettext("More")
    # TRANSLATORS: a USSD screen's key from an introduction on to the question, "1 Continue"
    go_on_word = t.gettext("Continue")
    more = f"{localize_digits(MORE, lang)} {more_word}"
    go_on = f"{localize_digits(CONTINUE, lang)} {go_on_word}"
    # a page back takes the screen's own back key (00 where 0 is an answer)
    page_back = f"{localize_digits(back or BACK, lang)} {back_word}"
    everything = "\n".join([whole, more, go_on, page_back])
    ucs2, size = not gsm7(everything), screen_size(everything)
    pages: list[str] = []
    told_lines = [line for block in told for line in block]
    if told_lines:
        pages += _fill(told_lines, size, ucs2, first_back=None, page_back=page_back,
                       more=go_on, last=go_on if asked else None, start=0)
    messages_only = len(pages) if asked else 0
    if asked:
        pages += _fill(asked, size, ucs2, first_back=back_line, page_back=page_back, more=more,
                       last=None, start=len(pages))
    return tuple(pages), messages_only


def _fill(lines: list[str], size: int, ucs2: bool, first_back: str | None, page_back: str,
          more: str, last: str | None, start: int) -> list[str]:
    """`lines` on as many pages as they need, each ending with its keys: `more` on all but
    the last (`last` on it, if any), and back (the question before on the first page of all,
    the page before on the others)."""
    pages: list[str] = []
    waiting = list(lines)
    while waiting:
        back = first_back if start + len(pages) == 0 else page_back
        ending = [line for line in (last, back) if line]
        if _room(waiting, ending, size, ucs2) >= len(waiting):
            pages.append("\n".join(waiting + ending))
            break
        footer = [line for line in (more, back) if line]
        taken = _room(waiting, footer, size, ucs2)
        if taken == 0:  # one line longer than a page: split at a space that fits
            head, rest = _split(waiting[0], size - units("\n".join(footer), ucs2) - 1, ucs2)
            waiting[:1] = [head, rest] if rest else [head]
            taken = 1
        pages.append("\n".join(waiting[:taken] + footer))
        waiting = waiting[taken:]
    return pages


def _room(lines: list[str], footer: list[str], size: int, ucs2: bool) -> int:
    """How many of `lines`, from the first, fit a page with `footer`."""
    used = units("\n".join(footer), ucs2) if footer else -1
    for count, line in enumerate(lines):
        used += units(line, ucs2) + 1
        if used > size:
            return count
    return len(lines)


def _split(line: str, room: int, ucs2: bool) -> tuple[str, str]:
    """`line` cut to fit `room`: at the last space that fits, else mid-word."""
    cut = 0
    while cut < len(line) and units(line[:cut + 1], ucs2) <= room:
        cut += 1
    space = line.rfind(" ", 0, cut + 1)
    if space > 0 and cut < len(line):
        return line[:space], line[space + 1:]
    return line[:cut], line[cut:]
