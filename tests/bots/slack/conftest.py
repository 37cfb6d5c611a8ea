"""Fixtures: the fake Slack, and the real Bolt app serving HTTP on 127.0.0.1 through the adapter."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bots.slack.app import build_app, web_client
from dialogue.config import Settings
from dialogue.engine import Engine, EngineOptions
from dialogue.model import Knowledge
from dialogue.session import Session
from dialogue.storage import ConversationStore, MemoryStore

from . import payloads
from .fake_slack import Call, FakeSlack
from .payloads import BOT_TOKEN, CHANNEL, SECRET, USER


@pytest.fixture(autouse=True)
def _no_slack_or_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SLACK_CLIENT_ID/SECRET would switch Bolt to OAuth; a proxy would take 127.0.0.1 traffic."""
    for name in list(os.environ):
        if name.startswith("SLACK_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


def make_session(knowledge: Knowledge, store: ConversationStore | None = None, **options: Any) -> Session:
    """The clinical-team bot as deployed: clinician voice, no consent step."""
    return Session(Engine(knowledge, EngineOptions(**{"audience": "clinician", **options})), store or MemoryStore())


def make_settings(**options: Any) -> Settings:
    return Settings().with_overrides(store="memory", **options)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.close()


class TrackingExecutor(ThreadPoolExecutor):
    """The answers' thread pool, which can tell when every answer submitted so far is done."""

    def __init__(self) -> None:
        super().__init__(max_workers=4, thread_name_prefix="test-slack")
        self._pending: set[Future[Any]] = set()
        self._guard = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        with self._guard:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._guard:
            self._pending.discard(future)

    def wait_idle(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._guard:
                pending = set(self._pending)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the bot is still answering")
            wait(pending, timeout=max(0.0, deadline - time.monotonic()))


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def post(url: str, raw: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST without any proxy; (status, body) whatever the status."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


class Harness:
    """Talks to the running app as Slack would, and waits until each request's answer is done."""

    def __init__(self, fake: FakeSlack, app: App, executor: TrackingExecutor, url: str) -> None:
        self.fake = fake
        self.app = app
        self.executor = executor
        self.url = url
        self._command_channels: dict[str, str] = {}

    def send(self, body: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None,
             retry: int | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
        raw, content_type = payloads.encode(body)
        all_headers = {"Content-Type": content_type, **payloads.sign(raw, secret, timestamp)}
        if retry is not None:
            all_headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        all_headers.update(headers or {})
        return post(self.url, raw, all_headers)

    def run(self, body: dict[str, Any], **options: Any) -> list[Call]:
        """Deliver one request, wait for its answer; the calls the bot made meanwhile."""
        since = len(self.fake.calls)
        status, _ = self.send(body, **options)
        assert status == 200, status
        self.executor.wait_idle()
        return self.fake.calls[since:]

    def mention(self, text: str, **options: Any) -> list[Call]:
        return self.run(payloads.mention(text, **options))

    def dm(self, text: str, **options: Any) -> list[Call]:
        return self.run(payloads.dm(text, **options))

    def command(self, text: str, channel: str = CHANNEL, **options: Any) -> list[Call]:
        url = self.fake.response_url(payloads.new_id("r"))
        self._command_channels[url] = channel
        return self.run(payloads.command(text, url, channel, **options))

    def press(self, calls: list[Call], label: str, user: str = USER) -> list[Call]:
        """Press the button labelled ``label`` on the message that offered it."""
        for call in calls:
            for block in call.blocks if call.posted else ():
                for element in block.get("elements", []) if block.get("type") == "actions" else ():
                    if element["text"]["text"] == label:
                        return self.run(self._press(call, element, user))
        offered = [text for call in calls for text, _ in call.buttons]
        raise AssertionError(f"no button {label!r} (offered: {offered})")

    def _press(self, call: Call, element: dict[str, Any], user: str) -> dict[str, Any]:
        if call.method == "response_url":  # an ephemeral answer to /mbc
            url = self.fake.response_url(payloads.new_id("r"))
            channel = self._command_channels[next(u for u in self._command_channels if call.path in u)]
            return payloads.block_action(element["value"], element["action_id"], channel=channel, message_ts=None,
                                         ephemeral=True, response_url=url, user=user)
        return payloads.block_action(element["value"], element["action_id"], channel=str(call.channel),
                                     message_ts=call.ts, thread_ts=call.thread_ts, user=user,
                                     response_url=self.fake.response_url(payloads.new_id("r")))


@contextmanager
def serving(app: App, path: str = "/slack/events") -> Iterator[str]:
    """Bolt's WSGI adapter on a local threaded server (port 0); yields the endpoint URL."""
    server = make_server("127.0.0.1", 0, SlackRequestHandler(app, path), server_class=_ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def running(fake: FakeSlack, session: Session, settings: Settings | None = None, *,
            token: str = BOT_TOKEN) -> Iterator[Harness]:
    """The real Bolt app from build_app, in HTTP mode, against the fake."""
    executor = TrackingExecutor()
    app = build_app(session, settings or make_settings(), web_client(token, fake.api_url), signing_secret=SECRET,
                    executor=executor)
    try:
        with serving(app) as url:
            yield Harness(fake, app, executor, url)
    finally:
        executor.shutdown(wait=True)


def posted(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.posted]


def shown(calls: list[Call]) -> list[str]:
    """What the user read, message by message."""
    return [c.visible for c in posted(calls)]
