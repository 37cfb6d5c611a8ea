"""The term syntax clinical authors write concepts in, as a message is matched against it."""

from __future__ import annotations

import pytest

from dialogue.understanding.concepts import ConceptSet, TermError, parse_term
from dialogue.understanding.reading import read_message


def concepts(**terms: list[str]) -> ConceptSet:
    return ConceptSet({name: [parse_term(t) for t in ts] for name, ts in terms.items()})


def found(cs: ConceptSet, text: str) -> set[str]:
    return set(cs.match(read_message(text)))


@pytest.fixture(scope="module")
def cs() -> ConceptSet:
    return concepts(
        breathless=["cant breathe", "short of breath"],
        confused_exact=["=confused on"],
        confusing_word=["~confusing"],
        leg=["leg", "legs"],
        numb=["numb", "pins and needles"],
        leg_numb=["@leg + numb"],
        spinal=["@leg_numb + back pain"],
        fever=["fever", "temperature"],
        grade=["grade 4"],
        swelling=["lips + swelling"],
        desaturating=["desat"],
    )


def test_a_phrase_allows_two_inserted_words(cs: ConceptSet) -> None:
    assert "breathless" in found(cs, "I can't really breathe")
    assert "breathless" in found(cs, "i cant properly even breathe")


def test_a_phrase_does_not_stretch_past_two_inserted_words_or_a_sentence(cs: ConceptSet) -> None:
    assert "breathless" not in found(cs, "I can't go for a walk and breathe the air")
    assert "breathless" not in found(cs, "I cant. Breathe in, the nurse said")


def test_an_exact_phrase_allows_no_inserted_words(cs: ConceptSet) -> None:
    assert "confused_exact" in found(cs, "she seems confused on the new tablets")
    assert "confused_exact" not in found(cs, "she was confused since yesterday, on the ward")


def test_a_tilde_word_is_that_word_as_typed_not_its_stem(cs: ConceptSet) -> None:
    assert "confusing_word" in found(cs, "the leaflet is confusing")
    assert "confusing_word" not in found(cs, "she is confused")


def test_parts_joined_by_plus_are_found_in_any_order_within_a_sentence(cs: ConceptSet) -> None:
    assert "leg_numb" in found(cs, "both my legs have sort of gone numb")
    assert "leg_numb" in found(cs, "numb feeling down my left leg")
    assert "leg_numb" not in found(cs, "My leg aches. My fingers are numb.")


def test_a_part_can_be_another_concept(cs: ConceptSet) -> None:
    assert "spinal" in found(cs, "back pain and my legs have gone numb")
    assert "spinal" not in found(cs, "back pain and tired legs")


def test_a_typo_is_corrected_to_a_word_the_concepts_use(cs: ConceptSet) -> None:
    assert "fever" in found(cs, "she has a high temprature")


def test_a_dropped_final_g_is_read_as_the_word_meant(cs: ConceptSet) -> None:
    assert "swelling" in found(cs, "lips n tongue swellin up")
    assert "fever" not in found(cs, "protein in my urine")  # an English word ending in "in" stays itself


def test_an_english_word_whose_stem_is_not_english_is_not_corrected(cs: ConceptSet) -> None:
    assert "desaturating" not in found(cs, "the team has been debating it")  # "debating" stems to "debat", not "desat"
    assert "desaturating" in found(cs, "she keeps dessating")  # a typo still is


def test_a_real_english_word_is_never_corrected_into_a_symptom(cs: ConceptSet) -> None:
    assert "fever" not in found(cs, "fewer tablets this week")


def test_numbers_in_a_term_are_exact(cs: ConceptSet) -> None:
    assert "grade" in found(cs, "grade 4 diarrhoea")
    assert "grade" not in found(cs, "grade 2 diarrhoea, 4 times")


def test_a_hit_carries_the_negation_that_reaches_it(cs: ConceptSet) -> None:
    hits = cs.match(read_message("no fever, but a temperature this morning"))["fever"]
    assert [h.negated for h in hits] == [True, False]


def test_every_hit_is_reported_in_text_order(cs: ConceptSet) -> None:
    hits = cs.match(read_message("fever at night, fever in the morning, still a fever"))["fever"]
    assert [h.start for h in hits] == sorted(h.start for h in hits) and len(hits) == 3


@pytest.mark.parametrize("term, expected", [
    ("", "non-empty"),
    ("leg + ", "empty part"),
    ("@ two words", "one concept name"),
    ("~two words", "one word"),
])
def test_a_malformed_term_says_what_is_wrong(term: str, expected: str) -> None:
    with pytest.raises(TermError, match=expected):
        parse_term(term)


def test_a_concept_of_treatment_names_is_context_not_a_symptom():
    """Only the drug is stated in "Enhertu - why do they ask if I've got a cough?": the cough is asked."""
    from dialogue.loader import load_knowledge

    concepts = load_knowledge().safety_concepts
    assert "ild_drug" in concepts.names_only  # its terms are Enhertu's and Datroway's names and their words
    assert "cough" not in concepts.names_only
