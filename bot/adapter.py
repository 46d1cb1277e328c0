"""Bot API update JSON → what heard does with it. Pure: no database, network or clock.

The webhook and the polling runner both feed raw update dicts (as Telegram documents them)
through `read_update`, so both modes store exactly the same inbox rows. An update is read into
the actions every channel speaks (`surveys.actions`) and Telegram's own chores: stopping a
button's spinner and redrawing check marks, which change nothing heard keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.keyboards import Keyboard, Press, parse_callback, toggled_keyboard
from surveys.actions import Action, Decline, Ignore, OptOut, Store
from surveys.messages import BadInbound, Inbound

CHANNEL = "telegram"
# Message fields that are not text: stored as media (a caption is the text) and answered by
# the conversation, as a photo by MMS is: "please type your answer", no attempt lost.
MEDIA = ("photo", "voice", "audio", "video", "video_note", "sticker", "location", "venue",
               "contact", "document", "animation", "poll", "dice", "game", "story", "paid_media")
# Slash commands and the engine keyword each stands for.
COMMANDS = {"language": "LANG", "lang": "LANG", "stop": "STOP", "help": "HELP", "skip": "SKIP",
            "back": "BACK"}
ENGINE_QUESTIONS = frozenset({"_consent"})  # asked by the engine, never its state's "current"


class NotAnUpdate(ValueError):
    """The JSON is not shaped like a Bot API Update (a 400, never stored)."""


@dataclass(frozen=True)
class Toggle:
    """A multi-choice check mark: redraw the keyboard; nothing is stored."""

    chat_id: int
    message_id: int
    keyboard: Keyboard
    callback_query_id: str


@dataclass(frozen=True)
class Acknowledge:
    """A press that answers nothing: stop the spinner, maybe with a short notice."""

    callback_query_id: str
    notice: Literal["choose_first"] | None = None
    address: str | None = None  # the chat, to say the notice in its language
    language_code: str | None = None


Chore = Toggle | Acknowledge
Actions = tuple[Action | Chore, ...]


@dataclass(frozen=True)
class _Message:
    update_id: int
    chat_id: int
    chat_type: str
    data: Mapping[str, Any] = field(repr=False)


def read_update(update: object) -> Actions:
    """What to do with one update, in order; raises `NotAnUpdate` when it is not one."""
    if not isinstance(update, Mapping) or not _is_int(update.get("update_id")):
        raise NotAnUpdate("not a Telegram update: expected an object with an integer update_id")
    update_id = int(update["update_id"])
    if "message" in update:
        return (_message(_read_message(update_id, update["message"])),)
    if "edited_message" in update:  # a correction: the conversation says how to change it
        return (_message(_read_message(update_id, update["edited_message"]), edited=True),)
    if "channel_post" in update:
        post = _read_message(update_id, update["channel_post"])
        return (Decline(_inbound(post, "", {"refused": post.chat_type})),)
    if "callback_query" in update:
        return _callback(update_id, update["callback_query"])
    if "my_chat_member" in update:
        return (_membership(update["my_chat_member"]),)
    kinds = [key for key in update if key != "update_id"]
    return (Ignore(kinds[0] if kinds else "empty update"),)


def _membership(change: object) -> Action:
    if not isinstance(change, Mapping):
        raise NotAnUpdate("my_chat_member must be an object")
    chat = change.get("chat")
    status = (change.get("new_chat_member") or {}).get("status")
    if (isinstance(chat, Mapping) and chat.get("type") == "private" and _is_int(chat.get("id"))
            and status == "kicked"):
        return OptOut(CHANNEL, str(chat["id"]))  # unblocking sends /start: START
    return Ignore(f"my_chat_member: {status}")


def _message(message: _Message, edited: bool = False) -> Action:
    data = message.data
    text = data.get("text")
    kind = next((key for key in MEDIA if data.get(key)), None)
    if text is None and kind is None:
        return Ignore("service message")
    if message.chat_type != "private":
        return Decline(_inbound(message, "", {"refused": message.chat_type}))
    payload: dict[str, Any] = {}
    if kind is not None:  # a photo's caption is what the person wrote
        caption = data.get("caption")
        text = caption if isinstance(caption, str) else ""
        payload["media"] = kind
    elif not isinstance(text, str):
        text, payload["media"] = "", "text"
    if edited:
        payload["edited"] = True
    else:
        text, commands = command_text(text)
        payload.update(commands)
    language = _language_code(data)
    if language:  # a newcomer is greeted in their app's language, where the survey has it
        payload["language"] = language
    return Store(_inbound(message, text, payload))


def command_text(text: str) -> tuple[str, dict[str, Any]]:
    """Slash commands as engine keywords; anything else unchanged.

    `/start CODE` (a deep link `t.me/<bot>?start=CODE`) joins the open round whose code is CODE:
    the worker matches payload["start"] with the open rounds, as it matches a code typed by SMS.
    A bare `/start` is START: Telegram sends it when a person who blocked the bot (and so was
    opted out) comes back.
    """
    if not text.startswith("/"):
        return text, {}
    head, _, argument = text.partition(" ")
    command = head[1:].split("@", 1)[0].lower()
    argument = argument.strip()
    if command == "start":
        if not argument:
            return "START", {"command": "start"}
        return "", {"command": "start", "start": argument}
    if command in COMMANDS:
        keyword = COMMANDS[command]
        return (f"{keyword} {argument}" if argument else keyword), {"command": command}
    return text, {}


def _callback(update_id: int, query: object) -> Actions:
    if not isinstance(query, Mapping) or not isinstance(query.get("id"), str):
        raise NotAnUpdate("callback_query without an id")
    query_id = query["id"]
    sender = query["from"] if isinstance(query.get("from"), Mapping) else {}
    message = query.get("message")
    if isinstance(message, Mapping) and isinstance(message.get("chat"), Mapping):
        origin = _read_message(update_id, message)
    elif _is_int(sender.get("id")):  # a private chat's id is the person's id
        origin = _Message(update_id, int(sender["id"]), "private", {})
    else:
        raise NotAnUpdate("callback_query without a message or a sender")
    press = parse_callback(query.get("data"))
    if press is None or origin.chat_type != "private":
        return (Acknowledge(query_id),)
    if press.kind == "toggle":
        keyboard = toggled_keyboard(origin.data.get("reply_markup"), press)
        if keyboard is None or not _is_int(origin.data.get("message_id")):
            return (Acknowledge(query_id),)
        return (Toggle(origin.chat_id, int(origin.data["message_id"]), keyboard, query_id),)
    if press.kind == "done" and not press.mask:
        return (Acknowledge(query_id, "choose_first", str(origin.chat_id),
                            _language_code(query)),)
    text, payload = _pressed(press)
    payload["callback_query_id"] = query_id
    return Acknowledge(query_id), Store(_inbound(origin, text, payload))


def _pressed(press: Press) -> tuple[str, dict[str, Any]]:
    """The text a press stands for, and the payload tying it to its question."""
    if press.kind == "language":
        # The engine, awaiting a menu choice, takes the code; `LANG xx` would show it again.
        return press.language, {}
    text = " ".join(map(str, press.selected())) if press.kind == "done" else str(press.number)
    if press.question_id is None:
        return text, {"question_digest": press.tag[1:]}
    if press.question_id in ENGINE_QUESTIONS:
        return text, {}
    return text, {"answer_to": press.question_id}


def _read_message(update_id: int, message: object) -> _Message:
    if not isinstance(message, Mapping):
        raise NotAnUpdate("message is not an object")
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or not _is_int(chat.get("id")):
        raise NotAnUpdate("message without a chat id")
    return _Message(update_id, int(chat["id"]), str(chat.get("type") or "private"), message)


def _inbound(message: _Message, text: str, payload: dict[str, Any]) -> Inbound:
    """Keyed by update_id: a re-delivered update (webhook retry, polling restart) is a no-op.

    received_at stays the time heard got it (as on every channel), not Telegram's `date`, so
    the sweeper's "not processed after N seconds" keeps its meaning for a polling backlog.
    """
    try:
        return Inbound(channel=CHANNEL, address=str(message.chat_id), text=text,
                       provider_id=str(message.update_id), payload=payload)
    except BadInbound as error:  # an id no Telegram update has (hundreds of digits)
        raise NotAnUpdate(f"not a Telegram update: {error}") from None


def _language_code(data: Mapping[str, Any]) -> str | None:
    sender = data.get("from")
    code = sender.get("language_code") if isinstance(sender, Mapping) else None
    return code if isinstance(code, str) and code else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
