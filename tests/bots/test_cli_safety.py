"""``mbcbot test --safety``: the red-flag corpus from the command line, as clinical authors run it."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from dialogue.safetytest import BUNDLED_CORPUS

from .test_cli import mbcbot

CAUGHT = '{text: "I have a fever of 39 since my chemo on Monday", category: fever, voice: patient, locale: us}'
MISSED = '{text: "we had a lovely walk by the sea today", category: fever, voice: patient, locale: us}'
QUIET = '{text: "how long do hot flushes on letrozole usually last?", near: fever, voice: patient, locale: us}'
ALARMED = '{text: "I have a fever of 39 since my chemo on Monday", near: fever, voice: patient, locale: us}'


def corpus(folder: Path, emergencies: list[str], near_misses: list[str], name: str = "corpus.yaml") -> Path:
    path = folder / name
    lines = ["emergencies:", *(f"  - {e}" for e in emergencies), "near_misses:", *(f"  - {n}" for n in near_misses)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_it_prints_the_table_and_a_summary_and_passes(tmp_path: Path) -> None:
    path = corpus(tmp_path, [CAUGHT], [QUIET])
    out = mbcbot("test", "--safety", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("safety corpus: 1 emergencies, 1 near misses")
    assert lines[1].split() == ["category", "patient", "clinician", "recall", "near", "misses", "alarmed"]
    assert lines[2].split() == ["fever", "1/1", "-", "100%", "0/1"]
    assert "emergencies caught: 1/1 (recall 100.0%); near misses alarmed: 0/1 (0.0%)" in lines
    assert lines[-1] == "2 passed, 0 failed"


def test_a_missed_emergency_fails_the_default_gate_and_is_shown(tmp_path: Path) -> None:
    path = corpus(tmp_path, [CAUGHT, MISSED], [QUIET])
    out = mbcbot("test", "--safety", str(path), cwd=tmp_path)
    assert out.returncode == 1
    assert f"missed  {path}:3 [fever/patient/us] got no urgent reply: we had a lovely walk by the sea today" in out.stdout
    assert "gate failed: recall 50.0% is below --min-recall 100.0%" in out.stdout
    assert out.stdout.splitlines()[-1] == "2 passed, 1 failed"
    assert mbcbot("test", "--safety", "--min-recall", "0.5", str(path), cwd=tmp_path).returncode == 0


def test_false_alarms_above_the_threshold_fail(tmp_path: Path) -> None:
    path = corpus(tmp_path, [CAUGHT], [QUIET, ALARMED])
    out = mbcbot("test", "--safety", str(path), cwd=tmp_path)
    assert out.returncode == 1
    assert "gate failed: false alarms 50.0% are above --max-false-alarms 3.0%" in out.stdout
    assert re.search(rf"^alarmed {re.escape(str(path))}:5 \[fever/patient/us\] got fever", out.stdout, re.M)
    assert out.stdout.splitlines()[-1] == "2 passed, 1 failed"
    assert mbcbot("test", "--safety", "--max-false-alarms", "0.5", str(path), cwd=tmp_path).returncode == 0
    assert mbcbot("test", "--safety", "--max-false-alarms", "0.49", str(path), cwd=tmp_path).returncode == 1


def test_a_malformed_corpus_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = corpus(tmp_path, [CAUGHT, CAUGHT.replace("category: fever", "category: sneezing")], [QUIET])
    out = mbcbot("test", "--safety", str(path), cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [f"mbcbot: error: {path}:3: unknown category 'sneezing' (red flags: "
                                               + out.stderr.split("(red flags: ", 1)[1].strip()]
    assert "Traceback" not in out.stderr


def test_every_problem_of_a_corpus_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "corpus.yaml"
    path.write_text(textwrap.dedent("""\
        emergencies:
          - {text: "fever 39", category: fever, voice: nurse, locale: us}
          - {text: "", category: fever, voice: patient, locale: us}
        near_misses:
          - {text: "what is neutropenia", near: fevr, voice: patient, locale: us}
        """))
    out = mbcbot("test", "--safety", str(path), cwd=tmp_path)
    assert out.returncode == 2
    assert [line.split(": ")[2] for line in out.stderr.strip().splitlines()] == [f"{path}:2", f"{path}:3", f"{path}:5"]


def test_a_yaml_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.yaml"
    path.write_text("emergencies:\n  - {text: \"unclosed, category: fever\n")
    out = mbcbot("test", "--safety", str(path), cwd=tmp_path)
    assert out.returncode == 2 and f"{path}:" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_nothing_to_run_says_where_it_looked(tmp_path: Path) -> None:
    missing = mbcbot("test", "--safety", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 2 and f"{tmp_path / 'nowhere'}: no such file or folder" in missing.stderr
    empty = mbcbot("test", "--safety", str(tmp_path), cwd=tmp_path)
    assert empty.returncode == 2 and f"no safety corpus files found in {tmp_path}" in empty.stderr


def test_without_paths_it_runs_the_corpus_shipped_with_mbcbot(tmp_path: Path) -> None:
    out = mbcbot("test", "--safety", cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr  # the shipped corpus meets its gate
    lines = out.stdout.splitlines()
    # the installed command reads the corpus beside its own package (the checkout, or site-packages in CI)
    assert lines[0].startswith("safety corpus: ") and lines[0].endswith(f"/{Path(*BUNDLED_CORPUS.parts[-3:])})")
    assert re.fullmatch(r"\d+ passed, \d+ failed", lines[-1])


def test_each_item_runs_in_its_own_locale_and_the_knowledge_must_have_it(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "singapore.yaml").write_text(textwrap.dedent("""\
        locales:
          - id: sg
            name: Singapore
            emergency_number: "995"
            crisis_line: "1767 (any time)"
            fever_c: 37.5
            fever_f: 99.5
            care_team_advice: "Call your cancer centre's 24-hour line."
            sources: [christie_fever]
        """))
    path = corpus(tmp_path, ['{text: "my temp is 37.8 tonight, on docetaxel", category: fever, voice: patient, locale: sg}'],
                  [QUIET])
    unknown = mbcbot("test", "--safety", str(path), cwd=tmp_path)
    assert unknown.returncode == 2 and f"{path}:2: unknown locale 'sg'" in unknown.stderr
    out = mbcbot("test", "--safety", "--knowledge", str(local), str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_locale_option_is_for_items_that_name_none(tmp_path: Path) -> None:
    path = corpus(tmp_path, ['{text: "my temp is 37.8 tonight, on docetaxel", category: fever, voice: patient}'], [QUIET])
    assert mbcbot("test", "--safety", "--locale", "uk", str(path), cwd=tmp_path).returncode == 0  # 37.5 °C in the UK
    assert mbcbot("test", "--safety", "--locale", "us", str(path), cwd=tmp_path).returncode == 1  # 38.0 °C in the US
    bad = mbcbot("test", "--safety", "--locale", "xx", str(path), cwd=tmp_path)
    assert bad.returncode == 2 and "locale 'xx' is not in the knowledge" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_thresholds_must_be_shares(tmp_path: Path) -> None:
    path = corpus(tmp_path, [CAUGHT], [QUIET])
    out = mbcbot("test", "--safety", "--min-recall", "95", str(path), cwd=tmp_path)
    assert out.returncode == 2 and "--min-recall must be a share between 0 and 1" in out.stderr


def test_safety_options_without_safety_are_refused_and_plain_test_is_unchanged(tmp_path: Path) -> None:
    out = mbcbot("test", "--min-recall", "0.5", cwd=tmp_path)
    assert out.returncode == 2 and "--min-recall: only with --safety" in out.stderr
    (tmp_path / "ok.yaml").write_text(
        "name: passes\nturns:\n  - user: ibrance side effects\n    expect: {kind: answer, topic: palbociclib_side_effects}\n"
    )
    plain = mbcbot("test", str(tmp_path / "ok.yaml"), cwd=tmp_path)
    assert plain.returncode == 0 and plain.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_a_missing_shipped_corpus_says_where_it_looked(tmp_path: Path, monkeypatch, capsys) -> None:
    from bots import cli

    monkeypatch.setattr(cli, "BUNDLED_CORPUS", tmp_path / "corpus" / "safety")
    assert cli.main(["test", "--safety"]) == 2
    err = capsys.readouterr().err
    assert f"no safety corpus found: looked in {tmp_path / 'corpus' / 'safety'}" in err
