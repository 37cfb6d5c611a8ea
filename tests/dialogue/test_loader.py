"""Loading knowledge: every broken script fails at load with file:line: what is wrong."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from dialogue.errors import KnowledgeError
from dialogue.loader import load_knowledge

from ..conftest import CORE, FIXTURES

GOOD_TOPIC = """
  - id: {id}
    title: "A test topic"
    family: basics
    examples: [an example about stage 4, another stage 4 example]
    sources: [fx_guideline]
    review: {{status: approved, reviewed_on: 2026-01-01, reviewed_by: tester}}
    answer:
      clinician: "Clinician text."
      patient: "Patient text."
"""


def load_with(tmp_path: Path, text: str, name: str = "extra.yaml"):
    (tmp_path / name).write_text(textwrap.dedent(text))
    return load_knowledge([CORE, FIXTURES / "topics", tmp_path], include_bundled=False)


def errors_of(tmp_path: Path, text: str, name: str = "extra.yaml") -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_with(tmp_path, text, name)
    return [str(p) for p in info.value.problems if p.severity == "error"]


def test_the_bundled_knowledge_loads_cleanly(bundled) -> None:
    assert bundled.topics and bundled.red_flags and "us" in bundled.locales


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    problems = errors_of(tmp_path, "topics:\n  - id: x\n    title: [unclosed\n")
    assert len(problems) == 1 and problems[0].startswith(str(tmp_path / "extra.yaml")) and ":4:" in problems[0]


def test_unknown_source_id(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace("[fx_guideline]", "[no_such_source]")
    problems = errors_of(tmp_path, text)
    assert any("extra.yaml:" in p and "unknown source id 'no_such_source'" in p for p in problems)


def test_topic_without_sources_is_refused(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace("    sources: [fx_guideline]\n", "")
    assert any("'sources' is required" in p for p in errors_of(tmp_path, text))


def test_unknown_slot_in_needs(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace("    sources:", "    needs: [blood_type]\n    sources:")
    assert any("unknown slot 'blood_type'" in p for p in errors_of(tmp_path, text))


def test_template_with_an_undefined_name(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace('"Clinician text."', '"Dose for {{ weight }} kg."')
    problems = errors_of(tmp_path, text)
    assert any("template uses 'weight'" in p and "extra.yaml:" in p for p in problems)


def test_template_comparing_a_slot_with_a_value_it_cannot_have(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace('"Clinician text."', '"{% if her2 == \'postive\' %}x{% endif %}"')
    assert any("slot 'her2' has no value 'postive'" in p for p in errors_of(tmp_path, text))


def test_template_syntax_error(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace('"Clinician text."', '"{% if hr %}unclosed"')
    assert any("template error" in p for p in errors_of(tmp_path, text))


def test_duplicate_ids_in_one_folder(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one") + GOOD_TOPIC.format(id="t_one")
    problems = errors_of(tmp_path, text)
    assert any("duplicate topics id 't_one'" in p for p in problems)


def test_duplicate_keys_in_a_mapping(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace('    title: "A test topic"\n', '    title: "A"\n    title: "B"\n')
    assert any("key 'title' appears twice" in p for p in errors_of(tmp_path, text))


def test_patient_voice_may_not_give_doses(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace('"Patient text."', '"Take 2.5 mg a day."')
    assert any("patient voice must not give doses" in p for p in errors_of(tmp_path, text))


def test_a_topic_needs_both_voices(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace('      patient: "Patient text."\n', "")
    assert any("has no patient version" in p for p in errors_of(tmp_path, text))


FLOW = """
flows:
  - id: fx_flow
    fills: [line]
    start: a
    states:
      - id: a
        ask: {{clinician: "A?", patient: "A?"}}
        options:
          - {{label: "Go", goto: b}}
      - id: b
        ask: {{clinician: "B?", patient: "B?"}}
        options:
          - {{label: "Back", goto: a}}
{extra}
"""


def test_flow_state_with_no_way_out(tmp_path: Path) -> None:
    problems = errors_of(tmp_path, FLOW.format(extra=""))
    assert any("state 'a' has no way out" in p for p in problems)
    assert any("state 'b' has no way out" in p for p in problems)


def test_flow_state_that_cannot_be_reached(tmp_path: Path) -> None:
    extra = """      - id: orphan
        ask: {clinician: "C?", patient: "C?"}
        options:
          - {label: "Done", set: {line: first}}"""
    text = FLOW.format(extra=extra).replace('{label: "Back", goto: a}', '{label: "Done", set: {line: first}}')
    problems = errors_of(tmp_path, text)
    assert problems == [p for p in problems if "'orphan' cannot be reached" in p] and problems


def test_flow_option_going_to_an_unknown_state(tmp_path: Path) -> None:
    text = FLOW.format(extra="").replace("goto: b", "goto: nowhere")
    assert any("unknown state 'nowhere'" in p for p in errors_of(tmp_path, text))


def test_invalid_red_flag_pattern(tmp_path: Path) -> None:
    text = """
    red_flags:
      - id: broken
        patterns: ['(unclosed']
        reply: {clinician: "x", patient: "x"}
        advice: {clinician: "x", patient: "x"}
        sources: [fx_guideline]
    """
    assert any("invalid pattern" in p for p in errors_of(tmp_path, text))


def test_unknown_section_and_phrase_claimed_twice(tmp_path: Path) -> None:
    text = """
    topicz: []
    lexicon:
      terms:
        - {id: fx_term, phrases: [letrozole]}
    """
    problems = errors_of(tmp_path, text)
    assert any("unknown section 'topicz'" in p for p in problems)
    assert any("phrase 'letrozole' already means 'drug:letrozole'" in p for p in problems)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace("[fx_guideline]", "[nope]").replace('"Clinician text."', '"{{ x }}"')
    assert len(errors_of(tmp_path, text)) >= 2


def test_a_later_folder_overrides_by_id_and_adds(tmp_path: Path) -> None:
    text = """
    locales:
      - id: us
        name: United States (hospital)
        emergency_number: "911"
        crisis_line: "988"
        fever_c: 38.0
        fever_f: 100.4
        care_team_advice: "Call the Mercy oncology line on 555-0100."
        sources: [cdc_fever]
    """
    knowledge = load_with(tmp_path, text)
    assert knowledge.locales["us"].care_team_advice.endswith("555-0100.")
    assert "uk" in knowledge.locales


def test_a_deployment_approves_content_with_a_reviews_section(tmp_path: Path) -> None:
    text = """
    reviews:
      - topic: fx_draft
        status: approved
        reviewed_on: 2026-11-20
        reviewed_by: "Dr A. Smith"
    """
    knowledge = load_with(tmp_path, text)
    assert knowledge.topics["fx_draft"].review.approved
    assert knowledge.topics["fx_draft"].review.reviewed_by == "Dr A. Smith"


def test_a_review_for_an_unknown_topic_is_an_error(tmp_path: Path) -> None:
    text = "reviews:\n  - {topic: nope, status: approved, reviewed_on: 2026-01-01, reviewed_by: x}\n"
    assert any("review for unknown topic 'nope'" in p for p in errors_of(tmp_path, text))


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge([tmp_path / "missing"])
    assert "knowledge directory not found" in str(info.value)


def test_shared_example_phrasings_are_reported_as_ambiguous(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace("[an example about stage 4, another stage 4 example]", "[letrozole side effects]")
    knowledge = load_with(tmp_path, text)
    assert any("ambiguous" in str(w) for w in knowledge.warnings)


def test_membership_tests_on_slot_values_are_checked(tmp_path: Path) -> None:
    ok = "topics:" + GOOD_TOPIC.format(id="t_one").replace('"Clinician text."', "\"{% if her2 in ('low', 'ultralow') %}x{% endif %}\"")
    assert load_with(tmp_path, ok).topics["t_one"]
    bad = ok.replace("'ultralow'", "'ultra'")
    assert any("slot 'her2' has no value 'ultra'" in p for p in errors_of(tmp_path, bad))


def test_a_misspelt_key_is_reported(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace("    examples:", "    exmaples: [x]\n    examples:")
    assert any("unknown key 'exmaples' in topics" in p for p in errors_of(tmp_path, text))


def test_a_citation_marker_must_name_one_of_the_topic_sources(tmp_path: Path) -> None:
    text = "topics:" + GOOD_TOPIC.format(id="t_one").replace('"Clinician text."', '"Fact [[esmo_abc5]]."')
    assert any("cites [[esmo_abc5]], which is not in the topic's sources" in p for p in errors_of(tmp_path, text))


def alias_bomb(levels: int = 9) -> str:
    """"Billion laughs": each level is nine aliases of the one before (9**9 values once expanded)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once_with_its_file_and_line(tmp_path: Path) -> None:
    started = time.perf_counter()
    problems = errors_of(tmp_path, alias_bomb(), name="bomb.yaml")
    # Expanding 9**9 values would take minutes and gigabytes; the bound leaves room for loading the
    # rest of the knowledge on a busy machine.
    assert time.perf_counter() - started < 10.0
    assert len(problems) == 1
    where, line, message = problems[0].split(":", 2)
    assert where == str(tmp_path / "bomb.yaml") and 1 < int(line) <= 9
    assert "aliases" in message and "10000 values" in message


def test_an_alias_that_contains_itself_is_refused_with_its_line(tmp_path: Path) -> None:
    problems = errors_of(tmp_path, "topics: &loop\n  - *loop\n")
    assert problems == [f"{tmp_path / 'extra.yaml'}:1: this value contains an alias of itself"]


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    text = GOOD_TOPIC.format(id="zz_alias_one").replace(
        "examples: [an example about stage 4, another stage 4 example]",
        "examples: &shared [an example about stage 4, another stage 4 example]")
    text += GOOD_TOPIC.format(id="zz_alias_two").replace(
        "examples: [an example about stage 4, another stage 4 example]", "examples: *shared")
    knowledge = load_with(tmp_path, "topics:" + text)
    assert knowledge.topics["zz_alias_two"].examples == knowledge.topics["zz_alias_one"].examples


UNIT = """
  - id: {id}
    title: "A drug card"
    about: {{entities: [{entity}], aspects: [{aspect}]}}
    sources: [fx_guideline]
    review: {{status: approved, reviewed_on: 2026-01-01, reviewed_by: tester}}
    answer:
      clinician: "Clinician text."
      patient: "Patient text."
"""


def test_a_unit_needs_no_examples_and_is_found_by_entity_and_aspect(tmp_path: Path) -> None:
    k = load_with(tmp_path, "topics:" + UNIT.format(id="u_letrozole_given", entity="letrozole", aspect="how_given"))
    assert k.units[("drug:letrozole", "how_given")] == "u_letrozole_given"


def test_a_unit_about_an_unknown_drug_or_aspect_is_refused(tmp_path: Path) -> None:
    problems = errors_of(tmp_path, "topics:" + UNIT.format(id="u_x", entity="no_such_drug", aspect="how_given"))
    assert any("extra.yaml:" in p and "no_such_drug" in p for p in problems)
    problems = errors_of(tmp_path, "topics:" + UNIT.format(id="u_y", entity="letrozole", aspect="no_such_aspect"))
    assert any("extra.yaml:" in p and "no_such_aspect" in p for p in problems)


def test_two_units_answering_the_same_question_are_refused(tmp_path: Path) -> None:
    text = "topics:" + UNIT.format(id="u_one", entity="letrozole", aspect="what") + \
        UNIT.format(id="u_two", entity="letrozole", aspect="what")
    problems = errors_of(tmp_path, text)
    assert any("extra.yaml:" in p and "u_one" in p for p in problems)


def test_an_aspect_needs_enough_phrasings_to_learn_from(tmp_path: Path) -> None:
    text = """
    aspects:
      - id: dosing_only
        label: Dosing
        phrasings: [dose of it, how much]
    """
    problems = errors_of(tmp_path, text)
    assert any("extra.yaml:" in p and "phrasings" in p for p in problems)


def test_plain_and_templated_answers_render_the_same_way(tmp_path: Path) -> None:
    # an answer without template syntax is served as written, as Jinja would render it
    text = "topics:" + GOOD_TOPIC.format(id="t_plain").replace('clinician: "Clinician text."', 'clinician: "Plain {x} text.\\n"')
    k = load_with(tmp_path, text)
    assert k.topics["t_plain"].answer.render("clinician", {}) == "Plain {x} text."


def test_lines_that_only_fill_in_names_render_as_jinja_would(bundled) -> None:
    # the review line and the preview banner are filled in without Jinja: the text must not change
    from dialogue.loader import Substitution

    filled = [(name, t) for name, m in bundled.messages.items() for t in m.templates.values() if isinstance(t, Substitution)]
    assert any(name == "reviewed_line" for name, _ in filled)
    for name, template in filled:
        context = {part.split(".")[0]: f"<{part}>" for part in template.parts[1::2]}
        context["locale"] = bundled.locales["uk"].as_context()
        assert template.render(context) == template.fallback.render(context), name


def test_a_unit_can_be_about_a_biomarker_given_as_slot_value(tmp_path: Path) -> None:
    k = load_with(tmp_path, "topics:" + UNIT.format(id="u_esr1", entity="mutation=esr1", aspect="testing"))
    assert k.units[("slot:mutation=esr1", "testing")] == "u_esr1"
    problems = errors_of(tmp_path, "topics:" + UNIT.format(id="u_bad", entity="mutation=kras", aspect="testing"))
    assert any("extra.yaml:" in p and "mutation=kras" in p for p in problems)


def test_applies_names_real_slots_and_values(tmp_path: Path) -> None:
    good = "topics:" + GOOD_TOPIC.format(id="t_her2pos").replace("    sources:", "    applies: {her2: [positive]}\n    sources:")
    k = load_with(tmp_path, good)
    assert not k.topics["t_her2pos"].applies_to({"her2": "negative"})
    assert k.topics["t_her2pos"].applies_to({"her2": "positive"}) and k.topics["t_her2pos"].applies_to({})
    bad = good.replace("[positive]", "[postive]")
    assert any("extra.yaml:" in p and "postive" in p for p in errors_of(tmp_path, bad))


def test_a_usual_value_names_real_facts(tmp_path: Path) -> None:
    slot = """
    slots:
      - id: ki67
        label: Ki-67 level
        values:
          - {value: high, label: high Ki-67}
          - {value: low, label: low Ki-67}
        usually:
          - when: {her2: positive}
            value: high
            source: fx_guideline
    """
    k = load_with(tmp_path, slot)
    assert k.slots["ki67"].usual({"her2": "positive"}) == "high"
    assert k.slots["ki67"].usual({"her2": "negative"}) is None
    assert any("extra.yaml:" in p and "'usually' names unknown fact 'her2: postive'" in p
               for p in errors_of(tmp_path, slot.replace("her2: positive", "her2: postive")))
    assert any("extra.yaml:" in p and "'usually' cites unknown source id 'no_such_source'" in p
               for p in errors_of(tmp_path, slot.replace("source: fx_guideline", "source: no_such_source")))
    assert any("extra.yaml:" in p and "'usually' entry needs" in p
               for p in errors_of(tmp_path, slot.replace("value: high\n    \"\"\"", "value: medium\n    \"\"\"")
                                  .replace("        value: high\n", "        value: medium\n")))


def test_a_term_named_by_two_words_close_together(tmp_path: Path) -> None:
    text = """
    lexicon:
      terms:
        - {id: fx_callback, near: [number + call], phrases: [callback line]}
    """
    lexicon = load_with(tmp_path, text).lexicon
    ids = lambda words: [c.id for c in lexicon.read(words).concepts]  # noqa: E731
    assert "term:fx_callback" in ids("is there a number my sister can call".split())
    assert "term:fx_callback" not in ids("call me back about the number".split())  # wrong order
    assert "term:fx_callback" not in ids("number of tablets, capsules and pills to take each morning before i call".split())  # too far apart


def test_a_near_pair_must_be_two_single_words(tmp_path: Path) -> None:
    text = """
    lexicon:
      terms:
        - {id: fx_callback, near: [number to + call], phrases: [callback line]}
    """
    assert any("near pair 'number to + call' must be two single words" in p for p in errors_of(tmp_path, text))
