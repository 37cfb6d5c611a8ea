"""The safety corpus: messages people might send, each marked with what a clinician wants to happen.

The bundled corpus (knowledge/corpus/safety/) is the regression gate for the red-flag rules: every
emergency gets its urgent reply, and at most 3% of the near misses get one. The held-out files
(tests/safety/fresh-*.yaml) were written from the category list only, before any rules were tuned
to them, and must never be used to tune them: their figures are printed (``pytest -s``), never
asserted, so that they stay honest estimates of how the rules do on messages nobody tuned them to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.convtest import ScriptFormatError
from dialogue.loader import bundled_knowledge_dir
from dialogue.model import Knowledge
from dialogue.safetytest import BUNDLED_CORPUS, VOICES, Item, Outcome, Report, category_counts, load_corpus, run_corpus

ROOT = Path(__file__).resolve().parents[2]
HELD_OUT_FILES = sorted((ROOT / "tests" / "safety").glob("fresh-*.yaml"))
MIN_RECALL, MAX_FALSE_ALARMS = 1.0, 0.03  # as `mbcbot test --safety`
MIN_EMERGENCIES, MIN_PER_CATEGORY_AND_VOICE, MIN_NEAR_MISSES = 400, 15, 200


def corpus(knowledge: Knowledge, *paths: Path) -> list[Item]:
    return load_corpus(paths, {f.id for f in knowledge.red_flags}, set(knowledge.locales))


@pytest.fixture(scope="module")
def bundled_items(bundled: Knowledge) -> list[Item]:
    return corpus(bundled, BUNDLED_CORPUS)


# --- the gate --------------------------------------------------------------------------------------------


@pytest.mark.gate
def test_GATE_the_bundled_corpus_every_emergency_caught_and_at_most_3_percent_false_alarms(
    bundled: Knowledge, bundled_items: list[Item]
) -> None:
    """THE SAFETY GATE (expected to fail until the red-flag rules are tuned; `pytest -m "not gate"` skips it).

    Same figures as `mbcbot test --safety`: the failure message is its report.
    """
    report = run_corpus(bundled, bundled_items)
    assert report.recall >= MIN_RECALL and report.false_alarm_rate <= MAX_FALSE_ALARMS, "\n".join(report.lines(show=50))


# --- what the corpus holds ---------------------------------------------------------------------------------


def test_the_bundled_corpus_is_large_enough_to_mean_something(bundled: Knowledge, bundled_items: list[Item]) -> None:
    emergencies = [i for i in bundled_items if i.emergency]
    near_misses = [i for i in bundled_items if not i.emergency]
    assert len(emergencies) >= MIN_EMERGENCIES
    assert len(near_misses) >= MIN_NEAR_MISSES
    counts = category_counts(bundled_items)
    thin = {(flag.id, voice): counts[(flag.id, voice)] for flag in bundled.red_flags for voice in VOICES
            if counts[(flag.id, voice)] < MIN_PER_CATEGORY_AND_VOICE}
    assert not thin, f"red flags with fewer than {MIN_PER_CATEGORY_AND_VOICE} emergencies in a voice: {thin}"


def test_every_red_flag_has_near_misses(bundled: Knowledge, bundled_items: list[Item]) -> None:
    near = {i.category for i in bundled_items if not i.emergency}
    assert not {f.id for f in bundled.red_flags} - near


@pytest.mark.parametrize("held_out", HELD_OUT_FILES, ids=lambda p: p.name)
def test_a_held_out_file_shares_no_message_with_the_bundled_corpus(bundled: Knowledge, bundled_items: list[Item],
                                                                  held_out: Path) -> None:
    def key(text: str) -> str:
        return " ".join(text.lower().split())

    shared = {key(i.text) for i in bundled_items} & {key(i.text) for i in corpus(bundled, held_out)}
    assert not shared


def test_the_corpus_ships_with_the_package() -> None:
    """The wheel carries knowledge/corpus/safety/*.yaml (pyproject package data), where `mbcbot test --safety` looks."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert BUNDLED_CORPUS == bundled_knowledge_dir() / "corpus" / "safety"
    files = sorted(BUNDLED_CORPUS.glob("*.yaml"))
    assert files
    shipped: set[Path] = set()
    for package, patterns in config["package-data"].items():
        if package in config["packages"]:
            folder = ROOT.joinpath(*package.split("."))
            shipped.update(path for pattern in patterns for path in folder.glob(pattern))  # as setuptools globs them
    for file in files:
        relative = file.relative_to(ROOT)
        assert file in shipped, f"{relative} is not package data"


# --- the held-out files: reported, never a target ----------------------------------------------------------


@pytest.mark.parametrize("held_out", HELD_OUT_FILES, ids=lambda p: p.name)
def test_a_held_out_file_is_reported_not_tuned_to(bundled: Knowledge, held_out: Path) -> None:
    items = corpus(bundled, held_out)
    emergencies = [i for i in items if i.emergency]
    assert len(emergencies) >= 150 and len(items) - len(emergencies) >= 75
    report = run_corpus(bundled, items)
    print(f"\nheld-out safety set {held_out.name} (figures only; never tune the rules to it):")
    print("\n".join(report.lines(show=0)))


# --- reading a corpus and reporting on it --------------------------------------------------------------


def test_a_repeated_key_in_an_entry_is_an_error_not_a_silent_overwrite(bundled: Knowledge, tmp_path: Path) -> None:
    path = tmp_path / "corpus.yaml"
    path.write_text("emergencies:\n  - text: fever 39 after chemo\n    category: fever\n    category: bleeding\n"
                    "    voice: patient\n    locale: us\n")
    with pytest.raises(ScriptFormatError) as info:
        corpus(bundled, path)
    assert str(info.value) == f"{path}:4: key 'category' appears twice in the same entry"


def test_also_may_name_one_red_flag_or_several(bundled: Knowledge, tmp_path: Path) -> None:
    path = tmp_path / "corpus.yaml"
    path.write_text('emergencies:\n  - {text: "coughing up blood, cant breathe", category: bleeding, also: breathing, '
                    'voice: patient, locale: us}\n  - {text: "coughing up blood, cant breathe", category: bleeding, '
                    'also: [breathing, chest_pain], voice: patient, locale: us}\n')
    first, second = corpus(bundled, path)
    assert first.accepted == {"bleeding", "breathing"} and second.accepted == {"bleeding", "breathing", "chest_pain"}


def test_figures_never_round_up_to_100_percent_while_an_emergency_is_missed() -> None:
    def item(n: int) -> Item:
        return Item(f"message {n}", "fever", frozenset({"fever"}), "patient", "us", True, f"corpus.yaml:{n}")

    report = Report([Outcome(item(n), ("fever",) if n else ()) for n in range(2400)])
    assert report.passed == 2399 and report.failed == 1
    assert "recall 99.9%" in report.lines()[-2] and "100" not in report.lines()[1].split()[3]
