"""Every scripted conversation under tests/conversations/ is a test case."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.convtest import engine_driver_factory, load_scripts, run_script
from dialogue.loader import load_knowledge

SCRIPTS = load_scripts([Path(__file__).parent / "conversations"])


@pytest.fixture(scope="module")
def factory():
    return engine_driver_factory(load_knowledge())


@pytest.mark.parametrize("script", SCRIPTS, ids=[f"{Path(s.file).stem}:{s.name}" for s in SCRIPTS])
def test_conversation(script, factory) -> None:
    result = run_script(script, factory)
    assert result.passed, result.report()
