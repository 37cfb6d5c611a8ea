"""Telegram update JSON as the Bot API sends it (only the fields PTB needs, plus realistic extras)."""

from __future__ import annotations

import itertools
import time
from typing import Any

BOT_ID = 123456
BOT_USERNAME = "mbc_test_bot"
TOKEN = f"{BOT_ID}:TEST-TOKEN"
CHAT = 42
GROUP = -100777

_message_ids = itertools.count(50_000)
_query_ids = itertools.count(1)


def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Pat", "language_code": "en"}


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": "Family"}
    return {"id": chat_id, "type": "private", "first_name": "Pat"}


def bot_user() -> dict[str, Any]:
    return {"id": BOT_ID, "is_bot": True, "first_name": "mbcbot test", "username": BOT_USERNAME}


def message(text: str | None = None, chat_id: int = CHAT, user_id: int | None = None, **extra: Any) -> dict[str, Any]:
    """A message; a leading /command gets its bot_command entity (PTB's CommandHandler needs it)."""
    body: dict[str, Any] = {
        "message_id": next(_message_ids), "date": int(time.time()), "chat": chat(chat_id),
        "from": user(user_id if user_id is not None else abs(chat_id)),
    }
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    body.update(extra)
    return body


def text_update(text: str, chat_id: int = CHAT, user_id: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"message": message(text, chat_id, user_id, **extra)}


def mention_update(text: str, chat_id: int = GROUP, user_id: int = 7) -> dict[str, Any]:
    """A group message that starts by mentioning the bot."""
    handle = f"@{BOT_USERNAME}"
    msg = message(f"{handle} {text}", chat_id, user_id)
    msg["entities"] = [{"type": "mention", "offset": 0, "length": len(handle)}]
    return {"message": msg}


def callback_update(data: str, chat_id: int = CHAT, message_id: int = 1, user_id: int | None = None) -> dict[str, Any]:
    """A button press on the bot's message ``message_id``."""
    return {
        "callback_query": {
            "id": str(next(_query_ids)), "from": user(user_id if user_id is not None else abs(chat_id)),
            "chat_instance": "instance-1", "data": data,
            "message": {"message_id": message_id, "date": int(time.time()), "chat": chat(chat_id),
                        "from": bot_user(), "text": "..."},
        }
    }


def sticker_update(chat_id: int = CHAT) -> dict[str, Any]:
    sticker = {"file_id": "CAACAgIAAxk", "file_unique_id": "AgADxk", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False, "emoji": "\U0001f44d"}
    return {"message": message(None, chat_id, sticker=sticker)}


def photo_update(chat_id: int = CHAT) -> dict[str, Any]:
    photo = [{"file_id": "AgACAgQ", "file_unique_id": "AQADx", "width": 90, "height": 90, "file_size": 1200}]
    return {"message": message(None, chat_id, photo=photo, caption="is this normal?")}


def voice_update(chat_id: int = CHAT) -> dict[str, Any]:
    voice = {"file_id": "AwACAgQ", "file_unique_id": "AgADy", "duration": 3, "mime_type": "audio/ogg"}
    return {"message": message(None, chat_id, voice=voice)}


def edited_update(text: str, chat_id: int = CHAT) -> dict[str, Any]:
    body = message(text, chat_id)
    body["edit_date"] = int(time.time())
    return {"edited_message": body}
