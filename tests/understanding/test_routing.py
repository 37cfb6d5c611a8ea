"""Which unit answers a question: (entity, aspect), with the bundled knowledge and its lexicon."""

from __future__ import annotations

import pytest

from dialogue.routing import Context, route
from dialogue.understanding.reading import read_message


def decide(knowledge, text: str, context: Context = Context()):
    reading = knowledge.lexicon.read(list(read_message(text).words))
    return route(knowledge, reading, context)


@pytest.mark.parametrize("text, unit", [
    ("what is ibrance", "palbociclib_what"),             # brand name
    ("tamoxifen moa", "tamoxifen_what"),                  # shorthand
    ("faslodex loading dose schedule", "fulvestrant_given"),
    ("what did FALCON show", "fulvestrant_fits"),          # a pivotal trial names its drug
    ("kisqali ECG schedule", "ribociclib_side_effects"),   # a toxicity named: side effects
    ("taxol neuropathy", "chemotherapy_side_effects"),     # a drug covered by a shared side-effects topic
    ("why did my wee turn red after the epirubicin", "other_chemo_side_effects"),
])
def test_a_drug_and_an_aspect_find_their_unit(bundled, text: str, unit: str) -> None:
    assert decide(bundled, text).units == (unit,)


def test_terms_for_two_aspects_let_the_wording_choose(bundled) -> None:
    # a dose and an infusion reaction are both named; the question is about how it is given
    assert decide(bundled, "sacituzumab govitecan dose and premeds").units == ("sacituzumab_govitecan_given",)


def test_a_comparison_answers_both_drugs_but_a_partner_drug_does_not(bundled) -> None:
    assert decide(bundled, "denosumab vs zoledronic acid trial breast").units == ("denosumab_fits", "zoledronic_acid_fits")
    assert decide(bundled, "tykerb dose with capecitabine").units == ("lapatinib_given",)


def test_a_class_too_broad_to_choose_a_unit_is_left_to_the_matcher(bundled) -> None:
    assert not decide(bundled, "what is chemotherapy").resolved


def test_a_follow_up_keeps_the_drug_of_the_last_answer(bundled) -> None:
    decision = decide(bundled, "and the side effects?", Context("drug:palbociclib", "how_given"))
    assert decision.units == ("palbociclib_side_effects",) and decision.carried


def test_a_follow_up_naming_another_drug_keeps_the_aspect(bundled) -> None:
    decision = decide(bundled, "what about anastrozole?", Context("drug:letrozole", "how_given"))
    assert decision.units == ("anastrozole_given",) and decision.carried


def test_a_follow_up_that_names_its_aspect_is_not_overruled_by_the_last_one(bundled) -> None:
    decision = decide(bundled, "and what about letrozole side effects", Context("drug:fulvestrant", "how_given"))
    assert decision.units == ("letrozole_side_effects",)


def test_a_question_stating_new_facts_does_not_lean_on_the_last_drug(bundled) -> None:
    decision = decide(bundled, "3L options ER+ HER2-", Context("drug:palbociclib", "how_given"))
    assert decision.entity != "drug:palbociclib"


def test_a_conversation_stored_by_the_previous_version_is_still_read() -> None:
    from dialogue.state import ConversationState

    stored_v1 = {"v": 1, "audience": "patient", "slots": {"hr": "positive"}, "last_topic": "cdk46_side_effects",
                 "pending": None, "disclaimer_at": 5.0, "consented_at": None, "turn": 3,
                 "created_at": 1.0, "updated_at": 5.0}
    state = ConversationState.from_dict(stored_v1)
    assert state.slots == {"hr": "positive"} and state.last_topic == "cdk46_side_effects" and state.turn == 3
    assert state.last_entity is None and state.last_aspect is None
    assert ConversationState.from_dict(state.to_dict()).to_dict()["v"] == 2


def test_every_drug_has_a_card_and_no_unit_is_out_of_reach(bundled) -> None:
    from dialogue.coverage import coverage

    report = coverage(bundled)
    for aspect in ("what", "how_given", "where_fits"):
        assert not [drug for drug, unit in report.units[aspect].items() if unit is None], aspect
    assert report.unreachable == []
    assert report.units_line().startswith("units (drug x aspect")


@pytest.mark.parametrize("text, drugs", [
    ("kisq vs verz, which one needs ECGs?", {"drug:ribociclib", "drug:abemaciclib"}),
    ("progd on letroz+palbo", {"drug:letrozole", "drug:palbociclib"}),
])
def test_clinicians_shortened_drug_names_are_read(bundled, text: str, drugs: set[str]) -> None:
    reading = bundled.lexicon.read(list(read_message(text).words))
    assert {c.id for c in reading.concepts if c.kind == "drug"} == drugs


def test_an_everyday_word_is_not_read_as_the_drug_it_starts(bundled) -> None:
    reading = bundled.lexicon.read(list(read_message("have you ever seen this").words))
    assert not [c for c in reading.concepts if c.kind == "drug"]


def test_a_short_new_question_does_not_inherit_the_last_drug(bundled) -> None:
    decision = decide(bundled, "common errors in stage IV breast cancer management", Context("drug:zoledronic_acid", "what"))
    assert not decision.carried


def test_a_site_is_the_entity_only_when_no_drug_is_named(bundled) -> None:
    assert decide(bundled, "what are brain mets").units == ("brain_metastases",)
    assert decide(bundled, "tucatinib for active brain mets").entity == "drug:tucatinib"


def test_a_sure_aspect_prefers_the_close_topic_that_answers_it(bundled) -> None:
    from dialogue.engine import Engine, EngineOptions
    from dialogue.replies import Incoming, ReplyKind

    engine = Engine(bundled, EngineOptions(audience="patient", preview=True))
    turn = engine.step(None, Incoming(text="my wife's cancer is stage 4, ER positive HER2 negative - what is normally given first?",
                                      audience="patient"), 0.0)
    answers = [r for r in turn.replies if r.kind is ReplyKind.ANSWER]
    assert answers and answers[0].topic == "first_line_treatment"


def test_a_two_part_question_gets_both_parts(bundled) -> None:
    decision = decide(bundled, "explain enhertu and how it is given")
    assert set(decision.units) == {"trastuzumab_deruxtecan_what", "trastuzumab_deruxtecan_given"}


def test_a_site_with_one_card_answers_a_vague_question_about_it(bundled) -> None:
    assert decide(bundled, "management of malignant pleural effusion").units == ("lung_pleural_metastases",)
    # a question asking something the card does not declare gets the card only when no example
    # matches better (the work-up topic does here: tests/conversations/topics_basics_workup.yaml)
    assert decide(bundled, "do I need to biopsy a liver lesion before starting treatment").by_card


def test_a_drug_asked_about_in_a_stated_situation_is_asked_whether_it_fits(bundled) -> None:
    assert decide(bundled, "ER+ HER2-low after endocrine therapy, enhertu?").units == ("trastuzumab_deruxtecan_fits",)
    assert decide(bundled, "what is enhertu").units == ("trastuzumab_deruxtecan_what",)


def test_and_between_two_symptoms_is_not_a_second_question(bundled) -> None:
    assert len(decide(bundled, "my eyes are dry and sore on datroway").units) == 1


def test_two_drugs_named_as_a_regimen_are_left_to_the_regimen_topics(bundled) -> None:
    assert not decide(bundled, "gem carbo regimen MBC").resolved


def test_aspects_answered_by_the_same_card_add_up(bundled) -> None:
    # evidence (38%) and where it fits (30%) are both answered by the HER2-low card
    decision = decide(bundled, "the report says HER2 low - does it matter for treatment?")
    assert decision.units == ("her2_low_what",)


def test_a_question_about_a_meaning_asks_what_it_is(bundled) -> None:
    assert decide(bundled, "what does 'stable disease' mean on a scan report?").aspect == "what"


def test_a_symptom_after_a_drip_is_about_the_symptom(bundled) -> None:
    assert decide(bundled, "threw up after my enhertu drip").aspect == "side_effects"
    assert decide(bundled, "enhertu route of administration").aspect == "how_given"


def test_the_difference_between_two_drugs_of_a_class_is_the_card_that_weighs_the_class(bundled) -> None:
    # the class's own comparison card: no head-to-head trial, and how the side effects differ
    assert decide(bundled, "what is the difference between verzenio and kisqali").units == ("cdk46_choice",)
    # two drugs of different classes are still answered one by one
    assert len(decide(bundled, "what is the difference between tamoxifen and letrozole").units) == 2


def test_a_vague_question_about_a_site_gets_what_it_means(bundled) -> None:
    assert decide(bundled, "the cancer is in her bones now, what happens next").units == ("bone_metastases_what",)


def test_a_leading_term_outranks_the_drug_that_only_sets_the_scene(bundled) -> None:
    # the question is about vaccines; chemotherapy and the CDK4/6 inhibitor are the situation
    assert decide(bundled, "are live vaccines ok on chemo and a cdk4/6 inhibitor").units == ("vaccinations",)
    # a term that does not lead leaves the drug first: this is the drug's side effect
    assert decide(bundled, "neuropathy on paclitaxel").entity != "term:neuropathy"


def test_a_concept_with_one_card_answers_an_aspect_the_card_does_not_declare(bundled) -> None:
    decision = decide(bundled, "insomnia: is CBT-I first line before hypnotics?")
    assert decision.units == ("sleep_problems",)
    assert decision.by_card  # a confident example match on another topic may still win


def test_asking_who_to_call_finds_the_numbers_card(bundled) -> None:
    for text in ("who do we phone at night if she gets worse", "is there a cancer helpline i can ring",
                 "which emergency number should she use abroad"):
        assert decide(bundled, text).units == ("emergency_numbers",), text


def test_one_filler_word_inside_a_phrase_is_read_through(bundled) -> None:
    reading = bundled.lexicon.read(list(read_message("enhertu is making me feel so sick").words))
    assert "term:nausea" in reading.tagged
    # only fillers: a content word inside changes the meaning
    reading = bundled.lexicon.read(list(read_message("i feel guilty and sick of hospitals").words))
    assert "term:nausea" not in reading.tagged


def test_a_clear_aspect_with_nothing_named_goes_to_its_overview(bundled) -> None:
    decision = decide(bundled, "stopping systemic therapy near end of life, role of performance status")
    assert decision.units == ("palliative_care_and_stopping",) and decision.by_card
    # an aspect without an overview is left to the matcher
    assert not decide(bundled, "what are the side effects").resolved


class _Hesitant:
    """The bundled aspect model, made to hesitate: no aspect reaches the bar that settles a unit."""

    def __init__(self, model, guesses):
        self._model, self._guesses = model, guesses

    def __getattr__(self, name):
        return getattr(self._model, name)

    def guess(self, tagged, limit=3):
        return self._guesses[:limit]


def test_a_hesitant_guess_about_a_named_drug_is_kept_as_a_tentative_answer(bundled) -> None:
    from dataclasses import replace

    from dialogue.understanding.aspects import Guess

    hesitant = _Hesitant(bundled.aspect_model, [Guess("what", 0.35), Guess("where_fits", 0.25), Guess("how_given", 0.2)])
    decision = decide(replace(bundled, aspect_model=hesitant), "what is ibrance? my mum has been given it with letrozole by her team")
    assert not decision.resolved and decision.tentative == "palbociclib_what"
    # but not when the drug is history, nor "what it is" when nobody asked what it is
    assert decide(bundled, "3L HR+/HER2- after ET lines and capecitabine").tentative is None
    assert decide(bundled, "her feet are red and sore on xeloda").tentative is None


def test_travel_and_work_lead_over_the_medicine_they_mention(bundled) -> None:
    assert decide(bundled, "can i take my morphine abroad").units == ("travel",)
    assert decide(bundled, "do i have to tell my boss i am on chemo").units == ("work_money",)


def test_what_a_word_means_is_settled_before_the_word_signals_its_own_aspect(bundled) -> None:
    decision = decide(bundled, "what does progression mean on the scan report")
    assert decision.aspect == "what" and decision.units == ("glossary",)
    # "what" with nothing named and no word to define has no overview
    assert not decide(bundled, "tell me a joke about oncologists").resolved


def test_a_site_named_as_the_situation_leaves_a_first_line_question_to_its_overview(bundled) -> None:
    decision = decide(bundled, "ER positive HER2 negative and it has spread to her bones, what treatment do people get first?")
    assert decision.units == ("first_line_treatment",) and decision.by_card
    # "does that mean...?" asks what follows, not what a word means
    assert "glossary" not in decide(bundled, "my tumour marker went up, does that mean it is growing?").units


def test_a_class_without_the_card_asked_leaves_it_to_the_member_drug_named(bundled) -> None:
    assert decide(bundled, "whats an mTOR inhibitor? the onc mentioned afinitor").units == ("everolimus_what",)
    # a class with a card of its own answers for itself
    assert decide(bundled, "whats a PARP inhibitor? the onc mentioned lynparza").units == ("parp_inhibitor_fits",)


def test_the_drugs_named_suggest_the_subtype_only_where_nothing_states_it(bundled) -> None:
    def suggested(text: str) -> dict[str, str]:
        return bundled.lexicon.read(list(read_message(text).words)).suggested

    assert suggested("progressed on palbo and letrozole") == {"hr": "positive", "her2": "negative"}
    assert suggested("ER+ HER2-low, progressed on ribociclib") == {}  # stated facts win
    assert "her2" not in suggested("palbociclib with trastuzumab and pertuzumab")  # the drugs disagree


def test_a_line_stated_as_history_puts_the_question_at_the_next_line(bundled) -> None:
    def line(text: str) -> str | None:
        return bundled.lexicon.read(list(read_message(text).words)).sets.get("line")

    assert line("prog on 1L palbo, what now") == "second"
    assert line("after 2L chemo") == "later"
    assert line("first line options") == "first"


def test_a_drug_named_as_history_gives_way_to_the_result_or_the_drug_asked_about(bundled) -> None:
    assert decide(bundled, "ESR1 mutation found after kisqali: what does it mean").entity == "slot:mutation=esr1"
    assert decide(bundled, "she had enhertu and it stopped working, can she have trodelvy").units == (
        "sacituzumab_govitecan_fits",)
    # a drug that is not history stays the subject
    assert decide(bundled, "elacestrant for an ESR1 mutation: dose?").entity == "drug:elacestrant"


def test_drugs_named_only_as_history_ask_what_comes_next(bundled) -> None:
    decision = decide(bundled, "her cancer grew after she finished paclitaxel plus keytruda, what now")
    assert decision.aspect == "after_progression" and not decision.resolved
    # a class joins a combination only by a word: "after endocrine therapy, enhertu?" asks about Enhertu
    assert decide(bundled, "ER+ HER2-low after endocrine therapy, enhertu?").units == ("trastuzumab_deruxtecan_fits",)


def test_a_later_line_stated_with_nothing_clear_asked_is_what_comes_next(bundled) -> None:
    assert decide(bundled, "progressed on 1L ribociclib + AI, PIK3CA wild type, 2L?").aspect == "after_progression"


def test_a_card_about_everything_gives_way_to_a_tests_own_card(bundled) -> None:
    # the children's card answers any aspect about children, but a test question is the test's
    assert decide(bundled, "should my children have the test, i carry brca1").units == ("brca_testing",)


def test_a_blood_test_for_a_gene_is_a_testing_question_not_a_drugs_monitoring(bundled) -> None:
    assert decide(bundled, "is the test for brca genes done with a blood test").units == ("brca_testing",)


def test_alcohol_with_a_drug_is_the_diet_cards_question(bundled) -> None:
    assert decide(bundled, "can i have a beer on letrozole").units == ("diet_exercise",)
    assert decide(bundled, "poor appetite, what should i eat").entity == "term:appetite"  # the symptom stays first


def test_a_site_card_does_not_take_a_first_line_question_for_a_stated_subtype(bundled) -> None:
    decision = decide(bundled, "HER2 positive and spread to the liver, what do they usually start with")
    assert decision.units != ("liver_metastases",)


def test_survival_asked_of_a_drug_is_its_evidence(bundled) -> None:
    assert decide(bundled, "ribociclib vs palbociclib survival").units[0] == "ribociclib_fits"


def test_performance_status_signals_a_question_about_stopping(bundled) -> None:
    assert decide(bundled, "ECOG 3, is further chemotherapy reasonable").aspect == "stopping"


def test_two_aspects_listed_with_and_get_both_cards_unless_the_first_covers_the_second(bundled) -> None:
    assert decide(bundled, "abemaciclib dose and side effects").units == ("abemaciclib_given", "abemaciclib_side_effects")
    # the dose card has the LVEF holds; "class toxicities" side by side is one question
    assert decide(bundled, "margenza dose and LVEF holds").units == ("margetuximab_given",)
    assert len(decide(bundled, "CDK4/6 inhibitor class toxicities").units) <= 1


def test_side_effects_named_of_a_drug_beat_a_situation_card(bundled) -> None:
    # a man with breast cancer is the situation; the question is the drug's side effects
    assert decide(bundled, "side effects of tucatinib? my husband has male breast cancer").entity == "drug:tucatinib"


@pytest.mark.parametrize("text, unit", [
    ("can letrozole make my bones weaker", "letrozole_side_effects"),          # harm to a part of the body
    ("my arimidex makes my joints so stiff", "anastrozole_side_effects"),
    ("i take blood thinners, is faslodex safe", "fulvestrant_given"),           # "thinners" harms nothing
    ("hair falling out on docetaxel, can anything stop it", "hair_loss_card"),  # easing it: the symptom's card
    ("capecitabine: what PRN antiemetic for home", "nausea_plan"),
])
def test_a_symptom_asked_of_a_drug_finds_the_card_that_answers_it(bundled, text: str, unit: str) -> None:
    assert decide(bundled, text).units == (unit,)


def test_treatments_that_worked_for_a_while_are_history_and_a_new_organ_is_the_scene(bundled) -> None:
    # the organ named is where the disease grew, so the next line is asked, not the organ's card
    assert decide(bundled, "kisqali and letrozole worked for 2 years, now spots in her liver, what comes next").units == ("hr_pos_later_lines",)
    # but a local treatment asked of the organ stays with it
    assert decide(bundled, "ibrance stopped working and it spread to the liver, can they radiotherapy the liver").units == ("liver_metastases",)


def test_a_leading_concept_is_asked_about_even_with_a_subtype_stated(bundled) -> None:
    # "options" with HR+ stated would otherwise be the first-line overview
    assert decide(bundled, "ER+ MBC, non-hormonal options for vasomotor symptoms").units == ("hot_flushes_card",)


@pytest.mark.parametrize("text, unit", [
    ("where do the faslodex injections go", "fulvestrant_given"),
    ("neratinib dose escalation schedule", "neratinib_given"),
    ("dato-dxd: which antigen does it bind", "datopotamab_deruxtecan_what"),
    ("is citalopram ok with tamoxifen", "tamoxifen_given"),
    ("pregnant in the second trimester with stage 4, what treatment", "pregnancy_fertility"),
])
def test_words_of_an_aspect_or_situation_find_their_card(bundled, text: str, unit: str) -> None:
    assert decide(bundled, text).units == (unit,)


def test_a_blood_test_for_mutations_and_liver_tests_in_a_progression_story_are_not_side_effects(bundled) -> None:
    decision = decide(bundled, "progressed on faslodex and palbociclib, now they want a blood test for mutations, why")
    assert decision.aspect != "side_effects" and decision.units == ("hr_pos_later_lines",)
    story = decide(bundled, "had letrozole with ibrance then fulvestrant, liver numbers are up and the scan says progression, what now")
    assert story.aspect != "side_effects" and story.units == ("hr_pos_later_lines",)


def test_how_long_asked_through_tears_is_the_outlook_not_the_feelings_card(bundled) -> None:
    assert decide(bundled, "how long do people live with this, i cannot stop crying").units == ("survival_outlook",)
    # a card about a situation that covers its own prognosis keeps it
    assert decide(bundled, "de novo vs recurrent MBC: prognosis?").units == ("de_novo_vs_recurrent",)


def test_side_effect_differences_within_a_class_are_the_class_side_effect_card(bundled) -> None:
    assert decide(bundled, "difference in side effects between olaparib and talazoparib").units == ("parp_inhibitor_side_effects",)


@pytest.mark.parametrize("text", [
    "my gran is 88 and they found her cancer has spread, would it be kinder not to treat",
    "mother diagnosed with stage 4 at 81, do they still treat people that old",
])
def test_an_age_of_75_or_more_in_years_asks_about_older_people(bundled, text: str) -> None:
    assert decide(bundled, text).units == ("older_frail",)


@pytest.mark.parametrize("text, unit", [
    ("mum is 83. how is capecitabine given?", "capecitabine_given"),   # the drug is the question
    ("her pulse is 82, what are the side effects of letrozole", "letrozole_side_effects"),  # a reading, not an age
])
def test_an_age_does_not_take_a_question_from_what_it_names(bundled, text: str, unit: str) -> None:
    assert decide(bundled, text).units == (unit,)
