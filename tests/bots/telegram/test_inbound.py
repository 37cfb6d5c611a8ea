"""Updates as engine input: conversation ids, who is addressed in groups, mentions stripped."""

from __future__ import annotations

from typing import Any

from telegram import Bot, Update

from bots.telegram.inbound import addressed, conversation_id, message_text, target

from .updates import BOT_ID, BOT_USERNAME, CHAT, GROUP, TOKEN, callback_update, mention_update, text_update

BOT = Bot(TOKEN)


def update(data: dict[str, Any]) -> Update:
    data.setdefault("update_id", 1)
    parsed = Update.de_json(data, BOT)
    assert parsed is not None
    return parsed


def test_private_chats_are_one_conversation_and_group_members_one_each() -> None:
    assert conversation_id(42, "private", 42) == "telegram:42"
    assert conversation_id(-100, "supergroup", 7) == "telegram:-100:7"
    assert conversation_id(-100, "group", 8) == "telegram:-100:8"


def test_target_of_messages_and_button_presses() -> None:
    private = target(update(text_update("hi", CHAT)))
    assert private is not None and private.conversation_id == f"telegram:{CHAT}" and not private.group
    assert private.reply_to is None
    group = target(update(mention_update("hi", GROUP, user_id=7)))
    assert group is not None and group.conversation_id == f"telegram:{GROUP}:7" and group.group
    assert group.reply_to is not None  # answers quote the question in a group
    pressed = target(update(callback_update("t:x", GROUP, message_id=5, user_id=9)))
    assert pressed is not None and pressed.conversation_id == f"telegram:{GROUP}:9"


def test_channel_posts_have_no_target() -> None:
    post = {"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -1001, "type": "channel", "title": "News"},
                             "text": "hello"}}
    assert target(update(post)) is None


def test_in_groups_only_mentions_and_replies_are_addressed() -> None:
    plain = update(text_update("what is febrile neutropenia", GROUP, user_id=7)).message
    assert plain is not None and not addressed(plain, BOT_ID, BOT_USERNAME)
    mention = update(mention_update("what is febrile neutropenia")).message
    assert mention is not None and addressed(mention, BOT_ID, BOT_USERNAME)
    assert message_text(mention, BOT_USERNAME) == "what is febrile neutropenia"
    other_bot = text_update("@someone_else hello", GROUP, user_id=7)
    other_bot["message"]["entities"] = [{"type": "mention", "offset": 0, "length": 13}]
    message = update(other_bot).message
    assert message is not None and not addressed(message, BOT_ID, BOT_USERNAME)
    reply = text_update("and then?", GROUP, user_id=7, reply_to_message={
        "message_id": 3, "date": 0, "chat": {"id": GROUP, "type": "supergroup"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "bot"}})
    message = update(reply).message
    assert message is not None and addressed(message, BOT_ID, BOT_USERNAME)


def test_private_chats_are_always_addressed() -> None:
    message = update(text_update("hello", CHAT)).message
    assert message is not None and addressed(message, BOT_ID, BOT_USERNAME)
    assert message_text(message, BOT_USERNAME) == "hello"


def test_other_bots_are_never_answered() -> None:
    data = mention_update("hello")
    data["message"]["from"] = {"id": 999, "is_bot": True, "first_name": "other bot"}
    message = update(data).message
    assert message is not None and not addressed(message, BOT_ID, BOT_USERNAME)
