"""Conversation scripts played through Slack must end as they do through the engine alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dialogue.convtest import DriverFactory, Script, engine_driver_factory, run_script
from dialogue.model import Knowledge

from ..adapter_support import adapter_scripts, script_id
from .driver import SlackDriverFactory

SCRIPTS = adapter_scripts()


@pytest.fixture(scope="module")
def engine_factory(bundled: Knowledge) -> DriverFactory:
    return engine_driver_factory(bundled)


@pytest.fixture(scope="module")
def slack_factory(bundled: Knowledge) -> Iterator[SlackDriverFactory]:
    factory = SlackDriverFactory(bundled)
    yield factory
    factory.close()


@pytest.mark.parametrize("script", SCRIPTS, ids=[script_id(s) for s in SCRIPTS])
def test_script_through_slack(script: Script, engine_factory: DriverFactory, slack_factory: SlackDriverFactory) -> None:
    assert run_script(script, engine_factory).passed  # the same script through the engine alone
    slack_factory.mismatches.clear()
    result = run_script(script, slack_factory)
    assert result.passed, result.report()
    assert not slack_factory.mismatches
