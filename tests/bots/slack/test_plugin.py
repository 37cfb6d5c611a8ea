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



def test_a_host_app_at_debug_logs_nothing_private_once_mbcbot_is_registered(fake: FakeSlack, knowledge) -> None:
    import logging
    import time

    from bots.slack.app import register
    from dialogue.config import Settings
    from dialogue.engine import Engine, EngineOptions
    from dialogue.session import Session
    from dialogue.storage import MemoryStore

    from ..adapter_support import every_log_record, leaked

    marker = "Jane Roe zebracorn 1957"
    with every_log_record() as records:
        app = App(client=WebClient(token=BOT_TOKEN, base_url=fake.api_url), signing_secret=SECRET,
                  logger=logging.getLogger("host.bolt"))  # the host's own App, built before mbcbot
        logging.getLogger("host.bolt").setLevel(logging.DEBUG)
        session = Session(Engine(knowledge, EngineOptions(audience="clinician")), MemoryStore())
        register(app, session, Settings(audience="clinician", store="memory"))
        with serving(app) as url:
            late = payloads.dm(f"fever of 39 on chemo {marker}")  # 10 minutes late: refused, body not logged
            raw, content_type = payloads.encode(late)
            headers = {"Content-Type": content_type, **payloads.sign(raw, timestamp=int(time.time()) - 600)}
            assert post(url, raw, headers)[0] == 401
            assert send(url, payloads.dm(f"ibrance side effects {marker}")) == 200
            fake.wait_for(lambda c: c.method == "chat.postMessage")
    assert leaked(records, [marker, "zebracorn", BOT_TOKEN, SECRET, payloads.USER, payloads.DM]) == []
