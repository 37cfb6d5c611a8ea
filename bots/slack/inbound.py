"""Slack events as engine input: who is talking, in which conversation, saying what.

Bolt hands listeners plain dicts, so this module needs no SDK. Conversations are:

- a thread in a channel, ``slack:<team>:<channel>:<thread ts>``: the mention that starts
  it and every later mention in the same thread (the bot only reads messages that
  mention it, never the rest of a channel);
- a direct message with the bot, ``slack:<team>:<dm channel>``;
- ``/mbc`` in a channel, ``slack:<team>:<channel>:user:<user>``: answers only the caller
  sees, so nobody else's thread is involved.

Slack sends message text already escaped (``&amp;``, ``&lt;``, ``&gt;``) with mentions,
channel names and links as ``<...>`` tokens. The engine gets readable text instead:
the bot's own mention removed, the tokens turned into words, the escapes undone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dialogue.replies import Incoming

#: Claim namespaces (see :meth:`dialogue.storage.ConversationStore.claim`).
EVENT_NAMESPACE = "slack-event"  # an Events API event_id
MESSAGE_NAMESPACE = "slack-message"  # one user message, whatever events announce it
INTERACTION_NAMESPACE = "slack-interaction"  # a slash command or a button press (trigger_id)

Payload = Mapping[str, Any]

_TOKEN = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True, slots=True)
class Target:
    """Where an event came from and where its answers go."""

    team: str
    channel: str
    conversation_id: str
    thread_ts: str | None = None  # answer in this thread; None: at the top level (DMs)
    response_url: str | None = None  # answer only the caller, through this URL (ephemeral)
    person: str = ""  # the salted hash of the user it is for (the rate limit counts per person)
    legacy_id: str | None = None  # where an earlier version kept this conversation
    legacy_shared: bool = False  # that earlier conversation was shared by several people (a thread)

    @property
    def ephemeral(self) -> bool:
        return self.response_url is not None


def is_dm(channel: str, channel_type: str | None = None) -> bool:
    """A direct message with the bot (Slack's DM channel ids start with D)."""
    return channel_type == "im" or channel.startswith("D")


def person_salt(token: str) -> str:
    """The deployment's salt for people's hashes, from a secret it has anyway (the bot token)."""
    return hashlib.sha256(b"mbcbot-person:" + token.encode()).hexdigest() if token else ""


def person_of(team: str, user: str, salt: str = "") -> str:
    """A person as the store knows them: a salted hash of the Slack user, never the user id."""
    return hmac.new(salt.encode(), f"{team}:{user}".encode(), hashlib.sha256).hexdigest()[:20]


def thread_id(team: str, channel: str, thread_ts: str) -> str:
    """A thread as a whole (how conversations were keyed before each person got their own)."""
    return f"slack:{team}:{channel}:{thread_ts}"


def person_thread_id(team: str, channel: str, thread_ts: str, person: str) -> str:
    """One person's conversation in a thread: their facts never shape another person's answers."""
    return f"{thread_id(team, channel, thread_ts)}:{person}"


def dm_id(team: str, person: str) -> str:
    return f"slack:{team}:dm:{person}"


def legacy_dm_id(team: str, channel: str) -> str:
    return f"slack:{team}:{channel}"


def command_id(team: str, channel: str, user: str) -> str:
    return f"slack:{team}:{channel}:user:{user}"


def person_prefix(team: str) -> str:
    """Every conversation of a person starts with this and ends with ``:<person>`` (see ``forget``)."""
    return f"slack:{team}:"


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def team_of(body: Payload, event: Payload | None = None) -> str:
    """The workspace: ``team_id`` of an event or command, ``team.id`` of an interaction."""
    team = body.get("team")
    return (_str(body.get("team_id")) or (_str(team.get("id")) if isinstance(team, Mapping) else "")
            or _str((event or {}).get("team")))


def from_person(event: Payload, bot_user_id: str | None) -> bool:
    """A new message typed by a person: not the bot itself, not another bot (two bots must not
    talk each other into a loop), not an edit, deletion, join, file share or other subtype."""
    return (
        not event.get("subtype")
        and not event.get("bot_id")
        and not event.get("hidden")
        and bool(_str(event.get("user")))
        and event.get("user") != bot_user_id
        and bool(_str(event.get("channel")))
        and bool(_str(event.get("ts")))
    )


def _in_thread(team: str, channel: str, root: str, user: str, salt: str) -> Target:
    person = person_of(team, user, salt)
    return Target(team, channel, person_thread_id(team, channel, root, person), thread_ts=root, person=person,
                  legacy_id=thread_id(team, channel, root), legacy_shared=True)


def _in_dm(team: str, channel: str, user: str, salt: str, thread_ts: str | None) -> Target:
    person = person_of(team, user, salt)
    return Target(team, channel, dm_id(team, person), thread_ts=thread_ts, person=person,
                  legacy_id=legacy_dm_id(team, channel))


def _by_command(team: str, channel: str, user: str, salt: str, url: str) -> Target:
    person = person_of(team, user, salt)
    return Target(team, channel, command_id(team, channel, person), response_url=url, person=person,
                  legacy_id=command_id(team, channel, user))


def mention_target(body: Payload, event: Payload, salt: str = "") -> Target | None:
    """A mention answers in its thread (a new one on the mentioning message); in a DM, in the DM.
    Each person has their own conversation in a thread."""
    channel, team, user = _str(event.get("channel")), team_of(body, event), _str(event.get("user"))
    if not channel or not user:
        return None
    if is_dm(channel, _str(event.get("channel_type")) or None):
        return dm_target(body, event, salt)
    root = _str(event.get("thread_ts")) or _str(event.get("ts"))
    return _in_thread(team, channel, root, user, salt)


def dm_target(body: Payload, event: Payload, salt: str = "") -> Target | None:
    """The whole DM is one conversation; a message written in a thread of it is answered there."""
    channel, team, user = _str(event.get("channel")), team_of(body, event), _str(event.get("user"))
    if not channel or not user:
        return None
    return _in_dm(team, channel, user, salt, _str(event.get("thread_ts")) or None)


def command_target(command: Payload, salt: str = "") -> Target | None:
    """``/mbc``: one conversation per person and channel, answered through the response URL."""
    channel, user, url = (_str(command.get(k)) for k in ("channel_id", "user_id", "response_url"))
    if not (channel and user and url):
        return None
    return _by_command(team_of(command), channel, user, salt, url)


def action_target(body: Payload, salt: str = "") -> Target | None:
    """A button press continues the presser's conversation where the button is."""
    container: Payload = body.get("container") or {}
    channel_info: Payload = body.get("channel") or {}
    user_info: Payload = body.get("user") or {}
    channel = _str(channel_info.get("id")) or _str(container.get("channel_id"))
    team = team_of(body) or _str(user_info.get("team_id"))
    user = _str(user_info.get("id"))
    if not channel or not user:
        return None  # not from a message (e.g. a Home tab), or from nobody: nothing of ours
    if container.get("is_ephemeral"):  # our answers to /mbc: only the presser sees them
        url = _str(body.get("response_url"))
        return _by_command(team, channel, user, salt, url) if url else None
    message: Payload = body.get("message") or {}
    thread = _str(message.get("thread_ts")) or _str(container.get("thread_ts")) or None
    if is_dm(channel):
        return _in_dm(team, channel, user, salt, thread)
    root = thread or _str(message.get("ts")) or _str(container.get("message_ts"))
    if not root:
        return None
    return _in_thread(team, channel, root, user, salt)


def event_keys(body: Payload, event: Payload, target: Target) -> tuple[tuple[str, str], ...]:
    """What a message is claimed under: its event id (Slack retries redeliver it) and the
    message itself (Slack can announce one message in two events, with two ids)."""
    keys = []
    if _str(body.get("event_id")):
        keys.append((EVENT_NAMESPACE, str(body["event_id"])))
    keys.append((MESSAGE_NAMESPACE, f"{target.team}:{target.channel}:{event.get('ts')}"))
    return tuple(keys)


def interaction_keys(payload: Payload) -> tuple[tuple[str, str], ...]:
    """A slash command or button press by its ``trigger_id``; without one (Slack always sends
    it, a replayed request may not), by its response URL, which is unique to the interaction."""
    trigger = _str(payload.get("trigger_id"))
    if trigger:
        return ((INTERACTION_NAMESPACE, trigger),)
    url = _str(payload.get("response_url"))
    return ((INTERACTION_NAMESPACE, "url:" + hashlib.sha256(url.encode()).hexdigest()[:32]),) if url else ()


def _token_words(match: re.Match[str], bot_user_id: str | None) -> str:
    """One ``<...>`` token as the words a reader sees."""
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "" if bot_user_id and target[1:] == bot_user_id else "@someone"
    if target.startswith("#"):
        return f"#{label}" if label else "#channel"
    if target.startswith("!"):
        name = target[1:].split("^")[0]
        return label or f"@{name}"
    return label or target  # a link


def clean_text(text: str, bot_user_id: str | None) -> str:
    """Slack's message text as the engine should read it (see the module docstring)."""
    words = _TOKEN.sub(lambda m: _token_words(m, bot_user_id), text)
    words = words.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(words.split())


def text_incoming(event: Payload, bot_user_id: str | None) -> Incoming:
    """A message or mention for the engine (which cleans and limits text itself)."""
    return Incoming(text=clean_text(_str(event.get("text")), bot_user_id))


def command_incoming(command: Payload) -> Incoming:
    """``/mbc QUESTION``; a bare ``/mbc`` asks for help."""
    text = clean_text(_str(command.get("text")), None)
    return Incoming(text=text or "help")


def pressed_payload(body: Payload, prefix: str) -> str | None:
    """The engine payload of the first of our buttons in a ``block_actions`` payload."""
    for action in body.get("actions") or ():
        if isinstance(action, Mapping) and _str(action.get("action_id")).startswith(prefix) and _str(action.get("value")):
            return str(action["value"])
    return None
