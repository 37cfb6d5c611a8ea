"""Conversation scripts played through Slack must end as they do through the engine alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dialogue.convtest import DriverFactory, Script, engine_driver_factory, load_scripts, run_script
from dialogue.model import Knowledge

from .driver import SlackDriverFactory

CONVERSATIONS = Path(__file__).resolve().parents[2] / "conversations"
#: Red flags, refusals and the consent step, and the treatment scripts (button presses, long answers).
FILES = ["safety.yaml", "refusals_and_scope.yaml", "topics_treatment.yaml"]
SCRIPTS = load_scripts([CONVERSATIONS / name for name in FILES if (CONVERSATIONS / name).exists()])


@pytest.fixture(scope="module")
def engine_factory(bundled: Knowledge) -> DriverFactory:
    return engine_driver_factory(bundled)


@pytest.fixture(scope="module")
def slack_factory(bundled: Knowledge) -> Iterator[SlackDriverFactory]:
    factory = SlackDriverFactory(bundled)
    yield factory
    factory.close()


@pytest.mark.parametrize("script", SCRIPTS, ids=[f"{Path(s.file).stem}:{s.name}" for s in SCRIPTS])
def test_script_through_slack(script: Script, engine_factory: DriverFactory, slack_factory: SlackDriverFactory) -> None:
    assert run_script(script, engine_factory).passed  # the same script through the engine alone
    slack_factory.mismatches.clear()
    result = run_script(script, slack_factory)
    assert result.passed, result.report()
    assert not slack_factory.mismatches
