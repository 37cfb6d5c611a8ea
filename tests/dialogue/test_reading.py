"""Reading a message once: clauses and the reach of a negation, numbers and their units.

Every safety rule reads what :func:`read_message` finds, so these are the facts a red flag can
rely on: "no appetite, and a fever" reports a fever; "38 years old" is an age, not a temperature.
"""

from __future__ import annotations

import pytest

from dialogue.model import Knowledge
from dialogue.safety import check
from dialogue.understanding.reading import MessageReading, Number, read_message


def negated(reading: MessageReading, word: str) -> bool:
    """Whether a negation reaches ``word`` (the first token spelled so)."""
    return next(t for t in reading.tokens if t.text == word).negated


def number(text: str) -> Number:
    """The only number in ``text``."""
    numbers = read_message(text).numbers
    assert len(numbers) == 1, numbers
    return numbers[0]


# --- negation reaches the end of its clause, no further ------------------------------------------------


def test_a_negation_stops_at_the_end_of_its_clause() -> None:
    reading = read_message("no appetite, and a fever since last night")
    assert negated(reading, "appetite")
    assert not negated(reading, "fever")


def test_a_negated_symptom_stays_negated_in_its_own_clause() -> None:
    reading = read_message("No fever, just tired")
    assert negated(reading, "fever")
    assert not negated(reading, "tired")


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("no fever but shivering all night", "shivering"),
        ("I dont have a fever although I feel hot", "hot"),
        ("denies chest pain, has fever", "fever"),
        ("not sick. fever 39", "fever"),
    ],
)
def test_joining_words_and_punctuation_end_a_negation(text: str, word: str) -> None:
    assert not negated(read_message(text), word)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("i am not short of breath", "breath"),
        ("she doesn't have a temperature", "temperature"),
        ("pt denies any chest pain", "pain"),
        ("never had a seizure before", "seizure"),
    ],
)
def test_a_negation_reaches_the_words_after_it(text: str, word: str) -> None:
    assert negated(read_message(text), word)


@pytest.mark.parametrize(("text", "word"), [("no longer able to walk", "walk"), ("not only tired but feverish", "tired"),
                                             ("havent stopped having diarrhoea all day", "diarrhoea"),
                                             ("the vomiting hasnt settled and she is dizzy", "dizzy"),
                                             ("she cannot stop shaking", "shaking")])
def test_phrases_that_look_negative_negate_nothing(text: str, word: str) -> None:
    assert not negated(read_message(text), word)


def test_not_only_lifts_a_negation_right_after_the_cue() -> None:
    """"not suicidal just down": "just" two words on does not undo the "not" before "suicidal"."""
    assert negated(read_message("not suicidal just down"), "suicidal")


def test_a_sentence_is_wider_than_a_clause() -> None:
    reading = read_message("my legs are numb, and weak. Back pain too")
    legs, weak, back = (next(t for t in reading.tokens if t.text == w) for w in ("legs", "weak", "back"))
    assert legs.sentence == weak.sentence != back.sentence
    assert legs.clause != weak.clause


# --- numbers and their units ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("temp 38.4 tonight", 38.4, ""),
        ("38.4°C this morning", 38.4, "c"),
        ("38.4 degrees C", 38.4, "c"),
        ("101F an hour ago", 101.0, "f"),
        ("it was 101 F", 101.0, "f"),
        ("102 fahrenheit", 102.0, "f"),
        ("diarrhoea x8 since lunch", 8.0, "count"),
        ("vomited 5 times", 5.0, "count"),
        ("glucose 22 mmol/L", 22.0, "mmol"),
        ("sugar 450 mg/dL", 450.0, "mgdl"),
        ("sats 89%", 89.0, "percent"),
    ],
)
def test_a_number_is_read_with_its_unit(text: str, value: float, unit: str) -> None:
    found = number(text)
    assert (found.value, found.unit) == (value, unit)


def test_a_number_written_in_words() -> None:
    found = number("temp thirty eight point five")
    assert (found.value, found.written_as_word) == (38.5, True)


def test_a_count_written_in_words() -> None:
    found = number("been sick six times today")
    assert (found.value, found.unit, found.written_as_word) == (6.0, "count", True)
    assert (number("threw up twice").value) == 2.0


def test_a_decimal_comma_is_a_decimal_point() -> None:
    assert number("temp 38,4").value == 38.4
    assert number("a 1,000 ml bag").value == 1000.0  # a thousands separator is not


@pytest.mark.parametrize("text", ["she is 38 years old", "38 yo with mets", "on letrozole for 38 months", "38 weeks since my diagnosis"])
def test_an_age_or_a_duration_is_not_a_bare_number(text: str) -> None:
    found = number(text)
    assert found.unit.startswith("other:"), found


def test_one_is_too_common_a_word_to_be_a_number() -> None:
    assert read_message("one side of my face is numb").numbers == ()


# --- what the safety check makes of them (the bundled rules) ----------------------------------------


def urgent(knowledge: Knowledge, text: str, locale: str = "us") -> list[str]:
    return [f.id for f in check(knowledge, read_message(text), knowledge.locales[locale]).urgent]


def test_a_stated_temperature_is_a_fever_and_an_age_is_not(knowledge: Knowledge) -> None:
    assert "fever" in urgent(knowledge, "my temp is 38.4 and I had chemo last week")
    assert "fever" in urgent(knowledge, "temp 38,4 after chemo")
    assert "fever" not in urgent(knowledge, "my daughter is 38 years old, what should she know about my cancer")


def test_no_fever_is_not_a_fever(knowledge: Knowledge) -> None:
    assert "fever" not in urgent(knowledge, "No fever, just tired")
    assert "fever" in urgent(knowledge, "no appetite, and a fever since last night")
