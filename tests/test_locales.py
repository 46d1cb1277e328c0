"""heard's catalogs and keywords: complete, well-formed, up to date, and used by the engine.

The workflow these tests hold together is in locales/README.md. The one a developer meets most:
a new `t.gettext("...")` in the code fails `test_pot_is_up_to_date` until the template is
re-extracted, and then `test_every_catalog_translates_every_msgid` until each language has it.
"""

from __future__ import annotations

import io
import json
import re
import string
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from ruamel.yaml import YAML

from sms.render import render_sms
from surveys.engine import Reply, StepResult, start, step
from surveys.i18n import (
    COMMANDS,
    KEYWORDS_FILE,
    LOCALES_DIR,
    keywords,
    language_name,
    normalize,
    translator,
)
from surveys.model import Survey
from surveys.validation import load_survey

ROOT = LOCALES_DIR.parent
POT = LOCALES_DIR / "messages.pot"
BABEL_CFG = ROOT / "babel.cfg"
PO_FILES = sorted(LOCALES_DIR.glob("*/LC_MESSAGES/messages.po"))
LANGUAGES = [path.parent.parent.name for path in PO_FILES]
# The languages heard ships; more may be added (see locales/README.md), none may go missing.
SHIPPED = {"en", "fr", "es", "sw", "bn", "hi", "ne", "vi", "da", "fil", "ny"}
WORKFLOW = ("pybabel extract -F babel.cfg -o locales/messages.pot . && "
            "pybabel update -i locales/messages.pot -d locales")


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


@cache
def template() -> Catalog:
    return read(POT)


@cache
def catalog(lang: str) -> Catalog:
    return read(LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po", locale=lang)


def messages(cat: Catalog) -> list[Message]:
    return [message for message in cat if message.id]


def key(message_id: str | tuple | list) -> str | tuple[str, ...]:
    """A msgid as the .pot holds it: the string, or (singular, plural) for ngettext."""
    if isinstance(message_id, str):
        return message_id
    return tuple(part for part in message_id if part is not None)


def forms(message: Message) -> list[str]:
    if isinstance(message.string, str):
        return [message.string]
    return list(message.string)


def placeholders(text: str) -> set[str]:
    """The str.format field names in `text` ('{min}' → 'min'); raises on unbalanced braces."""
    return {field.split(".")[0].split("[")[0]
            for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_every_shipped_language_has_a_catalog():
    assert not SHIPPED - set(LANGUAGES), f"missing catalogs: {sorted(SHIPPED - set(LANGUAGES))}"


def test_pot_is_up_to_date():
    """The .pot holds exactly the msgids the code uses (extracted as `pybabel extract` does)."""
    with BABEL_CFG.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(BABEL_CFG))
    in_code: dict[str | tuple[str, ...], list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map):
        in_code.setdefault(key(message), []).append(f"{filename}:{lineno}")
    in_pot = {key(message.id) for message in messages(template())}
    missing = {msgid: places for msgid, places in in_code.items() if msgid not in in_pot}
    stale = in_pot - set(in_code)
    problems = [f"  {msgid!r} ({', '.join(places)})" for msgid, places in missing.items()]
    problems += [f"  {msgid!r} (no longer in the code)" for msgid in sorted(stale, key=str)]
    assert not problems, (
        "locales/messages.pot is out of date with the code:\n" + "\n".join(problems)
        + f"\nRun: {WORKFLOW}\nthen translate the new entries in every "
        "locales/<lang>/LC_MESSAGES/messages.po (see locales/README.md).")


def test_pot_holds_the_engine_messages():
    ids = {key(message.id) for message in messages(template())}
    for sample in ("Please reply 1 for {yes} or 2 for {no}.", "Choose your language:",
                   "You will get no more messages from us. Reply START to join again.",
                   "That button was for an earlier question."):
        assert sample in ids


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_catalog_translates_every_msgid(lang):
    cat = catalog(lang)
    expected = {key(message.id) for message in messages(template())}
    present = {key(message.id) for message in messages(cat)}
    assert not expected - present, (
        f"{lang}: msgids missing from the catalog: {sorted(expected - present, key=str)}; "
        f"run: pybabel update -i locales/messages.pot -d locales")
    assert not present - expected, (
        f"{lang}: msgids no longer in locales/messages.pot: {sorted(present - expected, key=str)}")
    untranslated = [message.id for message in messages(cat)
                    if not all(form.strip() for form in forms(message))]
    assert not untranslated, f"{lang}: untranslated: {untranslated}"
    fuzzy = [message.id for message in messages(cat) if message.fuzzy]
    assert not fuzzy, (f"{lang}: fuzzy entries (check the translation, then delete the "
                       f"'#, fuzzy' line): {fuzzy}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match_the_msgid(lang):
    for message in messages(catalog(lang)):
        if isinstance(message.id, str):
            wanted = placeholders(message.id)
            for form in forms(message):
                assert placeholders(form) == wanted, (lang, message.id, form)
        else:  # ngettext: {n} is always given; a singular form may spell it as a word
            wanted = set().union(*map(placeholders, message.id)) - {"n"}
            for form in forms(message):
                assert placeholders(form) - {"n"} == wanted, (lang, message.id, form)
                assert placeholders(form) <= wanted | {"n"}, (lang, message.id, form)
        for form in forms(message):
            form.format(n=1, **{name: "x" for name in placeholders(form) if name != "n"})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_command_words_stay_in_latin_capitals(lang):
    """'Reply START to join again': English command words work everywhere, so keep them."""
    command = re.compile(r"\b(?:STOP|START|HELP|SKIP|BACK|LANG)\b")
    for message in messages(catalog(lang)):
        wanted = set(command.findall(" ".join(
            (message.id,) if isinstance(message.id, str) else message.id)))
        for form in forms(message):
            assert wanted <= set(command.findall(form)), (lang, message.id, form)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_compiles_with_valid_plural_forms(lang):
    cat = catalog(lang)
    rule = get_plural(lang)
    assert cat.num_plurals == rule.num_plurals, f"{lang}: Plural-Forms header != CLDR's"
    assert cat.plural_expr == rule.plural_expr, f"{lang}: Plural-Forms header != CLDR's"
    for message in messages(cat):
        if message.pluralizable:
            assert len(forms(message)) == cat.num_plurals, (lang, message.id)
    errors = [(message.id, [str(error) for error in found]) for message, found in cat.check()]
    assert not errors, f"{lang}: {errors}"
    buffer = io.BytesIO()
    write_mo(buffer, cat)
    assert buffer.getvalue()


PLURAL_CASES = [
    ("fr", 0, "0 participant"), ("fr", 1, "1 participant"), ("fr", 2, "2 participants"),
    ("fr", 1_000_000, "1 000 000 de participants"),  # plain spaces: GSM-7, not U+202F
    ("es", 1, "1 participante"), ("es", 0, "0 participantes"),
    ("es", 1_000_000, "1.000.000 de participantes"),
    ("en", 1, "1 participant"), ("en", 0, "0 participants"),
]


@pytest.mark.parametrize(("lang", "n", "expected"), PLURAL_CASES)
def test_plural_forms_pick_the_cldr_word(lang, n, expected):
    """CLDR's forms are chosen by count: French 0 is singular, a million takes 'de'."""
    assert translator(lang).ngettext("{n} participant", "{n} participants", n) == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_heard_loads_the_catalog(lang):
    """surveys.i18n compiles the .po in memory; what it returns is the msgstr."""
    by_id = {message.id: message.string for message in messages(catalog(lang))}
    t = translator(lang)
    assert t.gettext("Yes") == by_id["Yes"]
    assert t.gettext("Please reply with one number from 1 to {count}.", count="3") == \
        by_id["Please reply with one number from 1 to {count}."].format(count="3")


# --- keywords ----------------------------------------------------------------------------------


def keyword_table() -> dict[str, dict[str, list]]:
    return YAML(typ="safe").load(KEYWORDS_FILE.read_text(encoding="utf-8"))


def test_keywords_use_known_commands_and_words():
    table = keyword_table()
    assert set(COMMANDS) <= set(table["en"]), "English keywords must cover every command"
    for lang, commands in table.items():
        unknown = set(commands) - set(COMMANDS)
        assert not unknown, f"{lang}: unknown commands {sorted(unknown)}; known: {COMMANDS}"
        for command, words in commands.items():
            assert isinstance(words, list) and words, f"{lang}.{command}: give a list of words"
            for word in words:
                assert isinstance(word, str) and normalize(word), (lang, command, word)


@pytest.mark.parametrize("lang", sorted(keyword_table()))
def test_no_keyword_means_two_commands(lang):
    """Within a language, and together with English (which always works too)."""
    table = keyword_table()
    meaning: dict[str, tuple[str, str, str]] = {}
    clashes = []
    for source in dict.fromkeys(("en", lang)):
        for command, words in table[source].items():
            for word in words:
                normalized = normalize(word)
                seen = meaning.setdefault(normalized, (command, source, word))
                if seen[0] != command:
                    clashes.append(f"{word!r} ({source}: {command}) and {seen[2]!r} "
                                   f"({seen[1]}: {seen[0]})")
    assert not clashes, f"{lang}: words meaning two commands: {clashes}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_yes_and_no_labels_are_keywords(lang):
    """A yes-no question shows '1 <Yes> 2 <No>': typing the label itself must answer it."""
    by_id = {message.id: message.string for message in messages(catalog(lang))}
    words = keywords(lang)
    assert words.get(normalize(by_id["Yes"])) == "yes", f"{lang}: add {by_id['Yes']!r} to yes"
    assert words.get(normalize(by_id["No"])) == "no", f"{lang}: add {by_id['No']!r} to no"


# --- a conversation in Bangla, Swahili and Hindi ------------------------------------------------

TRILINGUAL = Path(__file__).parent / "data" / "trilingual.yaml"
SCRIPTS = {"bn": re.compile(r"[\u0980-\u09ff]"), "hi": re.compile(r"[\u0900-\u097f]"),
           "sw": re.compile(r"^[\x00-\x7f]+$")}
NATIVE_FIVE = {"bn": "৫", "hi": "५", "sw": "5"}
YES = {"bn": "হ্যাঁ", "sw": "ndiyo", "hi": "हाँ"}
NO = {"bn": "না", "sw": "hapana", "hi": "नहीं"}


@pytest.fixture(scope="module")
def trilingual() -> Survey:
    return load_survey(TRILINGUAL)


def english_phrases() -> set[str]:
    """Every run of three words of every English msgid: a reply containing one leaked English."""
    phrases = set()
    for message in messages(template()):
        for msgid in (message.id,) if isinstance(message.id, str) else message.id:
            for literal in re.split(r"\{[^}]*\}", msgid):
                words = literal.lower().split()
                phrases.update(" ".join(words[i:i + 3]) for i in range(len(words) - 2))
    return phrases


def talk(survey: Survey, result: StepResult, *texts: str) -> tuple[StepResult, list[Reply]]:
    replies = list(result.replies)
    for text in texts:
        result = step(survey, json.loads(json.dumps(result.state)), text)
        replies += result.replies
    return result, replies


def conversation(survey: Survey, lang: str) -> tuple[StepResult, list[Reply]]:
    number_in_menu = str(survey.languages.index(lang) + 1)
    return talk(survey, start(survey, lang),
                "BACK",                 # the first question: says so, asks again
                "many", "99",           # not a number, out of range: re-prompts
                "HELP",
                "SKIP",                 # a required question cannot be skipped
                NATIVE_FIVE[lang],      # people = 5, in the language's own digits
                "9", "0",               # two bad choices: max_attempts 2, moves on
                "x y",                  # not choice numbers
                "SKIP",                 # problems is optional
                "maybe",                # not yes or no
                YES[lang],              # school = yes, by the language's word
                "",                     # text needs a few words
                "x" * 31,               # ... under 30 characters
                "LANG", number_in_menu,
                "STOP",
                "hello")                # the survey is over


def system_texts(survey: Survey, lang: str, replies: list[Reply]) -> list[str]:
    """heard's own words: everything but the survey's intro and question texts."""
    intro = survey.intro[lang] if survey.intro else None
    return [reply.text for reply in replies if reply.kind != "question" and reply.text != intro]


@pytest.mark.parametrize("lang", ["bn", "sw", "hi"])
def test_conversation_has_no_english_system_text(trilingual, lang):
    result, replies = conversation(trilingual, lang)
    assert result.state["status"] == "stopped"
    assert result.state["answers"] == {"people": 5, "problems": None, "school": "yes"}
    phrases = english_phrases()
    for reply in replies:
        rendered = render_sms(reply)
        leaked = sorted(phrase for phrase in phrases if phrase in rendered.lower())
        assert not leaked, f"{lang}: English in {rendered!r}: {leaked}"
        assert not {choice.label for choice in reply.choices} & {"Yes", "No"}, rendered
    texts = system_texts(trilingual, lang, replies)
    kinds = {reply.kind for reply in replies}
    assert {"reprompt", "menu", "message", "question"} <= kinds
    assert len(texts) >= 12
    for text in texts:
        assert SCRIPTS[lang].search(text), f"{lang}: not in the language's script: {text!r}"


def test_replies_change_with_the_language(trilingual):
    said = {lang: system_texts(trilingual, lang, conversation(trilingual, lang)[1])
            for lang in ("bn", "sw", "hi")}
    assert len({len(texts) for texts in said.values()}) == 1  # the same conversation ...
    for position in range(len(said["bn"])):                   # ... in three languages
        assert len({said[lang][position] for lang in said}) == 3, position
    english = {message.id for message in messages(template()) if isinstance(message.id, str)}
    for texts in said.values():
        assert not set(texts) & english


@pytest.mark.parametrize("lang", ["bn", "sw", "hi"])
def test_endings_in_the_language(trilingual, lang):
    """Completed, ended after bad answers and declined consent: no English either."""
    phrases = english_phrases()
    completed = talk(trilingual, start(trilingual, lang), "3", "1", "1 2", NO[lang], "SKIP")[0]
    ended = talk(trilingual, start(trilingual, lang), "3", "1", "1", "maybe", "perhaps")[0]
    declined = talk(trilingual, start(trilingual, lang, ask_consent=True), NO[lang])[0]
    assert completed.state["status"] == "completed"
    assert completed.state["answers"]["school"] == "no"
    assert ended.state["status"] == "ended"
    assert declined.state["status"] == "declined"
    for result in (completed, ended, declined):
        text = result.replies[-1].text
        assert not [phrase for phrase in phrases if phrase in text.lower()], text
        assert SCRIPTS[lang].search(text), text


@pytest.mark.parametrize("lang,words,value", [
    ("bn", ["হ্যাঁ", "হ্যা", "ha", "haan", "জি", "ji"], "yes"),
    ("bn", ["না", "na", "জি না"], "no"),
    ("sw", ["ndiyo", "Ndio", "sawa"], "yes"),
    ("sw", ["hapana", "HAPANA", "siyo"], "no"),
    ("hi", ["हाँ", "हां", "haan", "जी", "ji"], "yes"),
    ("hi", ["नहीं", "nahi", "nahin", "ना"], "no"),
    ("bn", ["yes", "1"], "yes"),  # English and numbers always work
    ("hi", ["no", "2"], "no"),
])
def test_yes_no_words_answer_in_each_language(trilingual, lang, words, value):
    for word in words:
        result = talk(trilingual, start(trilingual, lang), "3", "1", "SKIP", word)[0]
        assert result.state["answers"].get("school") == value, (lang, word)


@pytest.mark.parametrize("lang,stop,help_word", [("bn", "বন্ধ করুন", "সাহায্য"),
                                                ("sw", "sitisha", "msaada"),
                                                ("hi", "band karo", "मदद")])
def test_local_command_words(trilingual, lang, stop, help_word):
    helped = talk(trilingual, start(trilingual, lang), help_word)[0]
    assert "help" in helped.events
    stopped = talk(trilingual, start(trilingual, lang), stop)[0]
    assert stopped.state["status"] == "stopped"


@pytest.mark.parametrize(("code", "name"), [("bn", "বাংলা"), ("ne", "नेपाली"), ("sw", "Kiswahili"),
                                            ("ny", "Chichewa")])
def test_languages_are_named_as_their_speakers_name_them(code, name):
    assert language_name(code) == name
