"""Telegram: webhook → inbox → workers → python-telegram-bot → a local fake Bot API.

Updates are Bot API JSON as Telegram documents it; replies go through the real PTB `Bot` to
tests/fakes/telegram_api.py, which records every method call. SQLite and PostgreSQL, real Redis.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import select
from typer.testing import CliRunner

from bot import client, keyboards, sender
from bot.adapter import Acknowledge, read_update
from bot.dispatch import handle_update
from bot.polling import poll, poll_once
from surveys import catalog
from surveys.actions import Store
from surveys.database import session_scope
from surveys.i18n import translator
from surveys.tables import Contact, InboxMessage, OutboxMessage, Round, SurveySession
from tests.cases import CaseFile, answered, inbox_row, queued
from tests.fakes.telegram_api import FakeTelegram
from tests.pipeline import answers, client_for, count, drain
from worker import jobs, rounds
from worker.ratelimit import RateLimited, acquire, pause
from worker.senders import PermanentSendError, TransientSendError

SECRET = "s3cret-token_for-tests"
CASES = CaseFile(Path(__file__).parent / "data" / "telegram" / "incoming.json")
CHAT = 42
WALK_IN_INTRO = "Five questions about water.\nReply LANG to change the language."  # guessed


@pytest.fixture
def telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    """The fake Bot API, with heard's TELEGRAM_* settings pointing at it."""
    fake = FakeTelegram().start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.base_url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    monkeypatch.setattr(sender, "PER_CHAT_PER_SECOND", 1000.0)  # tests talk faster than people
    monkeypatch.setattr(sender, "PER_BOT_PER_SECOND", 1000.0)
    yield fake
    client.close()
    fake.stop()


# --- updates as Telegram sends them ---------------------------------------------------------

_ids = iter(range(1, 1_000_000))


def message(text: str, chat: int = CHAT, **fields: Any) -> dict[str, Any]:
    update_id = next(_ids)
    body: dict[str, Any] = {"message_id": update_id, "date": int(time.time()),
                            "chat": {"id": chat, "type": "private", "first_name": "Amina"},
                            "from": {"id": chat, "is_bot": False, "first_name": "Amina"},
                            "text": text, **fields}
    if text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0,
                             "length": len(text.split(" ")[0])}]
    return {"update_id": update_id, "message": body}


def press(data: str, sent: dict[str, Any] | None = None, chat: int = CHAT) -> dict[str, Any]:
    """A tap on a button of `sent` (a recorded sendMessage or editMessageReplyMarkup)."""
    update_id = next(_ids)
    shown: dict[str, Any] = {"message_id": 7, "date": int(time.time()),
                             "chat": {"id": chat, "type": "private"},
                             "from": {"id": 123456, "is_bot": True, "first_name": "heard"}}
    if sent is not None:
        shown["reply_markup"] = sent["reply_markup"]
        shown["message_id"] = sent.get("message_id", 7)
    return {"update_id": update_id,
            "callback_query": {"id": f"cbq-{update_id}", "chat_instance": "1", "data": data,
                               "from": {"id": chat, "is_bot": False, "first_name": "Amina"},
                               "message": shown}}


def post(http: Any, update: Any, secret: str | None = SECRET) -> Any:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return http.post("/telegram/webhook", content=json.dumps(update).encode(), headers=headers)


def deliver(http: Any, runtime: Any, *updates: Any) -> None:
    """Post each update and let the workers finish with it, as a person waits for replies.

    (rq's per-contact limit keeps held jobs by whole-second timestamps, so the send jobs of
    several messages stored within one second may run in any order.)
    """
    for update in updates:
        response = post(http, update)
        assert response.status_code == 200, response.text
        drain(runtime)


def buttons(call: dict[str, Any]) -> list[list[tuple[str, str]]]:
    markup = call.get("reply_markup") or {"inline_keyboard": []}
    return [[(b["text"], b["callback_data"]) for b in row] for row in markup["inline_keyboard"]]


def texts(fake: FakeTelegram) -> list[str]:
    return [call["text"] for call in fake.sent()]


def join(runtime: Any) -> str:
    """The deep link of an open round of test-water, as `heard round create` prints it."""
    with session_scope(runtime.database_url) as db:
        code = rounds.create_round(db, catalog.latest(db, "test-water"), None).code
    return f"/start {code}"


def begin(http: Any, runtime: Any, fake: FakeTelegram) -> dict[str, Any]:
    """Open a round of test-water with its deep link, agree with the Yes button; the first
    question."""
    deliver(http, runtime, message(join(runtime)))
    consent = fake.messages()[-1]
    assert buttons(consent) == [[("Yes", "c:1:_consent"), ("No", "c:2:_consent")]]
    deliver(http, runtime, press("c:1:_consent", consent))
    return fake.messages()[-1]


# --- the labelled webhook cases ------------------------------------------------------------

@pytest.mark.parametrize("case", CASES.params())
def test_incoming_case(runtime, telegram, case):
    """tests/data/telegram/incoming.json: request → status → inbox row → queued jobs → what
    the person is answered once a worker has handled it."""
    http = client_for(runtime)
    body = (bytes.fromhex(case["raw_hex"]) if "raw_hex" in case
            else case["raw"].encode() if "raw" in case else json.dumps(case["body"]).encode())
    headers = {"Content-Type": "application/json"}
    secret = case.get("secret", SECRET)
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    response = http.post("/telegram/webhook", content=body, headers=headers)
    provider_id = _provider_id(case)
    CASES.check(case, {"status": response.status_code, "response": _response(response, case),
                       "inbox": inbox_row(runtime, "telegram", provider_id),
                       "queued": queued(runtime),
                       "answered": answered(runtime, "telegram", provider_id)})


def _response(response: Any, case: dict[str, Any]) -> dict[str, Any]:
    body = response.json()
    found = {}
    for key, value in case["response"].items():
        if key.endswith("~"):
            found[key] = value if value in str(body.get(key[:-1])) else body.get(key[:-1])
        else:
            found[key] = body.get(key)
    return found


def _provider_id(case: dict[str, Any]) -> str | None:
    body = case.get("body")
    return str(body["update_id"]) if isinstance(body, dict) and "update_id" in body else None


def test_webhook_refuses_everything_when_no_secret_is_configured(runtime, telegram, monkeypatch):
    http = client_for(runtime)
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET")
    assert post(http, message("hello"), secret="").status_code == 403
    assert post(http, message("hello")).status_code == 403
    assert count(runtime, InboxMessage) == 0


def test_same_update_delivered_three_times_is_stored_once(runtime, telegram):
    http = client_for(runtime)
    update = message(join(runtime))
    outcomes = [post(http, update).json()["outcome"] for _ in range(3)]
    assert outcomes == ["stored", "duplicate", "duplicate"]
    drain(runtime)
    assert texts(telegram) == [WALK_IN_INTRO,  # a walk-in: told LANG
                               "Do you agree?"]


# --- a whole survey through buttons ----------------------------------------------------------

def test_survey_answered_with_buttons_end_to_end(runtime, telegram):
    http = client_for(runtime)
    deliver(http, runtime, message(join(runtime)))
    intro, consent = telegram.messages()
    assert intro == {"chat_id": CHAT, "text": WALK_IN_INTRO,
                     "message_id": intro["message_id"]}
    assert consent["text"] == "Do you agree?"  # reply text, not the SMS numbering
    assert buttons(consent) == [[("Yes", "c:1:_consent"), ("No", "c:2:_consent")]]
    deliver(http, runtime, press("c:1:_consent", consent))
    first = telegram.messages()[-1]
    assert first["text"] == "Where do you get water?"
    assert buttons(first) == [[("Tap at home", "c:1:source")], [("Public well", "c:2:source")],
                              [("Other", "c:3:source")]]

    telegram.clear()
    tap = press("c:1:source", first)
    deliver(http, runtime, tap)
    assert telegram.sent("answerCallbackQuery") == [
        {"callback_query_id": tap["callback_query"]["id"]}]
    assert [(c["text"], buttons(c)) for c in telegram.sent()] == [
        ("How many days a week is there water?", [])]  # a number question: plain text

    telegram.clear()
    deliver(http, runtime, message("5"))
    note, multi = telegram.messages()
    assert note["text"] == "Almost done." and "reply_markup" not in note
    assert buttons(multi) == [[("⬜ Dirty water", "t:1:0:problems")],
                              [("⬜ Too far", "t:2:0:problems")],
                              [("⬜ Costs money", "t:3:0:problems")],
                              [("Done", "d:0:problems")]]

    telegram.clear()  # toggles redraw the keyboard in place; nothing is stored or answered
    deliver(http, runtime, press("t:1:0:problems", multi))
    first_toggle = telegram.sent("editMessageReplyMarkup")[-1]
    deliver(http, runtime, press("t:3:1:problems", first_toggle))
    second_toggle = telegram.sent("editMessageReplyMarkup")[-1]
    assert buttons(second_toggle) == [[("✅ Dirty water", "t:1:5:problems")],
                                      [("⬜ Too far", "t:2:5:problems")],
                                      [("✅ Costs money", "t:3:5:problems")],
                                      [("Done", "d:5:problems")]]
    assert second_toggle["message_id"] == multi["message_id"] == first_toggle["message_id"]
    assert len(telegram.sent("answerCallbackQuery")) == 2
    assert telegram.sent() == [] and "problems" not in answers(runtime)

    deliver(http, runtime, press("d:5:problems", second_toggle))
    safe = telegram.sent()[-1]
    assert buttons(safe) == [[("Yes", "c:1:safe"), ("No", "c:2:safe")]]
    deliver(http, runtime, press("c:1:safe", safe))
    assert texts(telegram)[-1] == "Thank you!"
    assert answers(runtime) == {"source": "tap", "days": 5, "problems": ["dirty", "cost"],
                                "safe": "yes"}
    assert len(telegram.sent("answerCallbackQuery")) == 4  # every press since the last clear
    with session_scope(runtime.database_url) as db:
        rows = db.scalars(select(OutboxMessage)).all()
        assert {row.status for row in rows} == {"sent"}
        assert all(row.provider_id.startswith(f"{CHAT}:") for row in rows)

    deliver(http, runtime, press("c:2:source", first))  # an old button, after the end
    assert texts(telegram)[-1] == "That button was for an earlier question."
    assert answers(runtime)["source"] == "tap"


def test_a_deep_link_to_no_open_round_is_answered_politely(runtime, telegram):
    http = client_for(runtime)
    link = join(runtime)
    with session_scope(runtime.database_url) as db:
        rounds.close_round(db, db.scalar(select(Round.id)))
    deliver(http, runtime, message(link), message("/start test-water"))
    notice = "This link is not for a survey that is open now."
    assert texts(telegram) == [notice, notice]  # a closed round, a survey id: neither opens
    assert count(runtime, InboxMessage, InboxMessage.outcome == "unknown_link") == 2
    assert count(runtime, SurveySession) == 0
    deliver(http, runtime, message(join(runtime)))  # a new round's link opens it
    assert texts(telegram)[2:] == [WALK_IN_INTRO,
                                   "Do you agree?"]


def blocked_by(chat: int) -> dict[str, Any]:
    bot = {"id": 123456, "is_bot": True, "first_name": "heard"}
    return {"update_id": next(_ids), "my_chat_member": {
        "chat": {"id": chat, "type": "private", "first_name": "Amina"},
        "from": {"id": chat, "is_bot": False, "first_name": "Amina"}, "date": int(time.time()),
        "old_chat_member": {"status": "member", "user": bot},
        "new_chat_member": {"status": "kicked", "until_date": 0, "user": bot}}}


def test_blocking_the_bot_opts_out_and_start_brings_them_back(runtime, telegram):
    http = client_for(runtime)
    begin(http, runtime, telegram)
    assert post(http, blocked_by(CHAT)).json()["outcome"] == "opted out"
    with session_scope(runtime.database_url) as db:
        assert db.scalar(select(Contact.opted_out).where(Contact.address == str(CHAT)))
    sent = len(telegram.messages())
    deliver(http, runtime, message("1"))  # kept, never answered: they blocked us
    assert len(telegram.messages()) == sent
    deliver(http, runtime, message("/start"))  # unblocking sends /start: START
    welcome = translator("en").gettext("You will get our messages again. Reply STOP to stop.")
    assert texts(telegram)[sent:] == [welcome, "Where do you get water?"]
    post(http, blocked_by(CHAT))
    sent = len(telegram.messages())
    deliver(http, runtime, message(join(runtime)))  # a new round's link, once unblocked
    assert texts(telegram)[sent:] == [welcome, "Five questions about water.",
                                      "Do you agree?"]  # a new round: its own consent


def test_a_stale_button_does_not_answer_the_current_question(runtime, telegram):
    http = client_for(runtime)
    first = begin(http, runtime, telegram)
    deliver(http, runtime, press("c:3:source", first), message("a river"))
    assert texts(telegram)[-1] == "How many days a week is there water?"
    deliver(http, runtime, press("c:1:source", first))
    assert texts(telegram)[-1] == "That button was for an earlier question."
    assert answers(runtime) == {"source": "other", "source_other": "a river"}


def test_language_menu_buttons_switch_language(runtime, telegram):
    http = client_for(runtime)
    begin(http, runtime, telegram)
    deliver(http, runtime, message("/language"))
    menu = telegram.sent()[-1]
    assert [row[0][1] for row in buttons(menu)] == ["l:en", "l:sw", "l:bn"]
    assert buttons(menu)[2][0][0] == "বাংলা"
    deliver(http, runtime, press("l:sw", menu))
    question = telegram.sent()[-1]
    assert question["text"] == "Unapata maji wapi?"
    assert buttons(question)[0] == [("Bomba nyumbani", "c:1:source")]
    deliver(http, runtime, press("c:3:source", question), message("mto"), message("4"))
    multi = telegram.sent()[-1]
    assert buttons(multi), texts(telegram)
    assert buttons(multi)[-1] == [(translator("sw").gettext("Done"), "d:0:problems")]
    assert answers(runtime) == {"source": "other", "source_other": "mto", "days": 4}


def test_stop_command_opts_out(runtime, telegram):
    http = client_for(runtime)
    begin(http, runtime, telegram)
    deliver(http, runtime, message("/stop"))
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact.opted_out)).one() is True


# --- what the engine never sees --------------------------------------------------------------

def test_a_photo_gets_a_polite_reply_and_costs_no_attempt(runtime, telegram):
    http = client_for(runtime)
    begin(http, runtime, telegram)
    photo = message("", photo=[{"file_id": "x", "file_unique_id": "y", "width": 1,
                                "height": 1}])
    del photo["message"]["text"]
    deliver(http, runtime, photo)
    assert texts(telegram)[-1] == translator("en").gettext(
        "Sorry, I can only read text. Please answer with a message or a button.")
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(SurveySession.state)).one()["attempts"] == 0
    deliver(http, runtime, message("2"))
    assert answers(runtime) == {"source": "well"}


def test_a_group_is_never_answered_nor_posted_into(runtime, telegram):
    http = client_for(runtime)
    group = {"id": -100123, "type": "supergroup", "title": "Village"}
    first, second = message(join(runtime)), message("1")
    first["message"]["chat"] = second["message"]["chat"] = group
    deliver(http, runtime, first, second)
    assert telegram.sent() == []
    assert count(runtime, InboxMessage, InboxMessage.outcome == "group") == 2
    assert count(runtime, Contact) == 0 and answers(runtime) == {}


def test_done_with_nothing_selected_asks_to_choose(runtime, telegram):
    http = client_for(runtime)
    begin(http, runtime, telegram)
    deliver(http, runtime, message("1"), message("3"))
    multi = telegram.sent()[-1]
    deliver(http, runtime, press("d:0:problems", multi))
    assert telegram.sent("answerCallbackQuery")[-1]["text"] == translator("en").gettext(
        "Choose at least one answer, then press Done.")
    assert texts(telegram)[-1] == "Any problems?" and "problems" not in answers(runtime)


# --- sending: errors, limits, speed ----------------------------------------------------------

def test_blocked_bot_opts_the_contact_out(runtime, telegram):
    http = client_for(runtime)
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=2)
    deliver(http, runtime, message(join(runtime)))
    with session_scope(runtime.database_url) as db:
        assert db.scalars(select(Contact.opted_out)).one() is True
        rows = db.scalars(select(OutboxMessage)).all()
        assert [(row.status, row.error_code) for row in rows] == [
            ("failed", "blocked"), ("suppressed", None)]  # nothing more once opted out
        assert "blocked by the user" in rows[0].error


def test_flood_control_429_retries_after_the_time_telegram_asks(runtime, telegram):
    http = client_for(runtime)
    begin(http, runtime, telegram)
    telegram.fail("sendMessage", 429, "Too Many Requests: retry after 30", retry_after=30)
    deliver(http, runtime, message("1"))
    with session_scope(runtime.database_url) as db:
        row = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert (row.status, row.attempts) == ("retrying", 1)
        assert "retry after 30s" in row.error
    # The whole chat waits: a retry now is refused by the shared limiter, without a request.
    calls = len(telegram.sent())
    with pytest.raises(TransientSendError, match="rate limit"):
        jobs.send_outbound(row.id)
    assert len(telegram.sent()) == calls
    wait = acquire(runtime.redis, sender.chat_key(str(CHAT)), 1, burst=3, sleep=None)
    assert 25 < wait <= 30
    runtime.redis.delete(sender.chat_key(str(CHAT)))  # ... time passes
    assert jobs.send_outbound(row.id) == "sent"
    assert texts(telegram)[-1] == "How many days a week is there water?"


def test_network_trouble_is_transient(runtime, telegram, monkeypatch):
    http = client_for(runtime)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9/bot")  # nothing listens
    deliver(http, runtime, message(join(runtime)))
    assert count(runtime, OutboxMessage, OutboxMessage.status == "retrying") >= 1
    assert count(runtime, OutboxMessage, OutboxMessage.status == "sent") == 0
    telegram.fail("sendMessage", 502, "Bad Gateway")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", telegram.base_url)
    with session_scope(runtime.database_url) as db:
        first = db.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).first()
    with pytest.raises(TransientSendError, match="Bad Gateway"):
        jobs.send_outbound(first)
    assert jobs.send_outbound(first) == "sent"


def test_a_send_whose_outcome_was_lost_goes_again_telegram_cannot_tell(runtime, telegram):
    """Telegram keeps no list of what a bot sent: better the question twice than never."""
    http = client_for(runtime)
    begin(http, runtime, telegram)
    with session_scope(runtime.database_url) as db:
        row = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        row.status, row.dispatched_at = "dispatching", row.sent_at
    before = texts(telegram)
    assert jobs.send_outbound(row.id) == "sent"
    assert texts(telegram) == before + [before[-1]]


def test_bad_request_fails_for_good(runtime, telegram):
    http = client_for(runtime)
    telegram.fail("sendMessage", 400, "Bad Request: message text is empty")
    deliver(http, runtime, message(join(runtime)))
    with session_scope(runtime.database_url) as db:
        rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(row.status, row.error_code) for row in rows] == [
            ("failed", "bad_request"), ("sent", None)]
        assert db.scalars(select(Contact.opted_out)).one() is False


def test_sender_raises_the_worker_errors(runtime, telegram):
    """The contract of worker.senders, seen from the sender alone."""
    row = OutboxMessage(channel="telegram", address="77", text="hi", reply={"text": "hi"})
    assert sender.send(row).startswith("77:")
    telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    with pytest.raises(TransientSendError):
        sender.send(row)
    for description, code, opt_out, unreachable in [
            ("Forbidden: bot was blocked by the user", "blocked", True, None),
            ("Forbidden: user is deactivated", "deactivated", False, "deactivated"),
            ("Bad Request: chat not found", "chat_not_found", False, "chat_not_found")]:
        telegram.fail("sendMessage", 400 if "Bad" in description else 403, description)
        with pytest.raises(PermanentSendError) as raised:
            sender.send(OutboxMessage(channel="telegram", address="78", text="hi", reply={}))
        assert (raised.value.code, raised.value.opt_out, raised.value.unreachable) == \
            (code, opt_out, unreachable)


def test_sends_respect_the_per_bot_limit(runtime, telegram, monkeypatch):
    """30 messages a second at most, whichever process sends: 31 sends take a second."""
    monkeypatch.setattr(sender, "PER_BOT_PER_SECOND", 30.0)
    rows = [OutboxMessage(channel="telegram", address=str(1000 + n), text="hi",
                          reply={"text": "hi"}) for n in range(31)]
    started = time.monotonic()
    for row in rows:
        sender.send(row)
    assert time.monotonic() - started >= 0.95
    assert len(telegram.sent()) == 31


def test_sends_per_second(runtime, telegram, capsys):
    """Throughput of the whole send job (row lock, limiter, PTB, HTTP) with limits lifted."""
    http = client_for(runtime)
    deliver(http, runtime, message(join(runtime)))
    with session_scope(runtime.database_url) as db:
        template = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        ids = []
        for n in range(100):
            row = OutboxMessage(contact_id=template.contact_id, channel="telegram",
                                address=str(CHAT), text=template.text, reply=template.reply,
                                status="pending", attempts=0, seq=n)
            db.add(row)
            db.flush()
            ids.append(row.id)
    started = time.perf_counter()
    for outbox_id in ids:
        assert jobs.send_outbound(outbox_id) == "sent"
    rate = len(ids) / (time.perf_counter() - started)
    with capsys.disabled():  # a figure to read, not a timed assertion: speed is bench/'s
        print(f"\n  telegram send_outbound through the fake Bot API: {rate:.0f} sends/s")
    assert len(telegram.sent()) >= len(ids)  # every one of them reached the Bot API


# --- the shared rate limiter -----------------------------------------------------------------

def test_rate_limiter_is_shared_between_connections(redis_server_url, redis):
    """Two "processes" (connections, threads) draw from one bucket: 10 slots at 20/s ≈ 0.45s."""
    waits: list[float] = []

    def take(connection: Redis) -> None:
        for _ in range(5):
            waits.append(acquire(connection, "heard:test:bucket", 20))

    started = time.monotonic()
    workers = [threading.Thread(target=take, args=(Redis.from_url(redis_server_url),))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert 0.4 <= time.monotonic() - started < 1.5
    assert sorted(waits)[0] == 0 and len(waits) == 10


def test_rate_limiter_burst_pause_and_max_wait(redis):
    key = "heard:test:burst"
    assert [acquire(redis, key, 10, burst=3, sleep=None) for _ in range(3)] == [0, 0, 0]
    assert 0.05 < acquire(redis, key, 10, burst=3, sleep=None) <= 0.1
    pause(redis, key, 2, 10, burst=3)
    with pytest.raises(RateLimited) as limited:
        acquire(redis, key, 10, burst=3, max_wait=1)
    assert 1.5 < limited.value.wait <= 2.2
    assert 0 < redis.pttl(key) <= 4000  # buckets expire on their own


# --- keyboards and the adapter alone ---------------------------------------------------------

def test_callback_data_fits_64_bytes_for_any_question_id():
    long_id = "q" * 80
    reply = {"kind": "question", "question_id": long_id, "multi": True,
             "choices": [{"number": n, "value": f"v{n}", "label": f"Choice {n}"}
                         for n in range(1, 21)]}
    rows = keyboards.keyboard_for(reply, "Done")
    assert rows is not None
    datas = [button["callback_data"] for row in rows for button in row]
    assert max(len(data.encode()) for data in datas) <= 64
    assert all(data.endswith(":" + keyboards.question_tag(long_id, "x" * 60)) for data in datas)
    toggle = keyboards.parse_callback(datas[19])
    assert toggle is not None and toggle.number == 20 and toggle.question_id is None
    fits = "q" * 40
    reply["question_id"] = fits
    datas = [b["callback_data"] for row in keyboards.keyboard_for(reply, "Done") or [] for b in row]
    assert max(len(data.encode()) for data in datas) <= 64 and datas[0].endswith(":" + fits)


def test_a_pressed_toggle_redraws_from_the_keyboard_telegram_sent():
    rows = keyboards.multi_keyboard("problems", [(1, "A"), (2, "B")], 0, "Fertig")
    press_b = keyboards.parse_callback(rows[1][0]["callback_data"])
    assert press_b is not None
    redrawn = keyboards.toggled_keyboard({"inline_keyboard": rows}, press_b)
    assert redrawn == keyboards.multi_keyboard("problems", [(1, "A"), (2, "B")], 2, "Fertig")
    assert keyboards.toggled_keyboard({"inline_keyboard": [[{"text": "x", "callback_data":
                                                             "c:1:other"}]]}, press_b) is None


def test_text_and_button_become_the_same_inbound_shape():
    (typed,) = read_update(message("2"))
    acknowledge, tapped = read_update(press("c:2:source"))  # the spinner stops first
    assert isinstance(acknowledge, Acknowledge)
    assert isinstance(typed, Store) and isinstance(tapped, Store)
    assert (typed.inbound.channel, typed.inbound.address, typed.inbound.text) == \
        (tapped.inbound.channel, tapped.inbound.address, tapped.inbound.text) == \
        ("telegram", str(CHAT), "2")


# --- polling and the command line ------------------------------------------------------------

def test_polling_feeds_the_same_inbox_as_the_webhook(runtime, telegram):
    http = client_for(runtime)
    updates = [message(join(runtime)), message("yes"), message("1")]
    telegram.push_update(*updates)

    async def rounds() -> tuple[int | None, int | None]:
        async with client.make_bot() as bot:
            offset = await poll_once(bot, lambda u: handle_update(runtime, u), None, timeout=0)
            again = await poll_once(bot, lambda u: handle_update(runtime, u), offset, timeout=0)
            return offset, again

    offset, again = asyncio.run(rounds())
    assert offset == again == updates[-1]["update_id"] + 1
    assert telegram.sent("getUpdates")[-1]["offset"] == offset  # confirmed, so never re-read
    assert count(runtime, InboxMessage) == 3
    assert post(http, updates[1]).json()["outcome"] == "duplicate"  # the same key as webhooks
    drain(runtime)
    assert answers(runtime) == {"source": "tap"}
    assert "How many days a week is there water?" in texts(telegram)


def test_poll_loop_survives_a_failing_store_and_stops_on_request(runtime, telegram):
    telegram.push_update(message("hello"))
    seen: list[object] = []
    stop = asyncio.Event()

    def flaky(update: object) -> str:
        seen.append(update)
        if len(seen) == 1:
            raise RuntimeError("database is down")
        stop.set()
        return handle_update(runtime, update)

    async def run() -> None:
        async with client.make_bot() as bot:
            await asyncio.wait_for(poll(bot, flaky, stop, timeout=0), 10)

    asyncio.run(run())
    assert len(seen) == 2 and count(runtime, InboxMessage) == 1  # the same update, again


def test_set_webhook_command_registers_url_and_secret(runtime, telegram, monkeypatch):
    from heard.cli import app

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://heard.example.org/")
    result = CliRunner().invoke(app, ["telegram", "set-webhook"])
    assert result.exit_code == 0, result.output
    (call,) = telegram.sent("setWebhook")
    assert call["url"] == "https://heard.example.org/telegram/webhook"
    assert call["secret_token"] == SECRET
    assert "callback_query" in call["allowed_updates"]
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    result = CliRunner().invoke(app, ["telegram", "set-webhook"])
    assert result.exit_code == 1 and "TELEGRAM_BOT_TOKEN is not set" in result.output
