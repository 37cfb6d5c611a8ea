"""Red-flag rules as authors write them: what the loader refuses (with ``file:line``), what the
conditions mean, and that no message, however long or crafted, makes the check slow.

Most tests run on a small safety file of their own (concepts, one locale, a few red flags) over
the real core knowledge minus its safety file, so that they say what the *format* means whatever
the bundled rules currently are. The timing tests run the real bundled rules.
"""

from __future__ import annotations

import shutil
import textwrap
import time
from pathlib import Path

import pytest

from dialogue.engine import SAFETY_SCAN_CHARS, Engine, EngineOptions
from dialogue.errors import KnowledgeError
from dialogue.loader import load_knowledge
from dialogue.model import Knowledge
from dialogue.replies import Incoming
from dialogue.safety import check
from dialogue.understanding.reading import read_message

from ..conftest import CORE, FIXTURES

# The smallest safety knowledge the checker accepts: the four cue concepts it reads, the
# context words of a temperature, a locale and the red flags the tests below talk about.
SAFETY = """
safety:
  concepts:
    hypothetical: [if, what if, in case, signs of]
    general: [what is, management of]
    experiencer: [i, my, she, he, pt]
    threshold: [over, above]
    temperature_context: [temp, temperature]
    glucose_context: [glucose, sugar, sugars]
    fever: [fever, feverish, temp + high]
    shivering: [shivering, shivers, rigors]
    diarrhoea: [diarrhoea, diarrhea, loose stools, watery stools]
    pneumonitis: [pneumonitis, ild]
    neuropathy: [fingertips, neuropathy]
    numb: [numb, numbness]
    numb_legs: ["leg + @numb", "legs + @numb"]
locales:
  - id: us
    name: United States
    emergency_number: "911"
    crisis_line: "988"
    fever_c: 38.0
    fever_f: 100.4
    care_team_advice: "Call your care team."
    sources: [cdc_fever]
  - id: uk
    name: United Kingdom
    emergency_number: "999"
    crisis_line: "116 123"
    fever_c: 37.5
    fever_f: 99.5
    low_temperature_c: 36.0
    poison_line: "NHS 111"
    care_team_advice: "Call your 24-hour line."
    sources: [cdc_fever]
red_flags:
  - id: fever
    priority: 40
    when:
      - fever
      - shivering
      - temperature >= locale.fever
      - temperature < locale.low_temperature & shivering
    basis: "The locale's fever threshold."
    reply: {clinician: "Fever: urgent.", patient: "Call now about the fever."}
    advice: {clinician: "Fever advice.", patient: "If you get a fever, call."}
    sources: [cdc_fever]
  - id: diarrhoea
    priority: 70
    when: ["count(diarrhoea) >= 4"]
    reply: {clinician: "Diarrhoea: urgent.", patient: "Call about the diarrhoea."}
    advice: {clinician: "Diarrhoea advice.", patient: "Diarrhoea advice."}
    sources: [cdc_fever]
  - id: hyperglycaemia
    priority: 50
    when: [glucose >= 13.9 mmol/l]
    reply: {clinician: "Glucose: urgent.", patient: "Call about your sugar."}
    advice: {clinician: "Glucose advice.", patient: "Glucose advice."}
    sources: [cdc_fever]
  - id: breathing
    priority: 30
    when: [named(pneumonitis)]
    reply: {clinician: "Pneumonitis: urgent.", patient: "Call about your breathing."}
    advice: {clinician: "ILD advice.", patient: "Breathing advice."}
    sources: [cdc_fever]
  - id: spinal_cord
    priority: 45
    when: [numb_legs & !neuropathy]
    reply: {clinician: "Cord compression?", patient: "Call about your legs."}
    advice: {clinician: "MSCC advice.", patient: "Legs advice."}
    sources: [cdc_fever]
disclaimers:
  clinician: "General information for professionals."
  patient: "I am an information bot, not a doctor."
  consent_button: "I understand"
  consent_accepts: [i understand, ok]
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The core knowledge with the small safety file above in place of the bundled one."""
    root = tmp_path_factory.mktemp("base")
    shutil.copytree(CORE, root / "core", ignore=shutil.ignore_patterns("safety.yaml"))
    (root / "core" / "safety.yaml").write_text(SAFETY)
    return root / "core"


def load_with(base: Path, folder: Path, text: str = "") -> Knowledge:
    """The base knowledge plus a deployment folder holding ``text`` as extra.yaml."""
    folder.mkdir(exist_ok=True)
    (folder / "extra.yaml").write_text(textwrap.dedent(text))
    return load_knowledge([base, FIXTURES / "topics", folder], include_bundled=False)


def errors_of(base: Path, folder: Path, text: str) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_with(base, folder, text)
    return [str(p) for p in info.value.problems if p.severity == "error"]


def line_of(text: str, needle: str) -> int:
    """The line of extra.yaml that holds ``needle`` (as written after dedent)."""
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


def flag(when: str) -> str:
    """A deployment red flag with one ``when`` alternative."""
    return textwrap.dedent(f"""
    red_flags:
      - id: local_flag
        when: [{when!r}]
        reply: {{clinician: "x", patient: "x"}}
        advice: {{clinician: "x", patient: "x"}}
        sources: [cdc_fever]
    """)


@pytest.fixture(scope="module")
def rules(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    return load_with(base, tmp_path_factory.mktemp("nothing_extra"))


def urgent(knowledge: Knowledge, text: str, locale: str = "us") -> list[str]:
    return [f.id for f in check(knowledge, read_message(text), knowledge.locales[locale]).urgent]


def about(knowledge: Knowledge, text: str, locale: str = "us") -> list[str]:
    return [f.id for f in check(knowledge, read_message(text), knowledge.locales[locale]).about]


# --- what the loader refuses ------------------------------------------------------------------------


def test_the_small_safety_knowledge_loads_cleanly(rules: Knowledge) -> None:
    assert {f.id for f in rules.red_flags} >= {"fever", "diarrhoea", "hyperglycaemia", "breathing", "spinal_cord"}


@pytest.mark.parametrize(
    "text",
    [
        # a deployment's refusal
        """
        refusals:
          - id: local_refusal
            patterns: ['(a+)+b']
            reply: {patient: "Ask your team."}
        """,
        # a deployment's red flag written the older way
        r"""
        red_flags:
          - id: local_flag
            patterns: ['(\w+\s?)*fever']
            reply: {clinician: "x", patient: "x"}
            advice: {clinician: "x", patient: "x"}
            sources: [cdc_fever]
        """,
        # the part of a red flag that must hold as well
        r"""
        red_flags:
          - id: local_flag
            patterns: ['back pain']
            requires: ['(leg|legs)+ (weak|numb)']
            reply: {clinician: "x", patient: "x"}
            advice: {clinician: "x", patient: "x"}
            sources: [cdc_fever]
        """,
    ],
    ids=["refusal", "red_flag", "requires"],
)
def test_a_pattern_that_could_backtrack_catastrophically_is_refused_at_load(base: Path, tmp_path: Path, text: str) -> None:
    problems = errors_of(base, tmp_path, text)
    key = "requires" if "requires" in text else "patterns"
    assert problems == [p for p in problems if "refused" in p] and len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'extra.yaml'}:{line_of(text, key + ':')}: pattern ")
    assert "can take exponential time" in problems[0]


def test_a_backtracking_about_pattern_is_refused_too(base: Path, tmp_path: Path) -> None:
    text = """
    safety:
      about_patterns: ['^(what|how)\\b', '(\\w+\\s*)+\\?$']
    """
    problems = errors_of(base, tmp_path, text)
    assert len(problems) == 1 and f"{tmp_path / 'extra.yaml'}:" in problems[0] and "refused" in problems[0], problems


def test_safe_patterns_are_accepted(base: Path, tmp_path: Path) -> None:
    text = r"""
    refusals:
      - id: local_refusal
        patterns: ['\bskip\b.{0,40}\bdose\b', '\b(stop|pause)\s+(my|her)\s+(letrozole|ibrance)\b']
        reply: {patient: "Ask your team."}
    """
    assert "local_refusal" in {r.id for r in load_with(base, tmp_path, text).refusals}


def test_an_unknown_concept_in_a_condition_names_file_and_line(base: Path, tmp_path: Path) -> None:
    text = flag("fever & sneezing")
    problems = errors_of(base, tmp_path, text)
    assert problems == [f"{tmp_path / 'extra.yaml'}:{line_of(text, 'when:')}: when: unknown concept 'sneezing' "
                        "(define it under safety.concepts)"]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("fever &", "cannot read condition"),
        ("temperature >= 38", "measure 'temperature' needs a unit"),
        ("temperature >= locale.cold", "locale.cold is not a threshold"),
        ("colour >= 3", "unknown measure 'colour'"),
        ("count(diarrhoea) >= many", "cannot read condition"),
        ("!sneezing", "unknown concept 'sneezing' after '!'"),
        ("named(sneezing)", "unknown concept 'sneezing' in named(...)"),
    ],
)
def test_a_malformed_condition_names_file_and_line(base: Path, tmp_path: Path, when: str, expected: str) -> None:
    text = flag(when)
    problems = errors_of(base, tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'extra.yaml'}:{line_of(text, 'when:')}: when: ") and expected in problems[0]


def concepts(extra: str) -> str:
    """A deployment's safety.concepts: the small knowledge's concepts plus ``extra`` lines."""
    block = SAFETY.split("  concepts:\n", 1)[1].split("locales:", 1)[0]
    return "safety:\n  concepts:\n" + block.rstrip() + "\n" + textwrap.indent(textwrap.dedent(extra).strip(), "    ") + "\n"


def test_concepts_that_refer_to_each_other_in_a_circle_are_refused(base: Path, tmp_path: Path) -> None:
    text = concepts("""
    loop_a: ["@loop_b", chills]
    loop_b: ["@loop_a + night"]
    """)
    problems = errors_of(base, tmp_path, text)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'extra.yaml'}:"), problems
    assert "refer to each other in a circle" in problems[0] and "loop_a" in problems[0]


def test_a_concept_that_refers_to_itself_is_refused(base: Path, tmp_path: Path) -> None:
    problems = errors_of(base, tmp_path, concepts('self_loop: ["@self_loop + night", chills]'))
    assert len(problems) == 1 and "circle: self_loop -> self_loop" in problems[0], problems
    assert problems[0].startswith(f"{tmp_path / 'extra.yaml'}:")


def test_a_reference_to_an_unknown_concept_is_refused(base: Path, tmp_path: Path) -> None:
    problems = errors_of(base, tmp_path, concepts('chills: ["@no_such_concept"]'))
    assert len(problems) == 1 and "refers to unknown concept '@no_such_concept'" in problems[0], problems
    assert problems[0].startswith(f"{tmp_path / 'extra.yaml'}:")


def test_a_reference_to_an_unknown_drug_is_refused(base: Path, tmp_path: Path) -> None:
    problems = errors_of(base, tmp_path, concepts('ild_drug: ["@drug:unknown", "@drug:trastuzumab_deruxtecan"]'))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'extra.yaml'}:") and "'@drug:unknown' names nothing in the lexicon" in problems[0]


def test_a_reference_to_a_drug_finds_its_brand_names(base: Path, tmp_path: Path) -> None:
    text = concepts('ild_drug: ["@drug:trastuzumab_deruxtecan"]\ncough: [cough, coughing]') + flag("cough & ild_drug")
    knowledge = load_with(base, tmp_path, text)
    assert "local_flag" in urgent(knowledge, "new dry cough since my last Enhertu")
    assert "local_flag" not in urgent(knowledge, "new dry cough since my last letrozole")


def test_a_red_flag_without_a_rule_is_refused(base: Path, tmp_path: Path) -> None:
    text = """
    red_flags:
      - id: local_flag
        reply: {clinician: "x", patient: "x"}
        advice: {clinician: "x", patient: "x"}
        sources: [cdc_fever]
    """
    problems = errors_of(base, tmp_path, text)
    assert len(problems) == 1 and "a red flag needs 'when'" in problems[0] and f"{tmp_path / 'extra.yaml'}:" in problems[0]


# --- what the conditions mean ------------------------------------------------------------------------


def test_a_concept_counts_when_stated_not_when_negated_in_its_clause(rules: Knowledge) -> None:
    assert urgent(rules, "I have a fever") == ["fever"]
    assert urgent(rules, "no appetite, and a fever since last night") == ["fever"]
    assert urgent(rules, "No fever, just tired") == []
    assert urgent(rules, "no fever but shivering all night") == ["fever"]


def test_a_question_about_a_condition_gets_advice_not_the_urgent_reply(rules: Knowledge) -> None:
    assert urgent(rules, "what if I get a fever on chemo?") == [] and about(rules, "what if I get a fever on chemo?") == ["fever"]
    assert urgent(rules, "what is the management of fever in neutropenia") == []


def test_a_temperature_counts_at_the_locales_threshold(rules: Knowledge) -> None:
    assert urgent(rules, "my temp is 38.1 tonight") == ["fever"]
    assert urgent(rules, "temp 37.6") == [] and urgent(rules, "temp 37.6", locale="uk") == ["fever"]
    assert urgent(rules, "it was 101F an hour ago") == ["fever"]
    assert urgent(rules, "temp thirty eight point five") == ["fever"]
    assert urgent(rules, "my temp is 37,8", locale="uk") == ["fever"]  # a decimal comma


def test_an_age_is_not_a_temperature(rules: Knowledge) -> None:
    assert urgent(rules, "my temp is fine, she is 38 years old") == []
    assert urgent(rules, "pt is a 39 yo with a normal temp") == []


def test_a_dose_in_mg_is_not_a_temperature(rules: Knowledge) -> None:
    assert urgent(rules, "temp 36.8, on 40mg dex") == []
    assert urgent(rules, "temp normal, took 40 mg of prednisolone") == []


def test_a_threshold_in_a_hypothetical_clause_is_not_a_reading(rules: Knowledge) -> None:
    assert urgent(rules, "should I call if my temp goes over 38.5?") == []
    assert urgent(rules, "the leaflet says call if your temp is 38.5 or above. is that right?") == []
    assert urgent(rules, "temp 38.5 or above all evening") == ["fever"]  # not in a hypothetical clause: a reading
    assert urgent(rules, "what's your threshold, a single 38.3 or sustained 38.0?") == []  # a choice of thresholds
    assert urgent(rules, "temp 38.3 or 38.0, not sure which") == ["fever"]  # two readings, no threshold asked about


def test_a_low_temperature_counts_only_where_the_locale_sets_one(rules: Knowledge) -> None:
    assert urgent(rules, "temp 35.6 and shivers", locale="uk") == ["fever"]
    assert urgent(rules, "temp 35.6", locale="uk") == []


def test_a_reading_written_with_a_repeat_count_is_still_a_reading(rules: Knowledge) -> None:
    assert urgent(rules, "temp 38.4 x2 this evening") == ["fever"]
    assert urgent(rules, "diarrhoea x 8 since breakfast") == ["diarrhoea"]


def test_a_bare_number_belongs_to_the_nearest_measure_word_before_it(rules: Knowledge) -> None:
    # 38.6 follows "sugar", so it is a glucose figure, not a temperature; 9.1 after "temp" is not a fever
    assert urgent(rules, "temp 36.9, sugar 38.6 mmol") == ["hyperglycaemia"]
    assert urgent(rules, "sugar 9.1, temp 38.6") == ["fever"]
    assert urgent(rules, "sugar 38.6 temp 36.9") == ["hyperglycaemia"]


def test_a_count_of_a_concept(rules: Knowledge) -> None:
    assert urgent(rules, "diarrhoea x8 since breakfast") == ["diarrhoea"]
    assert urgent(rules, "watery stools six times today") == ["diarrhoea"]
    assert urgent(rules, "diarrhoea twice today") == []


def test_a_measure_with_its_unit(rules: Knowledge) -> None:
    assert urgent(rules, "glucose 22 mmol/L this morning") == ["hyperglycaemia"]
    assert urgent(rules, "sugar 450 mg/dL on alpelisib") == ["hyperglycaemia"]
    assert urgent(rules, "glucose 7.2 mmol/L, is that ok?") == []
    assert urgent(rules, "fasting glucose 135 mg/dL") == []


def test_a_trial_number_is_not_a_reading(rules: Knowledge) -> None:
    assert urgent(rules, "glucose rise in CAPItello-291 and SOLAR-1") == []
    assert urgent(rules, "sugar-29 this morning on alpelisib") == ["hyperglycaemia"]  # a reading joined by a hyphen
    assert urgent(rules, "glucose 291 mg/dL on capivasertib") == ["hyperglycaemia"]


def test_a_named_diagnosis_is_a_report_only_when_it_happens_to_someone(rules: Knowledge) -> None:
    assert urgent(rules, "pt on T-DXd with new pneumonitis") == ["breathing"]
    assert urgent(rules, "T-DXd ILD grade 1 management") == []


def test_a_concept_that_must_be_absent(rules: Knowledge) -> None:
    assert urgent(rules, "both my legs have gone numb") == ["spinal_cord"]
    assert urgent(rules, "legs numb and my fingertips tingle since paclitaxel") == []


def test_a_comparison_after_an_exclamation_mark_holds_when_no_reading_compares_so(base: Path, tmp_path: Path) -> None:
    knowledge = load_with(base, tmp_path, flag("fever & !temperature < 37.5 c"))
    assert "local_flag" not in urgent(knowledge, "I had a temperature of 37.2 after a hot shower")
    assert "local_flag" in urgent(knowledge, "I have a fever, 38.4 now")
    assert "local_flag" in urgent(knowledge, "I have a fever")  # no reading at all: the words decide


# --- older knowledge -----------------------------------------------------------------------------------


def test_a_red_flag_written_with_patterns_still_loads_and_reads_negation_per_clause(base: Path, tmp_path: Path) -> None:
    text = r"""
    red_flags:
      - id: local_flag
        patterns: ['\bbleeding\b']
        requires: ['\bgums?\b']
        temperature: true
        reply: {clinician: "x", patient: "x"}
        advice: {clinician: "x", patient: "x"}
        sources: [cdc_fever]
    """
    knowledge = load_with(base, tmp_path, text)
    assert "local_flag" in urgent(knowledge, "my gums are bleeding")
    assert "local_flag" not in urgent(knowledge, "no bleeding, gums just sore")
    assert "local_flag" in urgent(knowledge, "gums fine, and bleeding again")
    assert "local_flag" not in urgent(knowledge, "bleeding from a cut")
    assert "local_flag" in urgent(knowledge, "temp 38.6")  # temperature: true


def test_safety_negation_is_ignored_with_a_warning(base: Path, tmp_path: Path) -> None:
    text = """
    safety:
      negation: ['\\bno\\b']
    """
    knowledge = load_with(base, tmp_path, text)
    warnings = [str(w) for w in knowledge.warnings]
    assert any(w.startswith(f"{tmp_path / 'extra.yaml'}:") and "safety.negation is no longer used" in w for w in warnings)


# --- long and crafted messages -------------------------------------------------------------------------

LONG_LIMIT_S = 1.0  # generous: the real figures are in benchmarks/bench_engine.py


def rambling(chars: int = 20_000) -> str:
    """A long message of ordinary worries, with numbers and negations, and no emergency."""
    sentences = [
        "My mum started letrozole and Ibrance last month, and she is 67 years old.",
        "No fever, no cough, just tired, and her appetite is not great but okay.",
        "The oncologist said the CA 15-3 was 41, down from 58, which is good news I think.",
        "What are the side effects of palbociclib, and should she avoid grapefruit?",
        "If she gets a temperature over 38 we know to call the 24 hour line.",
        "She takes 125 mg for 21 days then 7 days off, cycle 4 now,",
        "and sometimes I wonder whether the scans every 3 months are enough",
    ]
    out: list[str] = []
    size = 0
    i = 0
    while size < chars:
        out.append(sentences[i % len(sentences)])
        size += len(out[-1]) + 1
        i += 1
    return " ".join(out)[:chars]


CRAFTED = {
    "rambling": rambling(),
    "one letter": "a" * 20_000,
    "one word repeated": "fever " * 4000,
    "negations repeated": "no fever " * 2222,
    "numbers": "38.5 " * 4000,
    "spelled numbers": "thirty eight point five " * 870,
    "punctuation": "?!.,;:" * 3333,
    "no spaces": "feverchillsbleeding" * 1053,
    "digits glued to words": "x8x8x8 101f 22mmol/l " * 950,
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_20000_character_message_is_checked_in_well_under_a_second(knowledge: Knowledge, name: str) -> None:
    text = CRAFTED[name]
    assert len(text) >= 19_000
    check(knowledge, read_message("warm up"), knowledge.locales["us"])
    start = time.perf_counter()
    check(knowledge, read_message(text, SAFETY_SCAN_CHARS), knowledge.locales["us"])
    elapsed = time.perf_counter() - start
    assert elapsed < LONG_LIMIT_S, f"{name}: {elapsed:.2f} s"


@pytest.mark.parametrize("name", ["rambling", "one letter", "one word repeated", "negations repeated"])
def test_a_whole_turn_on_a_20000_character_message_takes_well_under_a_second(knowledge: Knowledge, name: str) -> None:
    engine = Engine(knowledge, EngineOptions(audience="patient"))
    engine.step(None, Incoming(text="warm up"), 0.0)
    start = time.perf_counter()
    turn = engine.step(None, Incoming(text=CRAFTED[name]), 1.0)
    elapsed = time.perf_counter() - start
    assert elapsed < LONG_LIMIT_S, f"{name}: {elapsed:.2f} s"
    assert turn.replies  # "too long", or the urgent reply first


def test_deployment_patterns_stay_fast_on_crafted_messages(base: Path, tmp_path: Path) -> None:
    text = r"""
    red_flags:
      - id: local_flag
        patterns: ['\bfever\b.{0,40}\bchemo\b', '\bno\s+fever\b', 'a{1,50}b', '\bfever\b']
        reply: {clinician: "x", patient: "x"}
        advice: {clinician: "x", patient: "x"}
        sources: [cdc_fever]
    """
    knowledge = load_with(base, tmp_path, text)
    for name in ("one letter", "one word repeated", "negations repeated"):
        start = time.perf_counter()
        check(knowledge, read_message(CRAFTED[name], SAFETY_SCAN_CHARS), knowledge.locales["us"])
        elapsed = time.perf_counter() - start
        assert elapsed < LONG_LIMIT_S, f"{name}: {elapsed:.2f} s"


def _flags(knowledge: Knowledge, text: str) -> tuple[list[str], list[str]]:
    result = check(knowledge, read_message(text), knowledge.locales["uk"])
    return [f.id for f in result.urgent], [f.id for f in result.about]


def test_asked_makes_breathlessness_someone_lives_with_a_question_but_not_when_it_is_acute(bundled) -> None:
    # the bundled rule: breathless & breath_known & asked(breath_coping)
    assert _flags(bundled, "my dad has lung secondaries and gets puffed on the stairs, what helps day to day?") == ([], ["breathing"])
    assert _flags(bundled, "she gets breathless sitting still now and her lips look blue, what can we do?")[0] == ["breathing"]


def test_a_clinician_asking_how_to_manage_their_patient_gets_an_answer_unless_it_is_an_emergency(bundled) -> None:
    assert _flags(bundled, "pt on Verzenio, G2 diarrhoea despite loperamide. hold or dose reduce?") == ([], ["diarrhoea"])
    # "next steps?" is how a clinician asks about an emergency too
    urgent, _ = _flags(bundled, "pt with progressive back pain, now numb legs. next steps?")
    assert urgent == ["spinal_cord"]
    # a patient, or a named relative, is never a clinician's case
    assert _flags(bundled, "my mum has 7 loose stools a day on Verzenio, hold or dose reduce?")[0] == ["diarrhoea"]


def test_numbers_and_idioms_are_not_diagnoses(bundled) -> None:
    assert _flags(bundled, "can you live for ten more years with this") == ([], [])
    assert _flags(bundled, "constipation not responding to laxatives, what now?")[0] == []


def test_pain_the_tablets_do_not_touch_is_asked_about_unless_it_is_severe_or_distressing(bundled) -> None:
    assert _flags(bundled, "bone pain at night, paracetamol isn't touching it") == ([], ["severe_pain"])
    assert _flags(bundled, "the pain is unbearable and the morphine isn't touching it")[0] == ["severe_pain"]
    assert _flags(bundled, "her painkillers aren't working and she's crying")[0] == ["severe_pain"]


def test_an_advise_alternative_gives_the_advice_and_never_the_urgent_reply(base: Path, tmp_path: Path) -> None:
    text = textwrap.dedent("""
    red_flags:
      - id: local_flag
        when: ["count(diarrhoea) >= 7", "advise: count(diarrhoea) >= 4"]
        reply: {clinician: "x", patient: "x"}
        advice: {clinician: "x", patient: "x"}
        sources: [cdc_fever]
    """)
    knowledge = load_with(base, tmp_path, text)
    assert "local_flag" not in urgent(knowledge, "diarrhoea 5 times today") and "local_flag" in about(knowledge, "diarrhoea 5 times today")
    assert "local_flag" in urgent(knowledge, "diarrhoea 8 times today")
    assert "local_flag" not in urgent(knowledge, "diarrhoea twice today") + about(knowledge, "diarrhoea twice today")
