"""Conversation scripts played through Telegram must end as they do through the engine alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dialogue.convtest import DriverFactory, Script, engine_driver_factory, run_script
from dialogue.model import Knowledge

from ..adapter_support import adapter_scripts, script_id
from .driver import TelegramDriverFactory

SCRIPTS = adapter_scripts()


@pytest.fixture(scope="module")
def engine_factory(bundled: Knowledge) -> DriverFactory:
    return engine_driver_factory(bundled)


@pytest.fixture(scope="module")
def telegram_factory(bundled: Knowledge) -> Iterator[TelegramDriverFactory]:
    factory = TelegramDriverFactory(bundled)
    yield factory
    factory.close()


@pytest.mark.parametrize("script", SCRIPTS, ids=[script_id(s) for s in SCRIPTS])
def test_script_through_telegram(script: Script, engine_factory: DriverFactory,
                                 telegram_factory: TelegramDriverFactory) -> None:
    assert run_script(script, engine_factory).passed  # the same script through the engine alone
    telegram_factory.mismatches.clear()
    result = run_script(script, telegram_factory)
    assert result.passed, result.report()
    assert not telegram_factory.mismatches
    assert not [c for c in telegram_factory.fake.calls if not c.ok], "the fake Bot API rejected a call"
