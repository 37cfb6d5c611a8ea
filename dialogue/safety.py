"""Red flags, refusals and out-of-scope rules: checked before any answer is chosen.

A red flag is an emergency described in a message ("I have a fever of 38.6 on chemo").
The same words in a question *about* the condition ("what is febrile neutropenia?")
are not an emergency: they get an answer plus the call-your-team advice. A message is
"about" a condition when it is phrased as a definition question and names nobody who
is experiencing it (no I, my, she, mum...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Knowledge, Locale, RedFlag

_TEMPERATURE_CONTEXT = re.compile(r"\b(?:temp|temps|temperature|fever|febrile|thermometer)\b|°|º")
_TEMPERATURE = re.compile(
    r"(?<![\d.])(\d{2,3}(?:[.,]\d{1,2})?)\s*(?:°|º|degrees?|deg)?\s*(celsius|fahrenheit|c|f)?(?![a-z])"
)


@dataclass(frozen=True, slots=True)
class SafetyCheck:
    urgent: tuple[RedFlag, ...]
    about: tuple[RedFlag, ...]


def _hit(pattern: re.Pattern[str], folded: str, negation: re.Pattern[str]) -> bool:
    for match in pattern.finditer(folded):
        before = folded[max(0, match.start() - 40) : match.start()]
        if not negation.search(before):
            return True
    return False


def temperature_at_or_over(folded: str, locale: Locale) -> bool:
    """A temperature at or over the locale's fever threshold is stated."""
    if not _TEMPERATURE_CONTEXT.search(folded):
        return False
    for match in _TEMPERATURE.finditer(folded):
        value = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "")[:1]
        celsius = 34.0 <= value <= 43.0
        fahrenheit = 93.0 <= value <= 110.0
        if unit == "c" or (not unit and celsius):
            if celsius and value >= locale.fever_c:
                return True
        elif (unit == "f" or (not unit and fahrenheit)) and fahrenheit and value >= locale.fever_f:
            return True
    return False


def check(knowledge: Knowledge, folded: str, locale: Locale) -> SafetyCheck:
    """Find the red flags a folded message raises."""
    hits = []
    negation = knowledge.negation
    for flag in knowledge.red_flags:
        hit = any(_hit(p, folded, negation) for p in flag.patterns)
        if hit and flag.requires:
            hit = any(_hit(p, folded, negation) for p in flag.requires)
        if not hit and flag.temperature:
            hit = temperature_at_or_over(folded, locale)
        if hit:
            hits.append(flag)
    if not hits:
        return SafetyCheck((), ())
    about = any(p.search(folded) for p in knowledge.about_patterns) and not any(
        p.search(folded) for p in knowledge.experiencer_patterns
    )
    return SafetyCheck((), tuple(hits)) if about else SafetyCheck(tuple(hits), ())
