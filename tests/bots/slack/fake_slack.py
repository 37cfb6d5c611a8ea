"""A fake Slack on 127.0.0.1: the Web API, ``response_url`` endpoints and a Socket Mode websocket.

aiohttp serves it on its own event loop in a background thread, because the Bolt app
under test is synchronous: its WebClient blocks while the fake answers.

It records every call (with its HTTP status and what it answered) and rejects what
Slack would reject: blocks that slack_sdk's models refuse (they check Slack's per-block
limits), more than 50 blocks, duplicate block ids, context blocks over 10 elements,
more block text than Slack takes in one message. It is stricter than Slack in one way:
mrkdwn that would ping or mention (``<!channel>``, ``<@U1>``, ``<#C1>``), a ``<`` or
``>`` outside a link, or an unescaped ``&`` is refused with ``unsafe_mrkdwn``, in the
blocks and in the ``text`` fallback, which is also required. ``fail()`` makes a later
call fail once (a 429 with ``Retry-After``, ``invalid_blocks``, a 500...).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from .payloads import APP_ID, BOT_ID, BOT_USER, TEAM

T = TypeVar("T")

MAX_BLOCKS = 50
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT_OBJECT = 3000
MAX_MESSAGE_BLOCK_TEXT = 13_000  # about where Slack answers msg_blocks_too_long
INVALID_BOT_TOKEN = "xoxb-invalid"
INVALID_APP_TOKEN = "xapp-invalid"

_LINK = re.compile(r"<(https?://[^\s<>|]+)\|([^<>]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")


class MrkdwnError(ValueError):
    """Text that would do more than show itself in Slack."""


def check_mrkdwn(text: str) -> None:
    """Raise MrkdwnError unless ``text`` only shows text, formatting and web links."""
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "<":
            link = _LINK.match(text, pos)
            if not link:
                raise MrkdwnError(f"'<' that is not a web link at {pos}: {text[pos:pos + 20]!r} (a ping, a mention or broken text)")
            _check_entities(link.group(1), pos)
            _check_entities(link.group(2), pos)
            pos = link.end()
        elif char == ">":
            raise MrkdwnError(f"unescaped '>' at {pos}")
        elif char == "&":
            if not _ENTITY.match(text, pos):
                raise MrkdwnError(f"unescaped '&' at {pos}")
            pos += 1
        else:
            pos += 1


def _check_entities(part: str, pos: int) -> None:
    for at, char in enumerate(part):
        if char == "&" and not _ENTITY.match(part, at):
            raise MrkdwnError(f"unescaped '&' in a link near {pos}")


def visible_text(mrkdwn: str) -> str:
    """What a reader sees of mrkdwn: links as their labels, bold and italics as plain, escapes undone."""
    text = _LINK.sub(lambda m: m.group(2), mrkdwn)
    text = _BOLD.sub(lambda m: m.group(1), text)
    text = _ITALIC.sub(lambda m: m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_objects(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block.get("type") == "section":
        return [block["text"]] if isinstance(block.get("text"), dict) else []
    if block.get("type") == "context":
        return [e for e in block.get("elements", []) if isinstance(e, dict) and e.get("type") in ("mrkdwn", "plain_text")]
    return []


def check_message(params: dict[str, Any]) -> tuple[str, str] | None:
    """(Slack's error code, why) if Slack would refuse to post (or we would refuse to see) this message."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        return "no_text", "no text fallback (notifications and screen readers need one)"
    try:
        check_mrkdwn(text)
    except MrkdwnError as exc:
        return "unsafe_mrkdwn", f"text: {exc}"
    blocks = params.get("blocks")
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not isinstance(blocks, list):
        return "invalid_blocks_format", "blocks must be a list"
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks", f"{len(blocks)} blocks, more than {MAX_BLOCKS}"
    ids: set[str] = set()
    total = 0
    for number, raw in enumerate(blocks):
        try:
            block = Block.parse(raw)
            if block is None or type(block) is Block:
                return "invalid_blocks", f"block {number}: unknown type {raw.get('type')!r}"
            block.to_dict()  # slack_sdk's models check Slack's limits here
        except (SlackObjectFormationError, TypeError) as exc:
            return "invalid_blocks", f"block {number}: {exc}"
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in ids:
                return "invalid_blocks", f"block {number}: duplicate block_id {block_id!r}"
            ids.add(block_id)
        if raw["type"] == "context" and len(raw.get("elements", [])) > MAX_CONTEXT_ELEMENTS:
            return "invalid_blocks", f"block {number}: more than {MAX_CONTEXT_ELEMENTS} context elements"
        for obj in _text_objects(raw):
            if len(obj["text"]) > MAX_TEXT_OBJECT:
                return "invalid_blocks", f"block {number}: a text of {len(obj['text'])} characters"
            total += len(obj["text"])
            if obj["type"] == "mrkdwn":
                try:
                    check_mrkdwn(obj["text"])
                except MrkdwnError as exc:
                    return "unsafe_mrkdwn", f"block {number}: {exc}"
        if raw["type"] == "actions":
            actions = [e.get("action_id") for e in raw.get("elements", [])]
            if len(set(actions)) != len(actions):
                return "invalid_blocks", f"block {number}: duplicate action_id"
            total += sum(len(e.get("text", {}).get("text", "")) for e in raw.get("elements", []))
    if total > MAX_MESSAGE_BLOCK_TEXT:
        return "msg_blocks_too_long", f"{total} characters of block text"
    return None


@dataclass
class Call:
    """One request the bot made, and how the fake answered it."""

    method: str  # a Web API method, or "response_url"
    params: dict[str, Any]
    status: int
    token: str | None
    result: Any = None
    problem: str | None = None
    path: str = ""
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        if isinstance(self.result, dict):
            return self.status == 200 and bool(self.result.get("ok"))
        return self.status == 200

    @property
    def posted(self) -> bool:
        """A message the user now sees (posted, or sent through a response URL)."""
        return self.ok and self.method in ("chat.postMessage", "response_url")

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.params.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    @property
    def channel(self) -> str | None:
        return self.params.get("channel")

    @property
    def thread_ts(self) -> str | None:
        return self.params.get("thread_ts")

    @property
    def ts(self) -> str | None:
        return self.result.get("ts") if isinstance(self.result, dict) else None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, value) of every button, in order."""
        return [(e["text"]["text"], e.get("value", "")) for b in self.blocks if b.get("type") == "actions"
                for e in b.get("elements", []) if e.get("type") == "button"]

    def texts(self, kind: str) -> list[str]:
        """The visible mrkdwn texts of the blocks of one type (section, context)."""
        return [visible_text(o["text"]) for b in self.blocks if b.get("type") == kind for o in _text_objects(b)]

    @property
    def visible(self) -> str:
        """Everything a reader sees in the message (the fallback, when it has no blocks)."""
        if not self.blocks:
            return visible_text(self.text)
        return "\n\n".join(visible_text(o["text"]) for b in self.blocks for o in _text_objects(b))

    @property
    def mrkdwn(self) -> str:
        """All the raw mrkdwn the message carries: the fallback and every text object."""
        return "\n".join([self.text, *(o["text"] for b in self.blocks for o in _text_objects(b))])


@dataclass
class Fault:
    method: str
    status: int
    error: str
    retry_after: int | None
    times: int


class FakeSlack:
    """The fake. ``start()`` it; ``api_url`` is its Web API base URL."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.acks: list[dict[str, Any]] = []  # Socket Mode envelope acknowledgements
        self.post_latency_s = 0.0  # how long each post takes to be answered
        self.port = 0
        self._faults: list[Fault] = []
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-slack", daemon=True)
        self._runner: web.AppRunner | None = None

    # --- control ---------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        self._thread.start()
        self._run(self._start())
        return self

    def close(self) -> None:
        self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{key}"

    def fail(self, method: str, *, error: str = "ratelimited", status: int | None = None, retry_after: int | None = None,
             times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with an error (429 for ratelimited)."""
        if status is None:
            status = 429 if error == "ratelimited" else (400 if method == "response_url" else 200)
        if status == 429 and retry_after is None:
            retry_after = 0
        self._faults.append(Fault(method, status, error, retry_after, times))

    def of(self, method: str, *, ok: bool | None = True, since: int = 0) -> list[Call]:
        return [c for c in self.calls[since:] if c.method == method and (ok is None or c.ok == ok)]

    def posted(self, since: int = 0) -> list[Call]:
        """Messages users see, in order."""
        return [c for c in self.calls[since:] if c.posted]

    def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0, since: int = 0) -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in list(self.calls[since:]):
                if predicate(call):
                    return call
            time.sleep(0.01)
        raise AssertionError("the bot never made the expected call")

    # --- Socket Mode -----------------------------------------------------------------------
    def wait_connected(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._sockets:
            if time.monotonic() > deadline:
                raise AssertionError("the bot never opened the Socket Mode connection")
            time.sleep(0.01)

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push an envelope to every open Socket Mode connection."""
        async def send() -> None:
            for socket in list(self._sockets):
                await socket.send_str(json.dumps(envelope))

        self._run(send())

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ack in list(self.acks):
                if ack.get("envelope_id") == envelope_id:
                    return ack
            time.sleep(0.01)
        raise AssertionError(f"envelope {envelope_id} was never acknowledged")

    # --- the server ----------------------------------------------------------------------------
    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw = await request.text()
            data: dict[str, Any] = json.loads(raw) if raw.strip() else {}
            return data
        return dict(await request.post())

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if self.post_latency_s and method in ("chat.postMessage", "chat.postEphemeral"):
            await asyncio.sleep(self.post_latency_s)  # a slow Slack
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        status, body, problem, headers = self._answer(method, params, token)
        self.calls.append(Call(method, params, status, token, body, problem, request.path))
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, method: str, params: dict[str, Any], token: str | None
                ) -> tuple[int, dict[str, Any], str | None, dict[str, str]]:
        fault = self._fault(method)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return fault.status, {"ok": False, "error": fault.error}, "injected", headers
        if method == "apps.connections.open":
            if not token or not token.startswith("xapp-") or token == INVALID_APP_TOKEN:
                return 200, {"ok": False, "error": "invalid_auth"}, None, {}
            return 200, {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}, None, {}
        if not token or not token.startswith("xoxb-") or token == INVALID_BOT_TOKEN:
            return 200, {"ok": False, "error": "invalid_auth"}, None, {}
        if method == "auth.test":
            return 200, {"ok": True, "url": "https://test.slack.com/", "team": "Test team", "user": "mbcbot",
                         "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}, None, {}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            bad = check_message(params)
            if bad:
                return 200, {"ok": False, "error": bad[0]}, bad[1], {}
            ts = f"{1_800_000_000 + next(self._ts)}.000100"
            message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "app_id": APP_ID, "text": params.get("text"),
                       "ts": ts, "blocks": params.get("blocks") or []}
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            if method == "chat.postEphemeral":
                return 200, {"ok": True, "message_ts": ts}, None, {}
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}, None, {}
        return 200, {"ok": False, "error": "unknown_method"}, None, {}

    async def _respond(self, request: web.Request) -> web.Response:
        """A response_url: Slack answers "ok", or a status and a short error code."""
        params = await self._params(request)
        fault = self._fault("response_url")
        problem: str | None
        if fault is not None:
            status, result, problem = fault.status, fault.error, "injected"
        else:
            bad = check_message(params)
            status, result, problem = (400, bad[0], bad[1]) if bad else (200, "ok", None)
        self.calls.append(Call("response_url", params, status, None, result, problem, request.path))
        return web.Response(text=result, status=status)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                          "connection_info": {"app_id": APP_ID},
                                          "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600}}))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    data = json.loads(message.data)
                    if "envelope_id" in data:
                        self.acks.append(data)
        finally:
            self._sockets.remove(socket)
        return socket
