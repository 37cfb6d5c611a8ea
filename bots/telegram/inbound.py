"""Telegram updates as engine input: who is talking, in which conversation, saying what.

A private chat is one conversation (``telegram:<chat_id>``). In a group every member has
their own conversation (``telegram:<chat_id>:<user_id>``), so one person's answers never
fill in another's question, and the bot only listens when it is mentioned or replied to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ChatType, MessageEntityType

from dialogue.replies import Incoming

PRIVATE_TYPES = (ChatType.PRIVATE,)
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)


@dataclass(frozen=True, slots=True)
class Target:
    """Where an update came from and where its answers go."""

    chat_id: int
    conversation_id: str
    group: bool
    thread_id: int | None = None  # forum topic of the message, answered in the same topic
    reply_to: int | None = None  # in groups, answers quote the user's message


def conversation_id(chat_id: int, chat_type: str, user_id: int | None) -> str:
    """The engine's conversation key for a chat (and, in groups, one of its members)."""
    if chat_type in GROUP_TYPES and user_id is not None:
        return f"telegram:{chat_id}:{user_id}"
    return f"telegram:{chat_id}"


def target(update: Update) -> Target | None:
    """The chat and conversation an update belongs to; ``None`` for updates we never answer
    (channel posts, inline queries, updates without a chat)."""
    chat = update.effective_chat
    if chat is None or chat.type not in PRIVATE_TYPES + GROUP_TYPES:
        return None
    user = update.effective_user
    group = chat.type in GROUP_TYPES
    if group and user is None:
        return None
    message = update.message or (update.callback_query.message if update.callback_query else None)
    thread_id = None
    if isinstance(message, Message) and message.is_topic_message:
        thread_id = message.message_thread_id
    reply_to = update.message.message_id if group and update.message else None
    return Target(chat.id, conversation_id(chat.id, chat.type, user.id if user else None), group, thread_id, reply_to)


def addressed(message: Message, bot_id: int, bot_username: str | None) -> bool:
    """In a private chat always; in a group only when the bot is mentioned or replied to
    (and never by another bot, so two bots cannot talk each other into a loop)."""
    if message.from_user is not None and message.from_user.is_bot:
        return False
    if message.chat.type in PRIVATE_TYPES:
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    handle = f"@{bot_username}".lower() if bot_username else None
    entities = message.parse_entities([MessageEntityType.MENTION, MessageEntityType.TEXT_MENTION])
    for entity, text in entities.items():
        if entity.type == MessageEntityType.TEXT_MENTION and entity.user is not None and entity.user.id == bot_id:
            return True
        if handle and text.lower() == handle:
            return True
    return False


def message_text(message: Message, bot_username: str | None) -> str:
    """The user's text without the bot's @handle (which means nothing to the engine)."""
    text = message.text or ""
    if bot_username:
        text = re.sub(rf"(?i)@{re.escape(bot_username)}\b", "", text).strip()
    return text


def text_incoming(message: Message, bot_username: str | None) -> Incoming:
    """Typed text for the engine (the engine cleans and limits it)."""
    return Incoming(text=message_text(message, bot_username))


def payload_incoming(payload: str) -> Incoming:
    """A pressed button: ``callback_data`` is the payload the engine issued."""
    return Incoming(payload=payload)
