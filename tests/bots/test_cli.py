"""The mbcbot command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from bots import cli
from dialogue.convtest import load_scripts

ROOT = Path(__file__).resolve().parents[2]


def mbcbot(*args: str, stdin: str = "", env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HOME": str(cwd or ROOT), "XDG_STATE_HOME": str((cwd or ROOT) / ".state"), **(env or {})}
    full_env.pop("MBCBOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bots", *args], input=stdin, capture_output=True, text=True, env=full_env,
        cwd=cwd or ROOT, timeout=120,
    )


def test_ask_json_is_the_public_contract() -> None:
    out = mbcbot("ask", "--json", "what are the side effects of ibrance?")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"kind", "text", "topic", "sources", "buttons", "disclaimer"} <= set(data)
    assert data["kind"] == "answer" and data["topic"] == "palbociclib_side_effects"
    assert data["sources"] and all(s["id"] and s["title"] and s["url"] for s in data["sources"])
    assert data["disclaimer"] and data["disclaimer"] not in data["text"]
    assert "Sources:" in data["text"]


def test_ask_reads_one_question_per_line_each_in_a_fresh_conversation() -> None:
    questions = "I have a fever of 39\nletrozole side effects\n\nwhat is the weather\n"
    out = mbcbot("ask", "--json", "--audience", "patient", "--preview", stdin=questions)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["urgent", "answer", "fallback", "fallback"]
    assert all(r["disclaimer"] for r in rows)  # each is a first contact


def test_ask_plain_prints_one_line_per_question() -> None:
    out = mbcbot("ask", stdin="letrozole side effects\nibrance side effects\n")
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    assert "arthralgia" in lines[0].lower() and "neutropenia" in lines[1].lower()


def test_a_turn_with_several_replies_reports_the_most_important_kind() -> None:
    out = mbcbot("ask", "--json", "--audience", "patient", "should I skip my letrozole dose?")
    data = json.loads(out.stdout)
    assert data["kind"] == "refusal" and "care team" in data["text"]


def test_validate_reports_file_and_line_and_fails(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("topics:\n  - id: x1\n    title: t\n    family: nope\n")
    out = mbcbot("validate", "--knowledge", str(tmp_path))
    assert out.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:4: unknown family 'nope'" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_validate_passes_on_the_bundled_knowledge() -> None:
    out = mbcbot("validate")
    assert out.returncode == 0 and "knowledge OK" in out.stdout


def test_broken_knowledge_stops_the_bot_with_clear_lines(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("sources: [1, 2\n")
    out = mbcbot("ask", "--knowledge", str(tmp_path), "hello")
    assert out.returncode == 2 and "bad.yaml:" in out.stderr and "not starting" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["ask", "--locale", "xx", "hi"], {}, "locale 'xx' is not in the knowledge"),
        (["ask", "hi"], {"MBCBOT_AUDIENCE": "nurse"}, "audience must be clinician or patient"),
        (["chat", "--store", "mongodb://x"], {}, "unknown store"),
        (["ask", "--config", "/no/such/file.yaml", "hi"], {}, "cannot read file"),
    ],
)
def test_bad_settings_are_one_line_and_a_nonzero_exit(args: list, env: dict, message: str) -> None:
    out = mbcbot(*args, env=env)
    assert out.returncode == 2 and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_console_chat_numbers_buttons_and_keeps_context(tmp_path: Path) -> None:
    script = "1L options MBC\n4\n/quit\n"
    out = mbcbot("chat", "--store", f"sqlite://{tmp_path}/c.db", stdin=script, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "4. Triple negative" in out.stdout
    assert "first line, triple-negative" in out.stdout.lower()


def test_console_chat_resumes_a_stored_conversation(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/c.db"
    first = mbcbot("chat", "--store", store, stdin="1L options for ER+ HER2- postmenopausal\n", cwd=tmp_path)
    assert "first line, hr-positive" in first.stdout.lower()
    out = mbcbot("chat", "--store", store, stdin="actually it's HER2 positive\n", cwd=tmp_path)
    assert "first line, her2-positive" in out.stdout.lower()


def test_the_test_command_prints_a_summary_and_transcripts(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(
        "name: passes\nturns:\n  - user: ibrance side effects\n    expect: {kind: answer, topic: palbociclib_side_effects}\n"
    )
    (tmp_path / "bad.yaml").write_text(
        "name: fails\nturns:\n  - user: ibrance side effects\n    expect: {kind: answer, topic: aromatase_inhibitor_side_effects}\n"
    )
    out = mbcbot("test", str(tmp_path))
    assert out.returncode == 1
    assert out.stdout.strip().splitlines()[-1] == "1 passed, 1 failed"
    assert "FAILED fails" in out.stdout and "expected topic aromatase_inhibitor_side_effects, got palbociclib_side_effects" in out.stdout
    assert "user> ibrance side effects" in out.stdout


def test_the_test_command_rejects_a_malformed_script(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\nturns:\n  - usr: hello\n")
    out = mbcbot("test", str(tmp_path))
    assert out.returncode == 2 and "bad.yaml:3: unknown key 'usr'" in out.stderr


def test_validate_reports_stale_reviews_and_strict_fails_on_them(tmp_path: Path) -> None:
    (tmp_path / "reviews.yaml").write_text(
        "reviews:\n  - {topic: stage4_meaning, status: approved, reviewed_on: 2020-01-01, reviewed_by: Dr X}\n"
    )
    out = mbcbot("validate", "--knowledge", str(tmp_path))
    assert out.returncode == 0
    assert "topic 'stage4_meaning' was last reviewed 2020-01-01" in out.stdout and "[warning]" in out.stdout
    assert mbcbot("validate", "--strict", "--knowledge", str(tmp_path)).returncode == 1


def test_a_deployment_topic_resting_only_on_patient_pages_is_a_warning_there(tmp_path: Path) -> None:
    (tmp_path / "local.yaml").write_text(
        "sources:\n  - {id: our_leaflet, title: Our leaflet, publisher: Our clinic, year: 2026, url: https://example.org, kind: patient_education}\n"
        "topics:\n  - id: our_parking\n    title: Parking\n    family: support\n    examples: [where do I park, parking at the clinic]\n"
        "    sources: [our_leaflet]\n    review: {status: approved, reviewed_on: 2026-11-01, reviewed_by: Dr X}\n"
        "    answer: {clinician: Level 2., patient: Level 2.}\n"
    )
    out = mbcbot("validate", "--knowledge", str(tmp_path))
    assert out.returncode == 0
    assert "topic 'our_parking' cites only seed summaries or patient-education pages" in out.stdout and "[warning]" in out.stdout


def test_validate_judges_ages_against_the_given_day() -> None:
    assert "[warning]" not in "".join(line for line in mbcbot("validate", "--today", "2026-12-03").stdout.splitlines()
                                      if "last reviewed" in line or "last checked" in line)
    late = mbcbot("validate", "--today", "2028-01-01").stdout
    assert "was last reviewed" in late


def test_approve_prints_pinned_approvals_that_lapse_when_content_changes(tmp_path: Path) -> None:
    out = mbcbot("approve", "stage4_meaning", "--by", "Dr A. Smith")
    assert out.returncode == 0 and "content_hash:" in out.stdout
    (tmp_path / "approvals.yaml").write_text(out.stdout)
    approved = mbcbot("ask", "--json", "--audience", "patient", "--knowledge", str(tmp_path), "what does stage 4 mean")
    data = json.loads(approved.stdout)
    assert data["kind"] == "answer" and data["review_status"] == "approved"
    assert "Not yet clinically approved" not in data["text"]
    stale = out.stdout.replace("content_hash: ", "content_hash: 0")
    (tmp_path / "approvals.yaml").write_text(stale)
    lapsed = mbcbot("ask", "--json", "--audience", "patient", "--knowledge", str(tmp_path), "what does stage 4 mean")
    assert json.loads(lapsed.stdout)["kind"] == "fallback"
    assert "was for other content" in mbcbot("validate", "--knowledge", str(tmp_path)).stdout


def test_version_prints_the_installed_version() -> None:
    out = mbcbot("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"mbcbot {metadata.version('mbcbot')}"


@pytest.mark.parametrize("command", ["chat", "ask", "validate", "test", "report unanswered", "approve x --by y",
                                     "telegram", "slack"])
def test_an_unknown_flag_shows_the_usage_of_the_command_it_was_given_to(command: str) -> None:
    out = mbcbot(*command.split(), "--bogus")
    command = command.split()[0]
    assert out.returncode == 2
    assert out.stderr.startswith(f"usage: mbcbot {command} ")
    assert out.stderr.strip().splitlines()[-1] == f"mbcbot {command}: error: unrecognized arguments: --bogus"


def test_a_bad_store_is_blamed_on_the_setting_that_gave_it(tmp_path: Path) -> None:
    flag = mbcbot("chat", "--store", "mongodb://x", env={"MBCBOT_STORE": "memory"})
    assert flag.stderr.startswith("mbcbot: error: --store: unknown store 'mongodb://x'")
    variable = mbcbot("chat", env={"MBCBOT_STORE": "mongodb://x"}, stdin="/quit\n")
    assert variable.stderr.startswith("mbcbot: error: MBCBOT_STORE: unknown store 'mongodb://x'")
    (tmp_path / "mbcbot.yaml").write_text("audience: clinician\nstore: mongodb://x\n")
    file = mbcbot("chat", "--config", str(tmp_path / "mbcbot.yaml"), stdin="/quit\n")
    assert file.stderr.startswith(f"mbcbot: error: {tmp_path / 'mbcbot.yaml'}:2: unknown store 'mongodb://x'")
    assert all(out.returncode == 2 and len(out.stderr.splitlines()) == 1 for out in (flag, variable, file))
    overridden = mbcbot("chat", "--store", "mongodb://x", "--store", "memory", stdin="/quit\n")
    assert overridden.returncode == 0, overridden.stderr  # the last flag wins, as argparse has it


def test_config_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "mbcbot.yaml").write_text("locale: uk\n\naudience: nurse\n")
    out = mbcbot("ask", "--config", str(tmp_path / "mbcbot.yaml"), "hi")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"mbcbot: error: {tmp_path / 'mbcbot.yaml'}:3: audience must be clinician or patient, not 'nurse'")


def test_an_unknown_log_level_is_refused_in_one_line(tmp_path: Path) -> None:
    variable = mbcbot("ask", "hi", env={"MBCBOT_LOG_LEVEL": "LOUD"})
    assert variable.returncode == 2 and variable.stderr.strip() == (
        "mbcbot: error: MBCBOT_LOG_LEVEL: log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'")
    (tmp_path / "mbcbot.yaml").write_text("log_level: loud\n")
    file = mbcbot("ask", "--config", str(tmp_path / "mbcbot.yaml"), "hi")
    assert file.returncode == 2 and file.stderr.strip().startswith(f"mbcbot: error: {tmp_path / 'mbcbot.yaml'}:1: log_level")
    assert mbcbot("ask", "hi", env={"MBCBOT_LOG_LEVEL": "info"}).returncode == 0  # any case, as before


def test_the_test_command_finds_its_default_scripts_from_any_directory(tmp_path: Path) -> None:
    # mbcbot as run from a checkout (the scripts are tests: an installed wheel does not carry them,
    # and then the command says where it looked, below)
    out = mbcbot("test", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    scripts = len(load_scripts([ROOT / "tests" / "conversations"]))
    assert out.stdout.strip().splitlines()[-1] == f"{scripts} passed, 0 failed"


def test_the_test_command_says_where_it_looked_when_there_are_no_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "SCRIPTS", Path("no") / "scripts")
    assert cli.main(["test"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("mbcbot: error: no conversation scripts: looked in ")
    assert str(tmp_path / "no" / "scripts") in error and str(ROOT / "no" / "scripts") in error
