"""A call's answer in words is spoken: recorded by Twilio, kept by heard as personal data (its
audio fetched, then deleted at Twilio), referred to by the answer, heard by analysts only, and
gone with an erasure or the retention period."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from heard.cli import app as cli
from surveys import catalog
from surveys.database import session_scope
from surveys.retention import purge
from surveys.tables import AuditEntry, InboxMessage, Recording, StoredAnswer, utcnow
from surveys.tokens import create_token
from surveys.words import keypad_digits
from tests.fakes.twilio_api import FakeTwilio, fake_twilio
from tests.pipeline import answers, client_for, count, drain
from tests.test_sms import PUBLIC, TOKEN, signed_post
from tests.test_voice import CALLER, KEYS, NUMBER, WEBHOOK, asked, ended, press, silence
from voice.recordings import RecordingUnavailable
from worker import jobs, rounds

SPEAK = "Speak your answer after the tone. Press the hash key when you have finished."
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4  # (the bytes, as they are)


@pytest.fixture
def twilio(runtime, monkeypatch) -> Iterator[FakeTwilio]:
    """Calls answered as in tests/test_voice.py, with Twilio's API (recordings) faked."""
    with fake_twilio() as fake:
        for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
                            "TWILIO_API_BASE_URL": fake.url, "PUBLIC_BASE_URL": PUBLIC,
                            "HEARD_VOICE_LANGUAGES": "en=en-US"}.items():
            monkeypatch.setenv(name, value)
        yield fake


def open_round(runtime, community: str | None = "kibera") -> str:
    with session_scope(runtime.database_url) as db:
        return rounds.create_round(db, catalog.latest(db, "test-water"), community).code or ""


def recorded(root: ET.Element, last: bool = False) -> tuple[list[str], str]:
    """A TwiML that says a question in words, then records the answer: <Say>s, then <Record>
    posting to the next step with record=1, then (unless `last`) a <Redirect> for silence."""
    tags = [child.tag for child in root]
    assert tags == ["Say"] * (len(root) - (1 if last else 2)) + ["Record"] + (
        [] if last else ["Redirect"])
    record = root.find("Record")
    assert record is not None
    action = record.get("action", "")
    assert action.startswith(WEBHOOK + "?step=") and "&record=1" in action
    assert ("&last=1" in action) == last
    assert record.attrib | {"action": ""} == {
        "action": "", "method": "POST", "maxLength": "120", "finishOnKey": "#",
        "playBeep": "true", "timeout": "5", "trim": "trim-silence"}
    if not last:
        assert "silent=1" in (silence(root) or "")
    said = [say.text or "" for say in root.findall("Say")]
    assert {say.get("language") for say in root.findall("Say")} == {"en-US"}
    return said, action


def speak(client, sid: str, action: str, recording: str | None, seconds: int = 7,
          fake: FakeTwilio | None = None, status: str = "in-progress") -> ET.Element:
    """Twilio's post to a <Record>'s action: the recording `recording` (None: nothing)."""
    form = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": CALLER, "To": NUMBER,
            "CallStatus": status, "Direction": "inbound", "Digits": "#"}
    if recording is not None:
        assert fake is not None
        fake.recordings[recording] = AUDIO
        form |= {"RecordingSid": recording, "RecordingUrl": fake.recording_url(recording),
                 "RecordingDuration": str(seconds)}
    else:
        form |= {"RecordingDuration": "0"}
    response = signed_post(client, action.removeprefix(PUBLIC), form)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


def new_sid() -> str:
    return "RE" + uuid.uuid4().hex


def at_other(client, runtime, sid: str, community: str | None = "kibera") -> str:
    """A caller joins a round and chooses Other: the question in words is asked; its action."""
    code = open_round(runtime, community)
    _, action = asked(press(client, sid)[0], one_key=False)
    _, action = asked(press(client, sid, action, keypad_digits(code))[0], one_key=True)
    _, action = asked(press(client, sid, action, "1")[0], one_key=True)
    said, action = recorded(press(client, sid, action, "3")[0])
    assert said == ["Which other source?", SPEAK]
    return action


def spoken_answer(runtime) -> str:
    """The stored answer in words (a reference) and the id it refers to."""
    value = answers(runtime)["source_other"]
    assert isinstance(value, str) and value.startswith("recording:")
    return value.removeprefix("recording:")


def the_recording(runtime) -> Recording:
    with session_scope(runtime.database_url) as db:
        row = db.scalars(select(Recording)).one()
        db.expunge(row)
        return row


def test_a_question_in_words_is_recorded_and_its_audio_moves_from_twilio_to_heard(
        runtime, twilio):
    client = client_for(runtime)
    action = at_other(client, runtime, "CA1")
    sid = new_sid()
    said, action = asked(speak(client, "CA1", action, sid, fake=twilio), one_key=False)
    assert said == ["How many days a week is there water?",
                    "Type your answer with the number keys, then press the hash key."]
    said, action = asked(press(client, "CA1", action, "5")[0], one_key=False)
    _, action = asked(press(client, "CA1", action, "1")[0], one_key=True)
    assert ended(press(client, "CA1", action, "1")[0]) == ["Thank you!"]
    reference = spoken_answer(runtime)  # within 20 characters (max_length): the words are
    assert len(reference) == 32 and int(reference, 16) >= 0  # in the recording
    row = the_recording(runtime)
    assert (row.id, row.provider_sid, row.seconds, row.question_id) == (
        reference, sid, 7, "source_other")
    assert row.session_id is not None and row.round_id is not None
    assert row.audio is None and row.fetched_at is None  # not yet: a job fetches it

    drain(runtime)

    assert (twilio.fetched, twilio.deleted, twilio.recordings) == ([sid], [sid], {})
    row = the_recording(runtime)
    assert (row.audio, row.content_type) == (AUDIO, "audio/x-wav")
    assert row.fetched_at is not None and row.provider_deleted_at is not None
    assert jobs.fetch_recording(reference) == "moved"  # again: nothing more to do
    assert twilio.fetched == [sid]


def test_a_redelivered_recording_is_kept_once(runtime, twilio):
    client = client_for(runtime)
    action = at_other(client, runtime, "CA2")
    sid = new_sid()
    first = ET.tostring(speak(client, "CA2", action, sid, fake=twilio))
    stored = count(runtime, InboxMessage)
    assert ET.tostring(speak(client, "CA2", action, sid, fake=twilio)) == first
    assert ET.tostring(speak(client, "CA2", action, new_sid(), fake=twilio)) == first  # step
    assert count(runtime, InboxMessage) == stored
    assert count(runtime, Recording) == 1
    assert the_recording(runtime).provider_sid == sid
    assert the_recording(runtime).id == spoken_answer(runtime)


def test_the_same_recording_posted_at_another_step_refers_to_the_one_kept(runtime, twilio):
    client = client_for(runtime)
    action = at_other(client, runtime, "CA3")
    sid = new_sid()
    speak(client, "CA3", action, sid, fake=twilio)
    kept = spoken_answer(runtime)
    step = int(action.split("step=")[1].split("&")[0])
    speak(client, "CA3", action.replace(f"step={step}", f"step={step + 5}"), sid, fake=twilio)
    assert count(runtime, Recording) == 1
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(InboxMessage.text).where(
            InboxMessage.provider_id == f"CA3:{step + 5}")).one() == f"recording:{kept}"


def test_an_answer_spoken_as_the_caller_hangs_up_is_kept(runtime, twilio):
    client = client_for(runtime)
    action = at_other(client, runtime, "CA4")
    speak(client, "CA4", action, new_sid(), fake=twilio, status="completed")
    assert spoken_answer(runtime) == the_recording(runtime).id


def test_nothing_recorded_asks_again_once_then_the_call_ends(runtime, twilio):
    client = client_for(runtime)
    action = at_other(client, runtime, "CA5")
    said, again = recorded(speak(client, "CA5", action, None), last=True)
    assert said == ["Which other source?", SPEAK]
    assert len(speak(client, "CA5", again, None)) == 0  # an empty <Response>: the call ends
    assert "source_other" not in answers(runtime) and count(runtime, Recording) == 0
    # Twilio's own way: no post for an empty recording, the <Redirect> for silence instead
    root, _ = press(client, "CA6")  # a new call goes on at the question in words
    said, action = recorded(root)
    assert said == [KEYS, "Which other source?", SPEAK]
    said, again = recorded(press(client, "CA6", silence(root) or "")[0], last=True)
    assert said == ["Which other source?", SPEAK]
    asked(speak(client, "CA6", again, new_sid(), fake=twilio), one_key=False)  # spoken at last
    assert spoken_answer(runtime) == the_recording(runtime).id


def test_a_failed_fetch_is_tried_again_and_the_reference_stays_valid(runtime, twilio):
    client = client_for(runtime)
    analyst = token(runtime, "analyst", ["kibera"])
    speak(client, "CA7", at_other(client, runtime, "CA7"), new_sid(), fake=twilio)
    reference = spoken_answer(runtime)
    twilio.recording_failures = 1
    with pytest.raises(RecordingUnavailable, match="503"):
        jobs.fetch_recording(reference)
    waiting = listen(client, reference, analyst)
    assert waiting.status_code == 503 and waiting.headers["retry-after"] == "60"
    assert twilio.deleted == []  # never deleted there before it is here
    runtime.redis.flushdb()  # the queued job is lost with Redis: the sweeper queues it again
    with session_scope(runtime.database_url) as db:
        db.execute(update(Recording).values(created_at=utcnow() - timedelta(minutes=5)))
    jobs.sweep()
    drain(runtime)
    assert listen(client, reference, analyst).content == AUDIO
    assert twilio.recordings == {}


def token(runtime, role: str, communities: list[str] | None) -> str:
    with session_scope(runtime.database_url) as db:
        return create_token(db, role, f"{role} of {communities}", communities)


def listen(client, recording_id: str, bearer: str) -> Any:
    return client.get(f"/api/v1/recordings/{recording_id}",
                      headers={"Authorization": f"Bearer {bearer}"})


def test_analysts_of_the_rounds_community_hear_it_and_no_one_else(runtime, twilio):
    client = client_for(runtime)
    sid = new_sid()
    speak(client, "CA8", at_other(client, runtime, "CA8"), sid, fake=twilio)
    drain(runtime)
    reference = spoken_answer(runtime)
    heard = listen(client, reference, token(runtime, "analyst", ["Kibera"]))
    assert heard.status_code == 200 and heard.content == AUDIO
    assert heard.headers["content-type"] == "audio/x-wav"
    assert heard.headers["cache-control"] == "no-store"
    assert listen(client, reference, token(runtime, "admin", None)).content == AUDIO
    assert listen(client, reference, token(runtime, "facilitator", ["kibera"])
                  ).status_code == 403
    assert listen(client, reference, token(runtime, "analyst", ["mathare"])).status_code == 404
    assert client.get(f"/api/v1/recordings/{reference}").status_code == 401
    everyone = token(runtime, "analyst", None)
    assert listen(client, uuid.uuid4().hex, everyone).status_code == 404
    assert listen(client, "not-an-id", everyone).status_code == 422
    with session_scope(runtime.database_url) as db:
        logged = db.scalars(select(AuditEntry).where(AuditEntry.action == "recording")).all()
        assert [entry.detail for entry in logged] == [
            {"recording": reference, "bytes": len(AUDIO)}] * 2  # the analyst's, the admin's
        assert all(sid not in str(entry.detail) for entry in logged)


def test_the_export_shows_the_reference_and_nothing_of_twilio(runtime, twilio):
    client = client_for(runtime)
    sid = new_sid()
    speak(client, "CA9", at_other(client, runtime, "CA9"), sid, fake=twilio)
    drain(runtime)
    reference = spoken_answer(runtime)
    round_id = the_recording(runtime).round_id
    page = client.get(f"/api/v1/rounds/{round_id}/responses",
                      headers={"Authorization": f"Bearer {token(runtime, 'analyst', None)}"})
    assert page.status_code == 200, page.text
    [row] = page.json()["responses"]
    assert row["source_other"] == f"recording:{reference}"
    assert sid not in page.text and "Recordings/" not in page.text
    assert twilio.url not in page.text and CALLER not in page.text


def test_erasure_deletes_their_recordings(runtime, twilio):
    client = client_for(runtime)
    speak(client, "CA10", at_other(client, runtime, "CA10"), new_sid(), fake=twilio)
    drain(runtime)
    reference = spoken_answer(runtime)
    result = CliRunner().invoke(cli, ["contacts", "erase", CALLER, "--channel", "voice"])
    assert result.exit_code == 0, result.output
    assert "1 recordings deleted" in result.output
    assert count(runtime, Recording) == 0
    assert listen(client, reference, token(runtime, "admin", None)).status_code == 404
    with session_scope(runtime.database_url) as db:  # and the answer's reference is blanked
        assert db.scalars(select(StoredAnswer.value).where(
            StoredAnswer.question_id == "source_other")).one() is None


def test_a_recording_erased_before_it_was_fetched_is_only_deleted_at_twilio(runtime, twilio):
    client = client_for(runtime)
    sid = new_sid()
    speak(client, "CA11", at_other(client, runtime, "CA11"), sid, fake=twilio)
    reference = spoken_answer(runtime)
    result = CliRunner().invoke(cli, ["contacts", "erase", CALLER, "--channel", "voice"])
    assert result.exit_code == 0, result.output
    forgotten = the_recording(runtime)  # still at Twilio: kept only to delete it there
    assert forgotten.forgotten_at is not None and forgotten.session_id is None
    assert listen(client, reference, token(runtime, "admin", None)).status_code == 404
    drain(runtime)  # the job queued by the call
    assert (twilio.fetched, twilio.deleted) == ([], [sid])
    assert count(runtime, Recording) == 0


def test_retention_deletes_recordings_older_than_its_days(runtime, twilio):
    client = client_for(runtime)
    speak(client, "CA12", at_other(client, runtime, "CA12"), new_sid(), fake=twilio)
    drain(runtime)
    reference = spoken_answer(runtime)
    assert purge(runtime.database_url, 30, "test").recordings == 0  # recent: kept
    with session_scope(runtime.database_url) as db:
        db.execute(update(Recording).values(created_at=utcnow() - timedelta(days=31)))
    assert purge(runtime.database_url, 30, "test", dry_run=True).recordings == 1
    assert count(runtime, Recording) == 1
    report = purge(runtime.database_url, 30, "test")
    assert report.recordings == 1 and "1 recordings deleted" in report.summary()
    assert count(runtime, Recording) == 0
    assert listen(client, reference, token(runtime, "admin", None)).status_code == 404
    assert answers(runtime)["source_other"] == f"recording:{reference}"  # an answer stays


def test_a_malformed_recording_post_is_a_400_naming_the_field(runtime, twilio):
    client = client_for(runtime)
    action = at_other(client, runtime, "CA13")
    form = {"CallSid": "CA13", "From": CALLER, "To": NUMBER, "CallStatus": "in-progress",
            "RecordingSid": "RE1", "RecordingUrl": "https://elsewhere.example/x.wav",
            "RecordingDuration": "4"}
    response = signed_post(client, action.removeprefix(PUBLIC), form)
    assert response.status_code == 400 and "RecordingUrl" in response.text
    response = signed_post(client, action.removeprefix(PUBLIC),
                           form | {"RecordingDuration": "four"})
    assert response.status_code == 400 and "RecordingDuration" in response.text
    assert count(runtime, Recording) == 0

