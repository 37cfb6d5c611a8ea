"""Slack request bodies as Slack sends them (Events API, slash commands, block actions), signed.

Event text is escaped the way Slack escapes it (``&amp;``, ``&lt;``, ``&gt;``), and the bot's
mention is the ``<@U...>`` token.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

TEAM = "T0TEAM001"
APP_ID = "A0MBCBOT1"
BOT_USER = "U0MBCBOT1"
BOT_ID = "B0MBCBOT1"
USER = "U0NURSE01"
CHANNEL = "C0ONCOLOGY"
DM = "D0DIRECT01"
SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-1111-2222-TESTTOKEN"
APP_TOKEN = "xapp-1-A0MBCBOT1-3333-TESTAPPTOKEN"

_ts = itertools.count(1)
_ids = itertools.count(1)


def new_ts() -> str:
    return f"{1_700_000_000 + next(_ts)}.000200"


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):010d}"


def slack_escape(text: str) -> str:
    """How Slack sends what a user typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def envelope(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """An Events API ``event_callback``."""
    return {
        "token": "legacy-verification-token", "team_id": TEAM, "api_app_id": APP_ID, "event": event,
        "type": "event_callback", "event_id": event_id or new_id("Ev"), "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False, "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    }


def mention(text: str, channel: str = CHANNEL, *, thread_ts: str | None = None, user: str = USER,
            ts: str | None = None, raw: bool = False) -> dict[str, Any]:
    """A channel message that mentions the bot first (``raw``: ``text`` is already Slack's)."""
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text if raw else slack_escape(text)}", "ts": ts,
        "channel": channel, "event_ts": ts, "team": TEAM, "client_msg_id": new_id("msg-"),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return envelope(event)


def dm(text: str, channel: str = DM, *, user: str | None = USER, ts: str | None = None, raw: bool = False,
       **extra: Any) -> dict[str, Any]:
    """A direct message to the bot (``message.im``)."""
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": "message", "channel_type": "im", "user": user, "text": text if raw else slack_escape(text), "ts": ts,
        "channel": channel, "event_ts": ts, "team": TEAM, "client_msg_id": new_id("msg-"),
    }
    event.update(extra)
    return envelope({k: v for k, v in event.items() if v is not None})


def dm_edit(text: str, channel: str = DM) -> dict[str, Any]:
    ts = new_ts()
    return envelope({
        "type": "message", "subtype": "message_changed", "channel_type": "im", "channel": channel, "hidden": True,
        "ts": new_ts(), "event_ts": ts,
        "message": {"type": "message", "user": USER, "text": slack_escape(text), "ts": ts, "edited": {"user": USER, "ts": ts}},
        "previous_message": {"type": "message", "user": USER, "text": "before", "ts": ts},
    })


def dm_join(channel: str = DM) -> dict[str, Any]:
    return dm(f"<@{USER}> has joined the channel", channel, raw=True, subtype="channel_join")


def dm_file_share(channel: str = DM) -> dict[str, Any]:
    return dm("is this scan normal?", channel, subtype="file_share",
              files=[{"id": "F0FILE01", "name": "scan.png", "mimetype": "image/png"}])


def dm_from_bot(channel: str = DM) -> dict[str, Any]:
    """Another app's bot writing in the DM (a bot_message, and with a bot_id)."""
    return dm("I am another bot: what are the side effects of ibrance?", channel, subtype="bot_message",
              bot_id="B0OTHERBOT", user=None)


def dm_from_other_bot_user(channel: str = DM) -> dict[str, Any]:
    """A bot user's message without a subtype: only its bot_id gives it away."""
    return dm("ibrance side effects", channel, bot_id="B0OTHERBOT", user="U0OTHERBOT")


def dm_from_self(channel: str = DM) -> dict[str, Any]:
    return dm("hello", channel, user=BOT_USER, bot_id=BOT_ID)


def command(text: str, response_url: str, channel: str = CHANNEL, *, user: str = USER,
            name: str = "/mbc") -> dict[str, str]:
    """A slash command's form fields."""
    return {
        "token": "legacy-verification-token", "team_id": TEAM, "team_domain": "test", "channel_id": channel,
        "channel_name": "oncology", "user_id": user, "user_name": "nurse", "command": name, "text": text,
        "api_app_id": APP_ID, "is_enterprise_install": "false", "response_url": response_url,
        "trigger_id": new_id("trigger."),
    }


def block_action(value: str, action_id: str, *, channel: str, message_ts: str | None, thread_ts: str | None = None,
                 ephemeral: bool = False, response_url: str = "", user: str = USER) -> dict[str, Any]:
    """A button press on the bot's message (an ephemeral one has no ``message``)."""
    container: dict[str, Any] = {"type": "message", "message_ts": message_ts, "channel_id": channel,
                                 "is_ephemeral": ephemeral}
    if thread_ts:
        container["thread_ts"] = thread_ts
    body: dict[str, Any] = {
        "type": "block_actions", "user": {"id": user, "username": "nurse", "name": "nurse", "team_id": TEAM},
        "api_app_id": APP_ID, "token": "legacy-verification-token", "container": container,
        "trigger_id": new_id("trigger."), "team": {"id": TEAM, "domain": "test"}, "enterprise": None,
        "is_enterprise_install": False, "channel": {"id": channel, "name": "oncology"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "mbc-0-act-0", "text": {"type": "plain_text", "text": "x"},
                     "value": value, "type": "button", "action_ts": f"{time.time():.6f}"}],
    }
    if not ephemeral:
        message: dict[str, Any] = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": message_ts, "text": "..."}
        if thread_ts:
            message["thread_ts"] = thread_ts
        body["message"] = message
    return body


def encode(body: dict[str, Any]) -> tuple[bytes, str]:
    """The raw request body and its content type, as Slack sends each kind."""
    if body.get("type") == "event_callback" or body.get("type") == "url_verification":
        return json.dumps(body).encode(), "application/json"
    if body.get("type") == "block_actions":
        return urlencode({"payload": json.dumps(body)}).encode(), "application/x-www-form-urlencoded"
    return urlencode(body).encode(), "application/x-www-form-urlencoded"


def sign(raw: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers for exactly these bytes."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
