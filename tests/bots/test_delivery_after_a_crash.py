"""A message accepted by an instance that is then killed (kill -9, while it waits out a 429) is
answered exactly once by the surviving instance: Slack and Telegram, SQLite and Redis, with a
platform that redelivers and with one that does not.

The bots run as real ``mbcbot`` processes against the fake Slack Web API and the fake Bot
API on 127.0.0.1, sharing one store; ``MBCBOT_LEASE_SECONDS=1`` makes the takeover quick.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .slack import payloads
from .slack.conftest import post
from .slack.fake_slack import FakeSlack
from .telegram.fake_bot_api import FakeBotAPI
from .telegram.updates import CHAT, TOKEN, text_update

ROOT = Path(__file__).resolve().parents[2]
SLACK_EMERGENCY = "my patient on docetaxel has a fever of 38.9 and rigors"
SLACK_URGENT = "neutropenic sepsis"
TELEGRAM_EMERGENCY = "mum has a temp of 38.9 and shivering since her chemo"
TELEGRAM_URGENT = "fever during cancer treatment"

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("redis_url"))


def bot_env(store: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_", "MBCBOT_"))}
    env.update({"MBCBOT_STORE": store, "MBCBOT_LEASE_SECONDS": "1", "NO_PROXY": "*", "no_proxy": "*", **extra})
    return env


@contextmanager
def bot_process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "bots", *args], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert process.stderr is not None
        process.stderr.close()


def kill_9(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL


# --- Slack ------------------------------------------------------------------------------------
def wait_serving(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the Slack bot never started listening")


def send_event(port: int, body: dict, retry: int | None = None) -> int:
    raw, content_type = payloads.encode(body)
    headers = {"Content-Type": content_type, **payloads.sign(raw)}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    status, _ = post(f"http://127.0.0.1:{port}/slack/events", raw, headers)
    return status


@pytest.mark.parametrize("redelivers", [False, True], ids=["no-redelivery", "redelivery"])
def test_slack_an_emergency_accepted_by_a_killed_instance_is_answered_once_by_the_survivor(
        store_url: str, redelivers: bool) -> None:
    fake = FakeSlack().start()
    try:
        env = bot_env(store_url, SLACK_BOT_TOKEN=payloads.BOT_TOKEN, SLACK_SIGNING_SECRET=payloads.SECRET,
                      SLACK_API_URL=fake.api_url)
        fake.fail("chat.postMessage", retry_after=60)  # the first post is told to wait a minute
        port_a, port_b = free_port(), free_port()
        with bot_process(["slack", "--http", "--port", str(port_a), "--listen", "127.0.0.1"], env) as a, \
                bot_process(["slack", "--http", "--port", str(port_b), "--listen", "127.0.0.1"], env):
            wait_serving(port_a)
            wait_serving(port_b)
            event = payloads.mention(SLACK_EMERGENCY)
            assert send_event(port_a, event) == 200  # acknowledged: Slack will not send it again by itself
            fake.wait_for(lambda c: c.method == "chat.postMessage" and not c.ok, timeout=20)  # A waits out the 429
            kill_9(a)
            if redelivers:
                assert send_event(port_b, event, retry=1) == 200
            answer = fake.wait_for(lambda c: c.method == "chat.postMessage" and c.ok, timeout=30)
            assert SLACK_URGENT in answer.text.lower()
            time.sleep(3)  # three more leases: nobody answers it again
            assert len(fake.of("chat.postMessage", ok=True)) == 1
    finally:
        fake.close()


# --- Telegram ---------------------------------------------------------------------------------

@pytest.mark.parametrize("redelivers", [False, True], ids=["no-redelivery", "redelivery"])
async def test_telegram_an_emergency_accepted_by_a_killed_instance_is_answered_once_by_the_survivor(
        store_url: str, redelivers: bool) -> None:
    fake = FakeBotAPI(long_poll_cap_s=0.2)
    url = await fake.start()
    env = bot_env(store_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=url)
    fake.fail("sendMessage", retry_after=60, chat_id=CHAT)  # the first answer is told to wait a minute
    try:
        with bot_process(["telegram"], env) as a:
            update = text_update(TELEGRAM_EMERGENCY, CHAT)
            await fake.push(update, TOKEN)
            await fake.wait_for(lambda c: c.method == "sendMessage" and not c.ok, timeout=20)  # A waits out the 429
            kill_9(a)
            with bot_process(["telegram"], env):
                if redelivers:
                    await fake.push(dict(update), TOKEN)  # the same update_id again
                answer = await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, timeout=30)
                assert TELEGRAM_URGENT in answer.visible.lower()
                await asyncio.sleep(3)  # three more leases: nobody answers it again
                urgent = [c for c in fake.sent(CHAT) if TELEGRAM_URGENT in c.visible.lower()]
                assert len(urgent) == 1
    finally:
        await fake.close()
