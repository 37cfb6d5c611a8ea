"""Unit conversions a message asks for: computed from its own figures, never guessed."""

from __future__ import annotations

import pytest

from dialogue.understanding.conversions import asked_conversions
from dialogue.understanding.reading import read_message


def converted(text: str) -> list[tuple[str, str]]:
    return [(c.given, c.result) for c in asked_conversions(read_message(text))]


@pytest.mark.parametrize("text, expected", [
    ("what is 100.4 in celsius? the leaflet says call if over 100.4", [("100.4 °F", "38.0 °C")]),
    ("need 38.3 C and 37.5 C in F for a handout", [("38.3 °C", "100.9 °F"), ("37.5 °C", "99.5 °F")]),
    ("38 degrees in fahrenheit", [("38 °C", "100.4 °F")]),
    ("101 degrees F in C", [("101 °F", "38.3 °C")]),
    ("corrected Ca 3.1 mmol/L - what's that in mg/dL?", [("3.1 mmol/L", "12.4 mg/dL")]),
    ("alpelisib: 250 mg/dL glucose threshold in mmol/L?", [("250 mg/dL", "13.9 mmol/L")]),
    ("my sugar is 15 mmol, what is that in mg/dl", [("15 mmol/L", "270 mg/dL")]),
    ("pt weighs 154 lb - in kg?", [("154 lb", "69.9 kg")]),
    ("70 kg in pounds", [("70 kg", "154.3 lb")]),
])
def test_a_figure_asked_in_another_unit_is_converted(text: str, expected: list[tuple[str, str]]) -> None:
    assert converted(text) == expected


@pytest.mark.parametrize("text", [
    "my temp is 38.5, should i go in",           # a reading, not a conversion
    "is 37.8 in celsius a fever",                # already in the unit named
    "3.1 mmol/L, what is that in mg/dL?",         # glucose or calcium? the factor differs
    "what is the morphine to oxycodone conversion ratio",
    "T-DXd 5.4 mg/kg, pt weighs 70 kg - total dose?",  # a dose is not a unit conversion
])
def test_nothing_is_converted_unless_asked_and_unambiguous(text: str) -> None:
    assert converted(text) == []
