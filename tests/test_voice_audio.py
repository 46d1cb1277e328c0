"""Recorded prompts on a call: files beside the YAML, checked and stored by their sha256,
played with <Play> where a language has them, served at /voice/audio/<sha256>."""

from __future__ import annotations

import hashlib
import io
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import select

from surveys import catalog, media
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.tables import SurveyMedia
from surveys.validation import SurveyError, load_survey
from surveys.words import keypad_digits
from tests.pipeline import answers, client_for, count
from tests.test_cli import heard
from tests.test_sms import PUBLIC, TOKEN
from tests.test_voice import RAHIMA, press
from voice.minutes import estimated_seconds, said_seconds
from voice.prompts import unrecorded
from voice.render import keys_greeting
from worker import rounds

AMINA = "+254712345678"  # Kenya: Swahili
BENGALI = """\
id: test-bn-audio
version: 1
languages: [bn]
title: {bn: পানি}
intro: {bn: পানি নিয়ে দুটি প্রশ্ন।}
closing: {bn: ধন্যবাদ!}
audio:
  intro: {bn: intro_bn.wav}
  closing: {bn: closing_bn.mp3}
questions:
  - id: source
    type: choice
    text: {bn: আপনি কোথা থেকে পানি পান?}
    audio: {bn: source_bn.wav}
    choices:
      - {value: tap, text: {bn: বাড়ির কল}}
      - {value: well, text: {bn: কূপ}}
  - id: days
    type: number
    text: {bn: সপ্তাহে কত দিন পানি থাকে?}
"""
SWAHILI = """\
id: test-sw-audio
version: 1
languages: [sw]
title: {sw: Maji}
questions:
  - id: source
    type: yesno
    text: {sw: Una maji nyumbani?}
    audio: {sw: source_sw.wav}
  - id: days
    type: number
    text: {sw: Siku ngapi kwa wiki?}
"""


def wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A real WAV of silence (16-bit mono PCM)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(bytes(2 * int(seconds * rate)))
    return buffer.getvalue()


def mp3(frames: int = 40) -> bytes:
    """Real MPEG-1 Layer III frames of silence (128 kbit/s, 44.1 kHz: 417 bytes, 26 ms each)."""
    return (bytes([0xFF, 0xFB, 0x90, 0x00]) + bytes(413)) * frames


def folder(tmp_path: Path, survey: str, files: dict[str, bytes]) -> Path:
    """The survey's YAML with its recordings beside it."""
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    path = tmp_path / "survey.yaml"
    path.write_text(survey, encoding="utf-8")
    return path


RECORDINGS = {"intro_bn.wav": wav(1.5), "source_bn.wav": wav(2.0), "closing_bn.mp3": mp3()}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def url(name: str) -> str:
    return f"{PUBLIC}/voice/audio/{sha(RECORDINGS[name])}"


@pytest.fixture
def bengali_voice(runtime, monkeypatch) -> None:
    for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
                        "PUBLIC_BASE_URL": PUBLIC,
                        "HEARD_VOICE_LANGUAGES": "en=en-US,bn=bn-IN"}.items():
        monkeypatch.setenv(name, value)


def heard_lines(parent: ET.Element) -> list[tuple[str, str]]:
    """Each child as (tag, what it plays or says); every <Say> in bn-IN."""
    assert {say.get("language") for say in parent.findall("Say")} <= {"bn-IN"}
    return [(child.tag, child.text or "") for child in parent]


def gathered(root: ET.Element) -> tuple[list[tuple[str, str]], str]:
    assert [child.tag for child in root] == ["Gather", "Redirect"]
    return heard_lines(root[0]), root[0].get("action", "")


def open_round(runtime, path: Path) -> str:
    with session_scope(runtime.database_url) as db:
        row = catalog.register(db, load_survey(path))
        return rounds.create_round(db, row, None).code or ""


def test_a_bengali_call_plays_the_recordings_and_says_heards_own_words(runtime, bengali_voice,
                                                                         tmp_path):
    client = client_for(runtime)
    code = open_round(runtime, folder(tmp_path, BENGALI, RECORDINGS))
    t = translator("bn")
    said, action = gathered(press(client, "CB1", caller=RAHIMA)[0])  # Bangladesh: Bengali
    assert said == [("Say", t.gettext("Welcome to heard. To answer a survey, type its code "
                                      "with your phone's keys, then press the hash key."))]
    said, action = gathered(press(client, "CB1", action, keypad_digits(code), RAHIMA)[0])
    assert said == [("Play", url("intro_bn.wav")),
                    ("Say", keys_greeting(t)),
                    ("Play", url("source_bn.wav"))]  # the recording says how to answer
    said, action = gathered(press(client, "CB1", action, "7", RAHIMA)[0])  # no such choice
    assert said == [("Say", "১ থেকে ২-এর মধ্যে একটি সংখ্যা পাঠান।"),  # heard's reprompt, said
                    ("Play", url("source_bn.wav"))]
    said, action = gathered(press(client, "CB1", action, "2", RAHIMA)[0])
    assert said == [("Say", "সপ্তাহে কত দিন পানি থাকে?"),  # not recorded: said in bn-IN
                    ("Say", t.gettext("Type your answer with the number keys, then press the "
                                      "hash key."))]
    root, _ = press(client, "CB1", action, "5", RAHIMA)
    assert heard_lines(root) == [("Play", url("closing_bn.mp3")), ("Hangup", "")]
    assert answers(runtime) == {"source": "well", "days": 5}
    for name, data in RECORDINGS.items():  # what Twilio fetches to play
        fetched = client.get(url(name).removeprefix(PUBLIC))
        assert fetched.status_code == 200 and fetched.content == data
        assert fetched.headers["content-type"] == (
            "audio/mpeg" if name.endswith(".mp3") else "audio/wav")
        assert "immutable" in fetched.headers["cache-control"]


def test_an_unknown_recording_is_404(runtime):
    client = client_for(runtime)
    assert client.get(f"/voice/audio/{'0' * 64}").status_code == 404
    assert client.get("/voice/audio/not-a-hash").status_code == 404


def test_recordings_are_stored_once_by_hash_and_named_in_the_definition(runtime, tmp_path):
    path = folder(tmp_path, BENGALI, RECORDINGS)
    survey = load_survey(path)
    assert survey.questions[0].audio["bn"].sha256 == sha(RECORDINGS["source_bn.wav"])
    assert survey.questions[0].audio["bn"].seconds == 2.0
    assert survey.audio["closing"]["bn"].seconds == 1.04
    with session_scope(runtime.database_url) as db:
        first = catalog.register(db, survey)
        again = catalog.register(db, load_survey(path))
        assert again.id == first.id and first.definition["questions"][0]["audio"]["bn"] == {
            "file": "source_bn.wav", "sha256": sha(RECORDINGS["source_bn.wav"]), "seconds": 2.0}
    assert count(runtime, SurveyMedia) == 3
    (tmp_path / "source_bn.wav").write_bytes(wav(3.0))  # re-recorded: another definition
    changed = load_survey(path)
    assert changed.content_hash != survey.content_hash
    with session_scope(runtime.database_url) as db:
        assert catalog.register(db, changed).id == first.id  # no round used it yet
        assert db.scalar(select(SurveyMedia.seconds).where(
            SurveyMedia.sha256 == sha(wav(3.0)))) == 3.0


def test_a_survey_without_recordings_keeps_the_hash_it_had_before_audio_existed():
    from tests.conftest import EXAMPLES

    survey = load_survey(EXAMPLES / "water-access.yaml")
    assert survey.content_hash == (
        "df6769b4bdac2652d2850c17276da2346f4efb072fc208d8479d1b2bdcfe067b")
    assert unrecorded(survey, "en")[:2] == ["intro", "consent"]


@pytest.mark.parametrize(("files", "message"), [
    ({"source_sw.wav": b"RIFF not really a wave file"},
     "question 'source' audio (sw): source_sw.wav: not a WAV file that plays"),
    ({}, "question 'source' audio (sw): source_sw.wav: no such file in"),
    ({"source_sw.wav": bytes(media.MAX_BYTES + 1)},
     "question 'source' audio (sw): source_sw.wav: too big: 5,242,881 bytes; a recording is "
     "at most 5,242,880 bytes (5 MB)"),
    ({"source_sw.wav": wav(0)}, "source_sw.wav: plays for 0.0 seconds"),
])
def test_a_bad_recording_is_an_error_naming_question_language_and_file(tmp_path, files,
                                                                       message):
    with pytest.raises(SurveyError) as raised:
        load_survey(folder(tmp_path, SWAHILI, files))
    [problem] = raised.value.problems
    assert problem.line == 9 and message in problem.message


@pytest.mark.parametrize(("audio", "message"), [
    ("{sw: ../source_sw.wav}", "source_sw.wav: name a file in the survey file's folder"),
    ("{sw: source_sw.ogg}", "source_sw.ogg: a recording must be a .wav or .mp3 file"),
    ("{sw: source_sw.mp3}", "source_sw.mp3: not an MP3 file"),
    ("{en: source_sw.wav}", "question 'source' audio: language 'en' is not in the survey's"),
])
def test_a_recording_named_wrong_is_an_error(tmp_path, audio, message):
    text = SWAHILI.replace("{sw: source_sw.wav}", audio)
    with pytest.raises(SurveyError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_survey(folder(tmp_path, text, {"source_sw.mp3": wav(), "source_sw.ogg": wav()}))


def test_a_recording_of_a_text_the_survey_lacks_is_an_error(tmp_path):
    text = SWAHILI.replace("questions:", "audio: {intro: {sw: source_sw.wav}}\nquestions:")
    with pytest.raises(SurveyError, match="audio: intro: the survey has no intro text"):
        load_survey(folder(tmp_path, text, {"source_sw.wav": wav()}))


def test_validate_says_swahili_without_a_voice_or_every_recording_cannot_be_called(tmp_path):
    path = folder(tmp_path, SWAHILI, {"source_sw.wav": wav()})
    result = heard("survey", "validate", str(path))
    assert result.returncode == 0, result.stderr
    assert (f"{path}: voice: sw: no recording and no voice for days: this survey cannot be "
            "called in Swahili (voices: HEARD_VOICE_LANGUAGES)") in result.stdout.splitlines()


def test_validate_gives_a_calls_minutes_from_recordings_and_words(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARD_VOICE_LANGUAGES", "bn=bn-IN")
    path = folder(tmp_path, BENGALI, RECORDINGS)
    result = heard("survey", "validate", str(path))
    assert result.returncode == 0, result.stderr
    minutes = estimated_seconds(load_survey(path), "bn") / 60
    assert (f"{path}: voice: bn: about {minutes:.1f} minutes a call (3 prompts recorded, the "
            "rest said in bn-IN)") in result.stdout.splitlines()


def test_a_calls_seconds_count_recordings_by_length_and_words_at_150_a_minute(tmp_path):
    survey = load_survey(folder(tmp_path, BENGALI, RECORDINGS))
    t = translator("bn")
    said = [keys_greeting(t),
            "সপ্তাহে কত দিন পানি থাকে?",
            t.gettext("Type your answer with the number keys, then press the hash key.")]
    words = sum(len(text.split()) for text in said)
    assert estimated_seconds(survey, "bn", answer_seconds=0) == pytest.approx(
        1.5 + 2.0 + 1.04 + words * 60 / 150)
    assert estimated_seconds(survey, "bn", answer_seconds=4) == pytest.approx(
        estimated_seconds(survey, "bn", answer_seconds=0) + 8)
    assert said_seconds("ห" * 50) == pytest.approx(20 * 60 / 150)  # no spaces: by characters


def test_a_call_in_swahili_without_a_voice_is_refused_aloud(runtime, bengali_voice, tmp_path):
    client = client_for(runtime)
    code = open_round(runtime, folder(tmp_path, SWAHILI, {"source_sw.wav": wav()}))
    asked = press(client, "CS1", caller=AMINA)[0][0]  # for a code, in English: no sw voice
    assert asked.tag == "Gather" and asked[0].get("language") == "en-US"
    action = asked.get("action", "")
    root, _ = press(client, "CS1", action, keypad_digits(code), caller=AMINA)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == "Sorry, this survey cannot be heard in Swahili yet. Goodbye."
    assert root[0].get("language") == "en-US"
