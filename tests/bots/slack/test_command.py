"""``mbcbot slack`` as an operator runs it: one-line errors, the manifest, and both modes for real
(Socket Mode against the fake's websocket, the Events API on waitress), stopped with Ctrl-C."""

from __future__ import annotations

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
import yaml

from bots.slack.app import EVENTS, SCOPES, SLASH_COMMAND

from . import payloads
from .conftest import post
from .fake_slack import FakeSlack
from .payloads import APP_TOKEN, BOT_TOKEN, SECRET

ROOT = Path(__file__).resolve().parents[3]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MBCBOT_")) and not k.lower().endswith("_proxy")}
    env.update({"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "NO_PROXY": "127.0.0.1,localhost"})
    env.update(extra)
    return env


def mbcbot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bots", "slack", *args], cwd=ROOT, env=environment(tmp_path, **env), check=False,
                          capture_output=True, text=True, timeout=60)


@contextmanager
def bot_process(tmp_path: Path, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """``mbcbot slack`` running; interrupted like Ctrl-C at the end, and must exit cleanly."""
    process = subprocess.Popen([sys.executable, "-m", "bots", "slack", "--store", "memory", *args], cwd=ROOT,
                               env=environment(tmp_path, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        for secret in (BOT_TOKEN, APP_TOKEN, SECRET):
            assert secret not in stderr  # tokens never reach the logs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {}, "SLACK_BOT_TOKEN is not set"),
        ([], {"SLACK_BOT_TOKEN": "xapp-wrong-kind"}, "SLACK_BOT_TOKEN must be the bot token"),
        ([], {"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_APP_TOKEN is not set"),
        (["--http", "--port", "3000"], {"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET is not set"),
        (["--http"], {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET}, "--http needs --port"),
        (["manifest", "--request-url", "http://insecure.example"], {}, "must be a public https:// address"),
    ],
)
def test_a_missing_or_bad_setting_is_one_line_and_exit_2(tmp_path: Path, args: list[str], env: dict[str, str],
                                                         message: str) -> None:
    out = mbcbot(tmp_path, *args, **env)
    assert out.returncode == 2 and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_tokens_slack_refuses_are_one_line_and_exit_2(fake: FakeSlack, tmp_path: Path) -> None:
    bad_bot = mbcbot(tmp_path, SLACK_BOT_TOKEN="xoxb-invalid", SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=fake.api_url)
    assert bad_bot.returncode == 2 and bad_bot.stderr.strip() == (
        "mbcbot: error: SLACK_BOT_TOKEN was not accepted by Slack (invalid_auth)")
    bad_app = mbcbot(tmp_path, "--store", "memory", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-invalid",
                     SLACK_API_URL=fake.api_url)
    assert bad_app.returncode == 2 and bad_app.stderr.strip().splitlines() == [
        "mbcbot: error: SLACK_APP_TOKEN was not accepted by Slack (invalid_auth)"]
    unreachable = mbcbot(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN,
                         SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    assert unreachable.returncode == 2 and "cannot reach the Slack Web API" in unreachable.stderr


def test_the_manifest_asks_for_exactly_what_the_adapter_uses(tmp_path: Path) -> None:
    out = mbcbot(tmp_path, "manifest")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (ROOT / "bots" / "slack" / "manifest.yaml").read_text()  # the file in the repository
    manifest = yaml.safe_load(out.stdout)
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SCOPES)
    assert "user" not in manifest["oauth_config"]["scopes"]
    assert sorted(manifest["settings"]["event_subscriptions"]["bot_events"]) == sorted(EVENTS)
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [SLASH_COMMAND]
    assert manifest["settings"]["socket_mode_enabled"] is True and manifest["settings"]["interactivity"]["is_enabled"]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # people can DM the bot

    http = yaml.safe_load(mbcbot(tmp_path, "manifest", "--request-url", "https://bot.example.org/slack/events").stdout)
    assert http["settings"]["socket_mode_enabled"] is False
    url = "https://bot.example.org/slack/events"
    assert http["settings"]["event_subscriptions"]["request_url"] == url
    assert http["settings"]["interactivity"]["request_url"] == url
    assert http["features"]["slash_commands"][0]["url"] == url
    assert http["oauth_config"] == manifest["oauth_config"]


def test_socket_mode_end_to_end_acknowledges_envelopes_and_answers_once(fake: FakeSlack, tmp_path: Path) -> None:
    with bot_process(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=fake.api_url,
                     MBCBOT_AUDIENCE="patient"):
        fake.wait_connected(timeout=30)
        opened = fake.of("apps.connections.open")
        assert [c.token for c in opened] == [APP_TOKEN]  # the app-level token opens the socket
        question = payloads.mention("what are the side effects of ibrance?")
        fake.send_envelope({"envelope_id": "env-1", "type": "events_api", "payload": question,
                            "accepts_response_payload": False, "retry_attempt": 0, "retry_reason": ""})
        assert fake.wait_ack("env-1") == {"envelope_id": "env-1"}
        answer = fake.wait_for(lambda c: c.method == "chat.postMessage")
        assert answer.ok and answer.thread_ts == question["event"]["ts"]
        assert "neutropenia" in answer.visible  # the clinician voice, whatever MBCBOT_AUDIENCE says
        # Slack redelivers after a missed ack: acknowledged again, not answered again
        fake.send_envelope({"envelope_id": "env-2", "type": "events_api", "payload": question,
                            "accepts_response_payload": False, "retry_attempt": 1, "retry_reason": "timeout"})
        fake.wait_ack("env-2")
        command = payloads.command("letrozole side effects", fake.response_url("r1"))
        fake.send_envelope({"envelope_id": "env-3", "type": "slash_commands", "payload": command,
                            "accepts_response_payload": True})
        fake.wait_ack("env-3")
        private = fake.wait_for(lambda c: c.method == "response_url")
        assert private.ok and "arthralgia" in private.visible
    assert len(fake.of("chat.postMessage")) == 1


def test_http_mode_end_to_end_on_waitress(fake: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    with bot_process(tmp_path, "--http", "--port", str(port), "--listen", "127.0.0.1",
                     SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.api_url):
        url = f"http://127.0.0.1:{port}/slack/events"
        raw, content_type = payloads.encode(payloads.dm("ibrance side effects"))
        deadline = time.monotonic() + 30
        while True:  # until the server listens
            try:
                status, _ = post(url, raw, {"Content-Type": content_type, **payloads.sign(raw)})
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert status == 200
        answer = fake.wait_for(lambda c: c.method == "chat.postMessage")
        assert answer.ok and "neutropenia" in answer.visible
        assert post(url, raw, {"Content-Type": content_type, **payloads.sign(raw, "wrong-secret")})[0] == 401
