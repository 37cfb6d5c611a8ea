"""Unit conversions asked in so many words: "what is 100.4 in Celsius?", "Ca 3.1 mmol/L in mg/dL?".

People read leaflets written for another country: a fever threshold in °F, a glucose target in mg/dL, a
weight in pounds. A conversion is arithmetic, not advice, so it is computed here from the message's own
numbers; the knowledge's conversions unit gives the factors and their sources. Only a conversion asked
for is found: a target unit named after "in", "to" or "into", or words such as "convert" or "same as".
Glucose and calcium share their units, so the message must say which it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from .reading import MessageReading, Number

#: Words that name each unit, as the reading spells them (lower case, stemmed, "mg/dL" split in two).
UNIT_WORDS = {
    "c": frozenset({"c", "celsius", "centigrade", "celcius", "celsuis"}),
    "f": frozenset({"f", "fahrenheit", "farenheit", "fahrenheight", "farenheight"}),
    "mgdl": frozenset({"mgdl"}),
    "mmol": frozenset({"mmol", "mmoll", "mmols"}),
    "kg": frozenset({"kg", "kgs", "kilo", "kilos", "kilogram", "kilogramm"}),
    "lb": frozenset({"lb", "lbs", "pound", "pounds"}),
}
#: Words that ask for a conversion when a unit follows them.
INTO = frozenset({"in", "to", "into", "as"})
#: Words that ask for one anywhere in the message.
CONVERTING = frozenset({"convert", "conversion", "equivalent", "equal", "equals"})
#: What a mmol/L or mg/dL figure is a reading of.
GLUCOSE_WORDS = frozenset({"glucose", "sugar", "sugars", "bg", "bm", "bms", "glycaemia", "glycemia", "hyperglycaemia",
                           "hyperglycemia", "hba1c"})
CALCIUM_WORDS = frozenset({"calcium", "ca", "hypercalcaemia", "hypercalcemia", "hypocalcaemia", "hypocalcemia"})
#: mg/dL per mmol/L, from the molar masses (glucose 180.16 g/mol, calcium 40.08 g/mol).
MG_PER_MMOL = {"glucose": 18.016, "calcium": 4.008}
KG_PER_LB = 0.45359237
#: Body temperatures a bare number can be, in each scale.
BODY_C = (34.0, 43.0)
BODY_F = (93.0, 110.0)
#: How a number of the message states its unit (see reading.Number.unit).
GIVEN_UNITS = {"c": "c", "f": "f", "mmol": "mmol", "mgdl": "mgdl", "other:lb": "lb", "other:lbs": "lb",
               "other:kg": "kg", "other:kgs": "kg"}
PAIRS = {"c": "f", "f": "c", "mmol": "mgdl", "mgdl": "mmol", "kg": "lb", "lb": "kg"}
LABELS = {"c": "°C", "f": "°F", "mmol": "mmol/L", "mgdl": "mg/dL", "kg": "kg", "lb": "lb"}
#: Decimal places for a result, by unit (and analyte for the shared units).
PLACES = {"c": 1, "f": 1, "kg": 1, "lb": 1, ("glucose", "mmol"): 1, ("glucose", "mgdl"): 0,
          ("calcium", "mmol"): 2, ("calcium", "mgdl"): 1}


@dataclass(frozen=True, slots=True)
class Conversion:
    """One figure converted: ``given`` and ``result`` are written with their units ("100.4 °F", "38.0 °C")."""

    quantity: str
    given: str
    result: str


def asked_conversions(reading: MessageReading) -> list[Conversion]:
    """The conversions a message asks for, in the order its numbers come; none when it asks for none."""
    words = reading.words
    targets = _targets(words)
    if not targets:
        return []
    analyte = _analyte(words)
    found: list[Conversion] = []
    for number in reading.numbers:
        unit = _unit_of(number, targets)
        if unit is None or PAIRS[unit] not in targets:
            continue
        conversion = _convert(number.value, unit, analyte)
        if conversion is not None and conversion not in found:
            found.append(conversion)
    return found


def _targets(words: tuple[str, ...]) -> set[str]:
    """Units named as what to convert into: after "in"/"to", or anywhere in a message that says "convert"."""
    anywhere = bool(CONVERTING.intersection(words)) or any(a == "same" and b == "as" for a, b in zip(words, words[1:]))
    targets = set()
    for i, word in enumerate(words):
        unit = _unit_word(words, i)
        if unit is not None and (anywhere or (i > 0 and words[i - 1] in INTO)):
            targets.add(unit)
    return targets


def _unit_word(words: tuple[str, ...], i: int) -> str | None:
    word = words[i]
    if word == "mg" and i + 1 < len(words) and words[i + 1] == "dl":
        return "mgdl"
    if word == "mmol":
        return "mmol"
    for unit, names in UNIT_WORDS.items():
        if word in names:
            return unit
    return None


def _analyte(words: tuple[str, ...]) -> str | None:
    glucose, calcium = bool(GLUCOSE_WORDS.intersection(words)), bool(CALCIUM_WORDS.intersection(words))
    return "glucose" if glucose and not calcium else "calcium" if calcium and not glucose else None


def _unit_of(number: Number, targets: set[str]) -> str | None:
    """The unit a number is given in: stated beside it, or, for a temperature without one ("what is 100.4 in
    Celsius?", "38 degrees in Fahrenheit"), the scale its size says: 34-43 is °C, 93-110 is °F."""
    unit = GIVEN_UNITS.get(number.unit)
    if unit is None and number.unit in ("", "deg") and not number.written_as_word and targets & {"c", "f"}:
        unit = _scale_by_size(number.value)
    return unit


def _scale_by_size(value: float) -> str | None:
    low_c, high_c = BODY_C
    low_f, high_f = BODY_F
    return "c" if low_c <= value <= high_c else "f" if low_f <= value <= high_f else None


def _convert(value: float, unit: str, analyte: str | None) -> Conversion | None:
    target = PAIRS[unit]
    if unit in ("c", "f"):
        result = value * 9 / 5 + 32 if unit == "c" else (value - 32) * 5 / 9
        quantity, places = "temperature", PLACES[target]
    elif unit in ("kg", "lb"):
        result = value / KG_PER_LB if unit == "kg" else value * KG_PER_LB
        quantity, places = "weight", PLACES[target]
    elif analyte is not None:
        factor = MG_PER_MMOL[analyte]
        result = value * factor if unit == "mmol" else value / factor
        quantity, places = analyte, PLACES[(analyte, target)]
    else:
        return None  # mmol/L of what? glucose and calcium convert differently
    return Conversion(quantity, f"{_figure(value)} {LABELS[unit]}", f"{result:.{places}f} {LABELS[target]}")


def _figure(value: float) -> str:
    return f"{value:g}"
