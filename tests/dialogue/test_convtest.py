"""The conversation-test runner itself: it must catch what is wrong, not only pass."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dialogue.convtest import ScriptFormatError, engine_driver_factory, load_scripts, run_script


def scripts_from(tmp_path: Path, text: str):
    (tmp_path / "s.yaml").write_text(textwrap.dedent(text))
    return load_scripts([tmp_path])


@pytest.fixture
def factory(knowledge):
    return engine_driver_factory(knowledge)


def test_a_passing_script_with_buttons(tmp_path: Path, factory) -> None:
    [script] = scripts_from(tmp_path, """
        name: flow
        turns:
          - user: 1L options MBC
            disclaimer: true
            expect: {kind: clarify, buttons: [Triple negative]}
          - press: Triple negative
            disclaimer: false
            expect: {kind: answer, topic: fx_first_line, contains: [chemotherapy], sources: [fx_guideline], max_length: 500}
    """)
    assert run_script(script, factory).passed


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ("{kind: urgent}", "expected kind urgent, got answer"),
        ("{contains: [pertuzumab]}", "does not contain 'pertuzumab'"),
        ("{contains_any: [a1b2, c3d4]}", "contains none of"),
        ("{not_contains: [neutropenia]}", "must not contain 'neutropenia'"),
        ("{sources: [esmo_abc5]}", "source 'esmo_abc5' not cited"),
        ("{buttons: [Nope]}", "no button 'Nope'"),
        ("{max_length: 10}", "more than 10"),
        ("[{kind: answer}, {kind: answer}]", "expected 2 replies, got 1"),
    ],
)
def test_each_expectation_can_fail(tmp_path: Path, factory, expect: str, message: str) -> None:
    [script] = scripts_from(tmp_path, f"turns:\n  - user: ibrance side effects\n    expect: {expect}\n")
    result = run_script(script, factory)
    assert not result.passed and any(message in f for f in result.failures), result.failures


def test_pressing_a_button_that_was_not_offered_fails(tmp_path: Path, factory) -> None:
    [script] = scripts_from(tmp_path, "turns:\n  - user: hello\n  - press: Imaginary\n")
    assert "no button 'Imaginary' to press" in run_script(script, factory).failures[0]


def test_several_conversations_in_one_file(tmp_path: Path) -> None:
    scripts = scripts_from(tmp_path, """
        conversations:
          - {name: a, turns: [{user: hi}]}
          - {name: b, audience: patient, consent: required, turns: [{user: hi}]}
    """)
    assert [s.name for s in scripts] == ["a", "b"] and scripts[1].consent_required


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("turns: []\n", "needs a list of 'turns'"),
        ("audience: nurse\nturns: [{user: hi}]\n", "audience must be clinician or patient"),
        ("turns:\n  - {user: hi, press: x}\n", "exactly one of user, press or payload"),
        ("turns:\n  - user: hi\n    expect: {kind: answr}\n", "unknown kind 'answr'"),
        ("turns:\n  - user: hi\n    expect: {kind: [refusal, fallback]}\n", "unknown kind"),
        ("turns:\n  - user: hi\n    expect: {containz: x}\n", "unknown expectation 'containz'"),
        ("turns: [\n", "invalid YAML"),
    ],
)
def test_malformed_scripts_are_located(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScriptFormatError) as info:
        load_scripts([tmp_path])
    assert message in str(info.value) and "s.yaml:" in str(info.value)
