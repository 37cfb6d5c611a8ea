"""The Slack endpoint under hostile or clumsy requests: nothing private in any log at any level, bad
timestamps refused with 401, oversized bodies and idle sockets handled by waitress's limits."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlparse

from bots.slack.app import HttpLimits, build_app, http_server, web_client
from dialogue.model import Knowledge

from ..adapter_support import every_log_record, leaked
from . import payloads
from .conftest import TrackingExecutor, make_session, make_settings, post, running, shown
from .fake_slack import FakeSlack
from .payloads import BOT_TOKEN, CHANNEL, DM, SECRET, TEAM, USER

MARKER = "Jane Roe zebracorn 1957"  # what a person typed: must never reach a log


def test_nothing_private_reaches_any_log_at_debug_whatever_the_request(fake: FakeSlack, knowledge: Knowledge) -> None:
    with every_log_record() as records:
        with running(fake, make_session(knowledge)) as bot:
            assert "neutropenia" in shown(bot.dm(f"ibrance side effects, {MARKER}"))[0]
            assert shown(bot.mention(f"letrozole side effects {MARKER}"))
            late = payloads.dm(f"fever of 39 on chemo {MARKER}")  # a genuine delivery, 10 minutes late
            assert bot.send(late, timestamp=int(time.time()) - 600)[0] == 401
            assert bot.send(payloads.dm(f"forged {MARKER}"), secret="not-the-signing-secret")[0] == 401
            assert bot.send(payloads.dm(f"odd {MARKER}"), headers={"X-Slack-Request-Timestamp": "soon"})[0] == 401
            bot.executor.wait_idle()
    assert any(r.getMessage() == "turn handled" for r in records)  # the capture did see the turns at INFO
    assert any("valid Slack signature" in r.getMessage() for r in records)  # and the refusals, without content
    assert leaked(records, [MARKER, "zebracorn", BOT_TOKEN, SECRET, USER, CHANNEL, DM, TEAM]) == []


def test_a_timestamp_that_is_not_a_number_is_refused_with_401_and_no_error(fake: FakeSlack, knowledge: Knowledge) -> None:
    with every_log_record() as records:
        with running(fake, make_session(knowledge)) as bot:
            for stamp in ("soon", "", "1.5e9", "\u00b9\u00b2", "-1"):
                status, _ = bot.send(payloads.dm("ibrance side effects"), headers={"X-Slack-Request-Timestamp": stamp})
                assert status == 401, stamp
            assert "neutropenia" in shown(bot.dm("ibrance side effects"))[0]  # still serving
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == []
    assert fake.of("chat.postMessage")[0].visible == shown(fake.calls)[0]  # only the signed request was answered
    assert len(fake.of("chat.postMessage")) == 1


@contextmanager
def on_waitress(fake: FakeSlack, knowledge: Knowledge, limits: HttpLimits = HttpLimits()) -> Iterator[str]:
    """The app as ``mbcbot slack --http`` serves it, on waitress in this process; yields its URL."""
    executor = TrackingExecutor()
    app = build_app(make_session(knowledge), make_settings(), web_client(BOT_TOKEN, fake.api_url), signing_secret=SECRET,
                    executor=executor)
    server = http_server(app, "127.0.0.1", 0, limits=limits)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/slack/events"
    finally:
        server.close()
        thread.join(5)
        executor.shutdown(wait=True)


def connect(url: str) -> socket.socket:
    where = urlparse(url)
    return socket.create_connection((where.hostname, where.port), timeout=10)


def test_an_oversized_body_is_refused_from_its_length_without_being_sent(fake: FakeSlack, knowledge: Knowledge) -> None:
    with on_waitress(fake, knowledge) as url:
        with connect(url) as sock:
            started = time.monotonic()
            sock.sendall(f"POST {urlparse(url).path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {200 * 1024 * 1024}\r\n\r\n".encode() + b"{" * 1024)  # 200 MB announced, 1 KB sent
            answer = sock.recv(4096).decode(errors="replace")
            assert answer.startswith("HTTP/1.1 413") and time.monotonic() - started < 2
        raw, content_type = payloads.encode(payloads.dm("ibrance side effects"))
        assert post(url, raw, {"Content-Type": content_type, **payloads.sign(raw)})[0] == 200  # Slack's own size is fine


def test_a_hundred_and_ten_idle_sockets_do_not_keep_out_a_signed_request(fake: FakeSlack, knowledge: Knowledge) -> None:
    with on_waitress(fake, knowledge) as url, ExitStack() as idle:
        for _ in range(110):
            idle.enter_context(connect(url))  # opened, and never a byte sent
        time.sleep(0.2)
        raw, content_type = payloads.encode(payloads.dm("ibrance side effects"))
        started = time.monotonic()
        status, _ = post(url, raw, {"Content-Type": content_type, **payloads.sign(raw)})
        assert status == 200 and time.monotonic() - started < 3
        assert "neutropenia" in fake.wait_for(lambda c: c.method == "chat.postMessage").visible


def test_idle_sockets_are_closed_after_the_channel_timeout(fake: FakeSlack, knowledge: Knowledge) -> None:
    with on_waitress(fake, knowledge, HttpLimits(channel_timeout_s=1, cleanup_interval_s=1)) as url:
        with connect(url) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""  # the server hung up
            assert time.monotonic() - started < 5
