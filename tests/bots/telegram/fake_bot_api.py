"""A fake Telegram Bot API on 127.0.0.1 that enforces Telegram's limits.

It serves what python-telegram-bot calls in polling and webhook mode, records every
call (with its HTTP status) and rejects, the way Telegram does, what Telegram would
reject: text over 4096 visible characters, callback data over 64 bytes, more than 8
buttons in a row, and HTML that Telegram cannot parse (tags it does not support,
unbalanced tags, stray ``<`` ``>`` ``&``). ``fail()`` makes a later call answer with an
error once (a 429 with ``retry_after``, or a 400).

Requests arrive as form fields (nested objects as JSON strings), as PTB sends them.
Updates are kept per bot token, so several bots can poll one fake without stealing
each other's updates.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
MAX_BUTTONS_PER_ROW = 8
MAX_BUTTONS = 100
JSON_FIELDS = {"reply_markup", "link_preview_options", "reply_parameters", "commands", "allowed_updates", "entities", "scope"}
#: Telegram's HTML tags (https://core.telegram.org/bots/api#html-style) and the attributes they may carry.
ALLOWED_TAGS: dict[str, set[str]] = {
    "b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(), "s": set(), "strike": set(),
    "del": set(), "tg-spoiler": set(), "span": {"class"}, "a": {"href"}, "code": {"class"}, "pre": set(),
    "blockquote": {"expandable"}, "tg-emoji": {"emoji-id"},
}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:=\"[^\"<>]*\")?)*)\s*>")
_ATTR = re.compile(r"([A-Za-z-]+)(?:=\"([^\"<>]*)\")?")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9A-Fa-f]+);")
_STRIP = re.compile(r"<[^>]*>")


class HTMLError(ValueError):
    """Why Telegram would answer "can't parse entities"."""


def check_html(text: str) -> None:
    """Raise HTMLError unless Telegram's HTML parser would accept ``text``."""
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "<":
            match = _TAG.match(text, pos)
            if not match:
                raise HTMLError(f"unsupported start tag at byte offset {pos}")
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
            if name not in ALLOWED_TAGS:
                raise HTMLError(f'unsupported start tag "{name}" at byte offset {pos}')
            if closing:
                if attrs.strip():
                    raise HTMLError(f'end tag "{name}" with attributes at byte offset {pos}')
                if not stack or stack[-1] != name:
                    raise HTMLError(f'can\'t find start tag corresponding to end tag "{name}" at byte offset {pos}')
                stack.pop()
            else:
                found = dict(_ATTR.findall(attrs))
                unknown = set(found) - ALLOWED_TAGS[name]
                if unknown:
                    raise HTMLError(f'unsupported attribute "{min(unknown)}" of tag "{name}"')
                for value in found.values():
                    _check_entities(value, pos)
                if name == "a" and not found.get("href"):
                    raise HTMLError("a link without href")
                stack.append(name)
            pos = match.end()
        elif char == "&":
            if not _ENTITY.match(text, pos):
                raise HTMLError(f"unknown or unterminated entity at byte offset {pos}")
            pos += 1
        elif char == ">":
            raise HTMLError(f"unexpected '>' at byte offset {pos}")
        else:
            pos += 1
    if stack:
        raise HTMLError(f'can\'t find end tag corresponding to start tag "{stack[-1]}"')


def _check_entities(value: str, pos: int) -> None:
    for at, char in enumerate(value):
        if char == "&" and not _ENTITY.match(value, at):
            raise HTMLError(f"unknown or unterminated entity in an attribute near byte offset {pos}")


def visible_text(text: str, parse_mode: str | None) -> str:
    """What the user would read: for HTML, tags stripped and entities decoded."""
    if (parse_mode or "").upper() == "HTML":
        return html.unescape(_STRIP.sub("", text))
    return text


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One request the bot made, and how the fake answered it."""

    method: str
    params: dict[str, Any]
    status: int
    token: str
    result: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def visible(self) -> str:
        return visible_text(self.text, self.params.get("parse_mode"))

    @property
    def message_id(self) -> int | None:
        """The id of the message this call sent or edited."""
        return self.result.get("message_id") if isinstance(self.result, dict) else None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button, in order."""
        markup = self.params.get("reply_markup") or {}
        return [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class Fault:
    method: str
    status: int
    description: str
    retry_after: int | None
    chat_id: int | None
    times: int


class FakeBotAPI:
    """The fake server. ``await start()`` returns its root URL (``http://127.0.0.1:PORT``)."""

    def __init__(self, long_poll_cap_s: float = 1.0) -> None:
        self.long_poll_cap_s = long_poll_cap_s
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] | None = None
        self._updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._faults: list[Fault] = []
        self._next_update_id = 1000
        self._next_message_id = 1
        self._changed: asyncio.Condition | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- control ---------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._changed = asyncio.Condition()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        self._closing = True  # end pending long polls now, not at their timeout
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def push(self, update: dict[str, Any], token: str) -> int:
        """Queue an update for a bot's getUpdates; gives it an update_id if it has none."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        self._updates[token].append(update)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return int(update["update_id"])

    def new_update_id(self) -> int:
        self._next_update_id += 1
        return self._next_update_id - 1

    def fail(self, method: str, *, status: int = 429, description: str | None = None, retry_after: int | None = None,
             chat_id: int | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` (for ``chat_id``, if given) with an error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if status == 429 else "Bad Request"
        self._faults.append(Fault(method, status, description, retry_after, chat_id, times))

    def of(self, method: str, *, chat_id: int | None = None, ok: bool | None = True, since: int = 0) -> list[Call]:
        return [
            c for c in self.calls[since:]
            if c.method == method and (chat_id is None or c.chat_id == chat_id) and (ok is None or c.ok == ok)
        ]

    def sent(self, chat_id: int | None = None, since: int = 0) -> list[Call]:
        """Messages delivered (sendMessage accepted), in order."""
        return self.of("sendMessage", chat_id=chat_id, since=since)

    def most_in_any(self, period_s: float, calls: list[Call]) -> int:
        """The most of ``calls`` the fake received within any ``period_s`` seconds."""
        times = sorted(c.at for c in calls)
        most, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= period_s:
                first += 1
            most = max(most, last - first + 1)
        return most

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 5.0, since: int = 0) -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.calls[since:]:
                if predicate(call):
                    return call
            await asyncio.sleep(0.01)
        raise AssertionError("the bot never made the expected call")

    # --- the Bot API -------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await self._params(request)
        status, body = await self._answer(token, method, params)
        if method != "getUpdates" or status != 200 or body.get("result"):
            self.calls.append(Call(method, params, status, token, body.get("result")))
        return web.json_response(body, status=status)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw: dict[str, Any] = await request.json()
        else:
            raw = dict(await request.post())
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in JSON_FIELDS and isinstance(value, str):
                value = json.loads(value)
            params[key] = value
        return params

    def _fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        for fault in self._faults:
            chat = params.get("chat_id")
            if fault.method == method and (fault.chat_id is None or (chat is not None and int(chat) == fault.chat_id)):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _answer(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        fault = self._fault(method, params)
        if fault is not None:
            body: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": fault.description}
            if fault.retry_after is not None:
                body["parameters"] = {"retry_after": fault.retry_after}
            return fault.status, body
        bot_id = int(token.split(":")[0])
        if method == "getMe":
            return _ok({"id": bot_id, "is_bot": True, "first_name": "mbcbot test", "username": "mbc_test_bot",
                        "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False})
        if method == "getUpdates":
            return _ok(await self._get_updates(token, params))
        if method in ("sendMessage", "editMessageText"):
            problem = self._check_message(params)
            if problem:
                return _bad(problem)
            return _ok(self._message(bot_id, params))
        if method == "setWebhook":
            self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
            return _ok(True)
        if method == "deleteWebhook":
            self.webhook = None
            return _ok(True)
        if method == "setMyCommands":
            for command in params.get("commands", []):
                if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]) or not 1 <= len(command["description"]) <= 256:
                    return _bad("Bad Request: BOT_COMMAND_INVALID")
            return _ok(True)
        if method in ("answerCallbackQuery", "sendChatAction"):
            return _ok(True)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    async def _get_updates(self, token: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        queue = self._updates[token]
        queue[:] = [u for u in queue if u["update_id"] >= offset]  # lower ids are confirmed
        if not queue:
            wait = min(float(params.get("timeout") or 0), self.long_poll_cap_s)
            assert self._changed is not None
            async with self._changed:
                with_timeout = asyncio.wait_for(self._changed.wait_for(lambda: bool(self._updates[token]) or self._closing), wait)
                try:
                    await with_timeout
                except asyncio.TimeoutError:
                    pass
        return list(queue[: int(params.get("limit") or 100)])

    def _check_message(self, params: dict[str, Any]) -> str | None:
        text = str(params.get("text", ""))
        parse_mode = params.get("parse_mode")
        if (parse_mode or "").upper() == "HTML":
            try:
                check_html(text)
            except HTMLError as exc:
                return f"Bad Request: can't parse entities: {exc}"
        visible = visible_text(text, parse_mode)
        if not visible.strip():
            return "Bad Request: message text is empty"
        if utf16_length(visible) > MAX_TEXT:
            return "Bad Request: message is too long"
        markup = params.get("reply_markup")
        if markup:
            rows = markup.get("inline_keyboard", [])
            if sum(len(r) for r in rows) > MAX_BUTTONS or any(len(r) > MAX_BUTTONS_PER_ROW for r in rows):
                return "Bad Request: BUTTONS_TOO_MUCH"
            for row in rows:
                for button in row:
                    data = button.get("callback_data")
                    if not button.get("text"):
                        return "Bad Request: BUTTON_TEXT_EMPTY"
                    if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES:
                        return "Bad Request: BUTTON_DATA_INVALID"
        return None

    def _message(self, bot_id: int, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message_id = int(params.get("message_id") or 0)
        if not message_id:
            message_id = self._next_message_id
            self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": message_id, "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": {"id": bot_id, "is_bot": True, "first_name": "mbcbot test", "username": "mbc_test_bot"},
            "text": visible_text(str(params.get("text", "")), params.get("parse_mode")),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message


def _ok(result: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": result}


def _bad(description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"ok": False, "error_code": 400, "description": description}
