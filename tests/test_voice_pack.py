"""A prompt pack: heard's own phrases recorded, so a call in Swahili needs no text-to-speech
voice (Twilio has none); listed for a studio, imported, played; the TwiML checked element by
element."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from heard.cli import app as cli
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.tables import OutboxMessage
from surveys.words import keypad_digits
from tests.pipeline import answers, client_for, drain
from tests.test_sms import launched
from tests.test_voice import press
from tests.test_voice_audio import AMINA, PUBLIC, folder, open_round, wav
from tests.test_voice_audio import SWAHILI as PART_RECORDED
from voice.pack import PHRASES, REPROMPT, key_of
from worker.queues import enqueue_outbound

SWAHILI = PART_RECORDED + "    audio: {sw: days_sw.wav}\n"  # every question recorded
QUESTIONS = {"source_sw.wav": wav(1.0), "days_sw.wav": wav(1.2)}


@pytest.fixture
def no_swahili_voice(runtime, twilio, monkeypatch) -> None:
    """Twilio's account, and a voice for English only (as Twilio has none for Swahili)."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "test-auth-token")
    monkeypatch.setenv("HEARD_VOICE_LANGUAGES", "en=en-US")
    monkeypatch.setenv("HEARD_CALLS_PER_SECOND", "1000")


def phrase_files(root: Path, lang: str = "sw") -> dict[str, bytes]:
    """A studio's recordings of every phrase, each a different length (so a different file)."""
    (root / lang).mkdir(parents=True)
    made = {}
    for index, msgid in enumerate(PHRASES):
        data = wav(0.5 + index / 10)
        (root / lang / f"{key_of(msgid)}.wav").write_bytes(data)
        made[msgid] = data
    return made


def played(data: bytes) -> tuple[str, str]:
    return ("Play", f"{PUBLIC}/voice/audio/{hashlib.sha256(data).hexdigest()}")


def test_the_phrases_are_listed_for_a_studio_with_their_translation(runtime, tmp_path):
    out = tmp_path / "sw.csv"
    listed = CliRunner().invoke(cli, ["voice", "prompts", "--lang", "sw", "--out", str(out)])
    assert listed.exit_code == 0, listed.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == ["file", "english", "say", "recorded"] and len(rows) == len(PHRASES) + 1
    t = translator("sw")
    greeting = PHRASES[0]
    assert rows[1] == [f"sw/{key_of(greeting)}.wav", greeting, t.gettext(greeting), "no"]
    assert f"0 of {len(PHRASES)} phrases recorded" in listed.output
    unknown = CliRunner().invoke(cli, ["voice", "prompts", "--lang", "xx"])
    assert unknown.exit_code == 2 and "heard has no translation for 'xx'" in unknown.output


def test_every_phrase_is_one_heard_says(runtime):
    """A phrase whose words changed in the code would never be played: each is a msgid."""
    pot = (Path(__file__).parent.parent / "locales" / "messages.pot").read_text(encoding="utf-8")
    for msgid in PHRASES:
        assert msgid[:60].replace('"', '\\"') in pot.replace('"\n"', ""), msgid


@pytest.mark.parametrize(("name", "data", "error"), [
    ("0000000000.wav", wav(), "0000000000 is no phrase's key"),
    (f"{key_of(REPROMPT)}.wav", b"RIFF not really", "not a WAV file that plays"),
])
def test_a_pack_with_a_bad_file_is_refused_naming_it(runtime, tmp_path, name, data, error):
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / name).write_bytes(data)
    refused = CliRunner().invoke(cli, ["voice", "import", str(tmp_path)])
    assert refused.exit_code == 1 and error in refused.output and name in refused.output


def test_a_swahili_call_without_a_voice_plays_the_survey_and_heards_phrases(
        runtime, no_swahili_voice, tmp_path):
    client = client_for(runtime)
    (tmp_path / "survey").mkdir()
    code = open_round(runtime, folder(tmp_path / "survey", SWAHILI, QUESTIONS))
    phrases = phrase_files(tmp_path / "pack")
    imported = CliRunner().invoke(cli, ["voice", "import", str(tmp_path / "pack")])
    assert imported.exit_code == 0, imported.output
    assert f"sw: {len(PHRASES)} recordings stored; every phrase recorded" in imported.output
    asked = press(client, "CP1", caller=AMINA)[0][0]  # for a code: the walk-in's, in English
    root, _ = press(client, "CP1", asked.get("action", ""), keypad_digits(code), caller=AMINA)
    gather = root[0]
    assert [(child.tag, child.text) for child in gather] == [
        played(phrases[PHRASES[0]]), played(QUESTIONS["source_sw.wav"])]  # no <Say> at all
    root, _ = press(client, "CP1", gather.get("action", ""), "7", caller=AMINA)  # not 1 or 2
    assert [(child.tag, child.text) for child in root[0]] == [
        played(phrases[REPROMPT]), played(QUESTIONS["source_sw.wav"])]
    root, _ = press(client, "CP1", root[0].get("action", ""), "1", caller=AMINA)
    assert [(child.tag, child.text) for child in root[0]] == [played(QUESTIONS["days_sw.wav"])]
    root, _ = press(client, "CP1", root[0].get("action", ""), "4", caller=AMINA)
    assert [(child.tag, child.text) for child in root] == [
        played(phrases["Thank you! Your answers have been recorded."]), ("Hangup", None)]
    assert answers(runtime) == {"source": "yes", "days": 4}


def test_a_call_to_a_swahili_contact_is_made_once_the_pack_is_complete(
        runtime, no_swahili_voice, twilio, tmp_path):
    client_for(runtime)
    invitation = launched(runtime, AMINA, "sw", channel="voice")
    enqueue_outbound(runtime.redis, invitation)
    drain(runtime)
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(OutboxMessage.error_code).where(
            OutboxMessage.id == invitation[0])).one() == "no_voice"
    phrase_files(tmp_path)
    assert CliRunner().invoke(cli, ["voice", "import", str(tmp_path)]).exit_code == 0
    again = launched(runtime, "+254712345679", "sw", channel="voice")
    enqueue_outbound(runtime.redis, again)
    drain(runtime)
    assert len(twilio.calls_to("+254712345679")) == 1
