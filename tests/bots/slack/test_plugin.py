"""Plugin mode: the README's example, run as written against the fake Slack, works beside the
host app's own listeners."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import slack_bolt
from slack_bolt import App
from slack_sdk import WebClient

from . import payloads
from .conftest import post, serving
from .fake_slack import FakeSlack
from .payloads import APP_TOKEN, BOT_TOKEN, CHANNEL, SECRET

README = Path(__file__).resolve().parents[3] / "README.md"


def send(url: str, body: dict[str, Any]) -> int:
    raw, content_type = payloads.encode(body)
    return post(url, raw, {"Content-Type": content_type, **payloads.sign(raw)})[0]


def readme_example() -> str:
    """The Python block under "Plugin mode" in the README's Slack section."""
    text = README.read_text()
    slack = text[text.index("\n## Slack\n"):]
    slack = slack[: slack.index("\n## ", 1)]
    match = re.search(r"\*\*Plugin mode\.\*\*.*?```python\n(.*?)```", slack, re.DOTALL)
    assert match, "the README's Slack section has no plugin-mode example"
    return match.group(1)


def test_the_readme_plugin_example_adds_mbcbot_to_an_existing_app(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    class PointedApp(App):
        """The host's App, pointed at the fake Slack (the only change to the example)."""

        def __init__(self, **kwargs: Any) -> None:
            kwargs["client"] = WebClient(token=kwargs.pop("token"), base_url=fake.api_url)
            super().__init__(**kwargs)

    monkeypatch.setattr(slack_bolt, "App", PointedApp)
    for name, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                        "MBCBOT_STORE": "memory"}.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {"__name__": "readme_example"}  # not __main__: no SocketModeHandler().start()
    exec(compile(readme_example(), str(README), "exec"), namespace)  # noqa: S102 - our own README
    app = namespace["app"]
    assert isinstance(app, PointedApp)

    with serving(app) as url:
        question = payloads.mention("ibrance side effects")
        assert send(url, question) == 200
        answer = fake.wait_for(lambda c: c.method == "chat.postMessage")
        assert answer.ok and answer.thread_ts == question["event"]["ts"] and "neutropenia" in answer.visible

        assert send(url, payloads.command("", fake.response_url("theirs"), name="/oncall")) == 200
        theirs = fake.wait_for(lambda c: c.method == "response_url")
        assert theirs.text == "Dr A. Smith is on call today."  # the host's listener still works

        since = len(fake.calls)
        assert send(url, payloads.command("letrozole side effects", fake.response_url("ours"), CHANNEL)) == 200
        ours = fake.wait_for(lambda c: c.method == "response_url", since=since)
        assert ours.params["response_type"] == "ephemeral" and "arthralgia" in ours.visible

        since = len(fake.calls)
        _, payload = answer.buttons[0]  # a related topic
        press = payloads.block_action(payload, "mbcbot:1:0", channel=CHANNEL, message_ts=answer.ts,
                                      thread_ts=answer.thread_ts)
        assert send(url, press) == 200
        pressed = fake.wait_for(lambda c: c.method == "chat.postMessage", since=since)
        assert pressed.ok and pressed.thread_ts == answer.thread_ts and pressed.visible != answer.visible

