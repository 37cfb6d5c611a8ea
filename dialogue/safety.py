"""Red flags, checked on every message before anything else.

A red flag is an emergency described in a message. Clinical authors write its rule in
the knowledge as alternatives (``when:``), each a list of conditions joined by ``&``:

* a concept name (``fever``): found in the message and not negated in its clause;
  ``!name``: that concept is *not* found (``leg_deficit & !neuropathy``);
  ``named(name)``: a diagnosis ("pneumonitis", "DKA") that is a report only when the message
  names someone it is happening to ("pt on T-DXd with pneumonitis"), and otherwise a question
  about it ("T-DXd ILD grade 1 management");
  ``asked(name)``: a cue that makes the whole alternative a question, never a report
  ("out of breath on the stairs, what helps?" gets an answer and the flag's advice);
* a reading compared with a threshold (``temperature >= locale.fever``,
  ``glucose >= 13.9 mmol/l``, ``calcium >= 3.0 mmol/l``, ``oxygen < 92 %``, ``systolic < 90 mmhg``);
* a count of a concept (``count(diarrhoea) >= 4``: "x8", "8 times", "six times since lunch").

Stated or asked? The same words in a question *about* a condition ("what is febrile
neutropenia?", "what do I do if I run a temperature?") are not an emergency: they get
an answer plus the flag's advice. Evidence is *asked* when it sits in a clause with a
``hypothetical`` cue ("if", "in case", "signs of"), or in a sentence with a ``general``
cue ("what is", "work-up", "management of") while the message names nobody it is
happening to (no ``experiencer``). A stated reading at or over a threshold is always a
report, even phrased as a question ("my temp is 38.4, is that bad?").
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .understanding.concepts import Hit
from .understanding.conversions import asked_conversions
from .understanding.reading import CLAUSE_WORDS, MessageReading, Number, Token

if TYPE_CHECKING:
    from .model import Knowledge, Locale, RedFlag

#: Concepts the checker itself relies on; the knowledge must define them. Three more are read when
#: defined: "past" (a sentence about something long over: "fainted once last year"), "idiom"
#: (words that mean nothing medical together: "dead on my feet") and "management_question" (a
#: cue asking how something is managed; unlike "general", it reaches the whole sentence). "past"
#: reaches its own clause only: in "bleeding again, went through the menopause years ago" the
#: bleeding is today's.
CUE_CONCEPTS = ("hypothetical", "general", "experiencer", "threshold")
#: Sentences about something other than a person's state (a screening question answered no, a school
#: project on suicide prevention): nothing in them is evidence, read when defined.
NOT_EVIDENCE = "not_evidence"
#: concepts that say where the cancer is ("I have cancer in my spine"): context for a symptom, never the symptom
WHERE_IT_IS = frozenset({"spinal_mets", "bone_mets"})
#: The words by which a clinician names a patient as a case ("pt", "my patient"), read when defined.
CASE_CONCEPT = "case"
#: A management question about such a case ("hold or reduce?", "next step?"), read when defined.
CASE_QUESTION = "case_question"
#: Measures a condition may compare, with the concept that marks a bare number as one, and units.
MEASURES = {
    "temperature": ("temperature_context", ("c", "f")),
    "glucose": ("glucose_context", ("mmol/l", "mg/dl")),
    "calcium": ("calcium_context", ("mmol/l", "mg/dl")),
    "oxygen": ("oxygen_context", ("%",)),
    "systolic": ("blood_pressure_context", ("mmhg",)),
    "pulse": ("pulse_context", ("bpm",)),
    "respiratory": ("respiratory_context", ("/min",)),
}
LOCALE_THRESHOLDS = {"locale.fever": "fever", "locale.low_temperature": "low_temperature"}
#: The concept naming anticancer treatment (read when the knowledge defines it): with it, a bare
#: decimal in the range of a fever is a temperature ("pt 38.4 on paclitaxel").
TREATMENT_CONTEXT = "on_treatment"
#: The range of a bare decimal read as a temperature during treatment, in °C.
BARE_FEVER_RANGE = (37.5, 42.5)
#: The same range in Fahrenheit, for a figure that opens its sentence ("101.5 an hour ago. 102.2 now. chemo was Thursday").
BARE_FEVER_RANGE_F = (99.5, 108.5)
#: Feeling feverish, which makes a decimal in the Fahrenheit range a temperature anywhere in its sentence, unless
#: something is weighed there.
FEVERISH_WORDS = frozenset({"hot", "feverish", "chills", "shivers", "shivery", "shivering", "sweats", "sweaty", "burning"})
WEIGHT_WORDS = frozenset({"weigh", "weighs", "weighed", "weight", "lb", "lbs", "pounds", "kg", "kgs", "bmi", "stone"})
#: Words that make a nearby decimal a trial figure, not a reading ("median PFS 38.4 on paclitaxel").
FIGURE_WORDS = frozenset({"median", "pfs", "os", "hr", "ci", "vs", "versus", "arm", "rate", "orr", "dor", "ttp",
                          "survival", "percent"})
#: a time unit makes a decimal a figure only as its unit ("PFS 37.9 months"), not as a nearby
#: time ("ANC 0.6 last week, now 37.9")
FIGURE_UNITS = frozenset({"month", "months", "mo", "week", "weeks", "wk", "wks", "year", "years", "yr", "yrs"})
_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
_COND = re.compile(
    r"^\s*(?:(?P<absent>!\s*[a-z][a-z0-9_]*)|named\(\s*(?P<named>[a-z][a-z0-9_]*)\s*\)|asked\(\s*(?P<asked>[a-z][a-z0-9_]*)\s*\)"
    r"|(?P<concept>[a-z][a-z0-9_]*)"
    r"|count\(\s*(?P<counted>[a-z][a-z0-9_]*)\s*\)\s*(?P<cop>>=|<=|>|<)\s*(?P<count>\d+)"
    r"|(?P<unmet>!\s*)?(?P<measure>[a-z]+)\s*(?P<op>>=|<=|>|<)\s*(?:(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>mmol/l|mg/dl|mmhg|bpm|/min|c|f|%)?"
    r"|(?P<locale>locale\.[a-z_]+)))\s*$"
)
#: Words that make two figures offered as a choice into thresholds asked about, not readings.
THRESHOLD_WORDS = frozenset({"threshold", "thresholds", "cutoff", "cutoffs", "definition", "define", "guideline", "guidelines"})
_PAUSE = re.compile(r"[,;:]")
#: Words that, before "as", ask what a reading is taken to mean ("what counts as a fever").
DEFINING_WORDS = frozenset({"count", "counts", "counted", "classed", "classified", "defined", "regarded"})
#: Words that report a figure someone else gave ("the leaflet says 38", "my friend was told 37.5").
REPORTING_WORDS = frozenset({"says", "said", "told", "say"})
#: Tests that are none of the measures above: a figure right after one is its own ("albumin 3.2", "HbA1c 41").
OTHER_TESTS = frozenset("albumin alb hba1c a1c creatinine creat egfr gfr hb haemoglobin hemoglobin plt platelets wcc wbc"
                        " anc neuts neutrophils bili bilirubin alt ast alp ggt inr crp ldh sodium potassium magnesium"
                        " phosphate pth urea".split())
CONTEXT_BEFORE = 5  # a bare number is a reading when its context word is this close before it
CONTEXT_AFTER = 3  # ... or this close after it ("38.5 temp", "101.3 on the thermometer")


@dataclass(frozen=True, slots=True)
class Condition:
    """One compiled part of a red flag's rule."""

    kind: str  # concept | named | asked | absent | count | measure
    name: str  # the concept, or the measure
    op: str = ">="
    value: float = 0.0
    unit: str = ""
    locale_key: str = ""  # "fever" or "low_temperature": the threshold comes from the locale
    unmet: bool = False  # "!temperature < 37.5 c": holds when no reading compares so


def needs_of(alternative: tuple[Condition, ...]) -> tuple[frozenset[str], bool]:
    """The concepts an alternative cannot hold without, and whether it compares a reading: a cheap pre-check."""
    needs = frozenset(c.name for c in alternative if c.kind in ("concept", "named", "count", "asked"))
    return needs, any(c.kind in ("measure", "count") and not c.unmet for c in alternative)


def parse_condition(text: str, known_concepts: set[str]) -> Condition:
    """Compile one condition; raises ``ValueError`` with what is wrong."""
    m = _COND.match(text)
    if not m:
        raise ValueError(
            f"cannot read condition {text!r}: write a concept name, count(concept) >= N, "
            "or a measure (" + ", ".join(MEASURES) + ") compared with a number and unit or locale.fever"
        )
    for group, kind, where in (("absent", "absent", "after '!'"), ("named", "named", "in named(...)"), ("asked", "asked", "in asked(...)"),
                               ("concept", "concept", "(define it under safety.concepts)"), ("counted", "count", "in count(...)")):
        name = (m.group(group) or "").lstrip("!").strip()
        if not name:
            continue
        if name not in known_concepts:
            raise ValueError(f"unknown concept '{name}' {where}")
        if kind == "count":
            return Condition("count", name, m.group("cop"), float(m.group("count")))
        return Condition(kind, name)
    measure = m.group("measure")
    if measure not in MEASURES:
        raise ValueError(f"unknown measure '{measure}' (expected one of {', '.join(MEASURES)})")
    context, units = MEASURES[measure]
    if context not in known_concepts:
        raise ValueError(f"measure '{measure}' needs the concept '{context}' (the words that mark a bare number as one)")
    if m.group("locale"):
        key = LOCALE_THRESHOLDS.get(m.group("locale"))
        if key is None or measure != "temperature":
            raise ValueError(f"{m.group('locale')} is not a threshold (expected locale.fever or locale.low_temperature, for temperature)")
        return Condition("measure", measure, m.group("op"), 0.0, "", key, bool(m.group("unmet")))
    unit = m.group("unit") or ""
    if unit not in units:
        raise ValueError(f"measure '{measure}' needs a unit: one of {', '.join(units)}")
    return Condition("measure", measure, m.group("op"), float(m.group("value")), unit, "", bool(m.group("unmet")))


@dataclass(frozen=True, slots=True)
class SafetyCheck:
    urgent: tuple[RedFlag, ...]
    about: tuple[RedFlag, ...]


class _Evidence:
    """The facts about one message that every flag's rule reads."""

    def __init__(self, knowledge: Knowledge, reading: MessageReading, locale: Locale) -> None:
        self.reading = reading
        self.locale = locale
        self.hits = knowledge.safety_concepts.match(reading)
        self.names_only = knowledge.safety_concepts.names_only | WHERE_IT_IS
        toks = reading.tokens
        #: sentences naming material for patients ("for the handout", "pt-facing list")
        self.teaching_sentences = {h.sentence for h in self.hits.get("teaching", ()) if not h.negated}
        self._converting: bool | None = None
        #: sentences naming a threshold ("what's your threshold"), and where each number sits: read once, on demand
        self._threshold_sentences: set[int] | None = None
        self._number_places: list[int] | None = None
        #: where "counts as", "classed as"... stand: read once, on demand
        self._definition_asks: list[int] | None = None
        self.general_sentences = {h.sentence for h in self.hits.get("general", ())}
        news = [h for h in self.hits.get("new_or_worse", ()) if not h.negated and not self._from_now_on(h.start)]
        # "it stopped after ten minutes but now it's pouring again": news after the resolution reopens it
        # (so does news after a comma inside it: "she was fine, now she's burning up" is not "fine now")
        self.resolved_sentences = {h.sentence for h in self.hits.get("resolved", ())
                                   if not h.negated and not any(self._reopens(n, h) for n in news)}
        self.news_clauses = {reading.tokens[h.start].clause for h in news}
        self.seen_to_sentences = {h.sentence for h in self.hits.get("seen_to", ()) if not h.negated}
        self.past_clauses = {reading.tokens[h.start].clause for h in self.hits.get("past", ()) if not h.negated}
        # an idiom lies within one clause: "want to die, I'm at home" is not "to die at home"
        idioms = [(h.start, h.end) for h in self.hits.get("idiom", ()) if toks[h.start].clause == toks[h.end].clause]
        if idioms:  # "dead on my feet", "nearly gave me a heart attack": the words inside an idiom mean nothing alone
            inside = {i for a, b in idioms for i in range(a, b + 1)}  # one pass, however many idioms and hits
            self.hits = {
                name: kept for name, hits in self.hits.items()
                if (kept := [h for h in hits if name == "idiom" or not (h.start in inside or h.end in inside)])
            }
        # (read after the idioms: a cue inside one is no cue, "showing signs of raised ICP" reports)
        self.hypothetical_clauses = {toks[h.start].clause for h in self.hits.get("hypothetical", ())}
        # "the nurse asked if I had thoughts of ending it, I said no and meant it", "my son's school project on
        # suicide prevention": such a sentence holds no evidence (the next sentence still counts)
        denied = {h.sentence for h in self.hits.get(NOT_EVIDENCE, ()) if not h.negated}
        if denied:
            self.hits = {name: kept for name, hits in self.hits.items()
                         if (kept := [h for h in hits if name == NOT_EVIDENCE or h.sentence not in denied])}
        puzzled = _puzzled(reading)
        if puzzled:  # "my tumour test says BRCA1 but my blood test was normal?? confused": bewildered, not delirious
            self.hits = {name: kept for name, hits in self.hits.items()
                         if (kept := [h for h in hits if not all(i in puzzled for i in range(h.start, h.end + 1))])}
        self.someone = any(not h.negated and not _shorthand_suffix(toks, h.start) for h in self.hits.get("experiencer", ()))
        # "pt on Verzenio, G2 diarrhoea despite loperamide: hold or reduce?" names a patient only as the
        # clinician's case: a management question about it asks (see asked)
        cases = [(h.start, h.end) for h in (*self.hits.get(CASE_CONCEPT, ()), *self.hits.get(CASE_QUESTION, ()))]  # "how do they differ"
        self.only_cases = bool(self.hits.get(CASE_CONCEPT)) and all(
            any(a <= h.start <= b for a, b in cases) for h in self.hits.get("experiencer", ()) if not h.negated)
        # clinicians write fragments ("G2 diarrhoea despite loperamide. hold or dose reduce?"): the
        # question counts anywhere in the message
        self.case_question = any(not h.negated for h in self.hits.get(CASE_QUESTION, ()))
        # (a request for management that ends the message asks too: "T-DXd pt w new cough/dyspnoea - triage pathway")
        self.questioning = "?" in reading.folded or any(
            not h.negated and h.end == len(reading.tokens) - 1 for h in self.hits.get("management_question", ()))
        self.about_message = bool(knowledge.about_patterns) and any(p.search(reading.folded) for p in knowledge.about_patterns) and not (
            self.someone or any(p.search(reading.folded) for p in knowledge.experiencer_patterns)
        )
        self._readings: dict[str, list[tuple[Number, float, str]]] = {}
        self._held: dict[Condition, tuple[bool, bool]] = {}
        self._spans: dict[str, tuple[set[int], set[int]]] = {}
        self._measure_words: tuple[dict[int, set[str]], dict[int, set[str]]] | None = None

    # --- concepts ----------------------------------------------------------------------
    def live(self, concept: str) -> list[Hit]:
        return [h for h in self.hits.get(concept, ()) if not h.negated]

    def asked(self, hit: Hit) -> bool:
        clause = self.reading.tokens[hit.start].clause
        if clause in self.hypothetical_clauses or clause in self.past_clauses or hit.sentence in self.resolved_sentences:
            return True
        if self.about_message:
            return True
        if hit.sentence in self.teaching_sentences:
            return True  # "SVCO symptoms - pt-facing list": material for patients, whatever the dash splits off
        # a cue that is one of the evidence's own words ("hasnt managed to drink") asks nothing
        general = any(self.reading.tokens[g.start].clause == clause and not hit.start <= g.start <= hit.end
                      for g in self.hits.get("general", ()))
        # "refractory breathlessness in MBC: non-pharm and pharm options?" asks after the colon; only
        # a cue that asks for management reaches across clauses ("what is going on" does not)
        managing = any(g.sentence == hit.sentence for g in self.hits.get("management_question", ()))
        # (asked as a question: "HR 38 on monitor, pt on Kisqali" reports a patient on a monitor)
        if (self.case_question or (managing and self.questioning)) and self.only_cases:
            return True  # a clinician asking how to manage their patient's problem ("pt on dex 8 mg, hyperglycaemia - management?")
        general = general or self.case_question or managing
        return general and not self.someone

    # --- readings ----------------------------------------------------------------------
    def readings(self, measure: str) -> list[tuple[Number, float, str]]:
        """(number, value in the canonical unit, unit) for every number that reads as this measure."""
        if measure not in self._readings:
            numbers = self.reading.numbers
            if MEASURES[measure][0] not in self.hits:
                # with no context word, only a temperature written with its unit can be a reading,
                # or a fever-range decimal in a message about anticancer treatment
                numbers = [n for n in numbers if n.unit in ("c", "f", "deg") or self._bare_fever(n)] if measure == "temperature" else []
            self._readings[measure] = [r for n in numbers if (r := self._as(measure, n)) is not None]
        return self._readings[measure]

    def _bare_fever(self, n: Number) -> bool:
        """A decimal such as 38.4 (or 101.5 in Fahrenheit), with no unit, in a message naming anticancer treatment."""
        low, high = BARE_FEVER_RANGE
        low_f, high_f = BARE_FEVER_RANGE_F
        if n.unit != "" or n.written_as_word or not (low <= n.value <= high or low_f <= n.value <= high_f):
            return False
        toks = self.reading.tokens
        if low_f <= n.value <= high_f and n.index > 0 and toks[n.index - 1].sentence == toks[n.index].sentence \
                and not self._feels_feverish(n):
            return False  # a Fahrenheit figure alone opens its sentence ("101.5 an hour ago"), not "I weigh 100.5",
            # unless the message says how feverish it feels ("hot and shaky, checked and its 101.3")
        if "." not in toks[n.index].text or not self.live(TREATMENT_CONTEXT):
            return False
        start = max(0, n.index - 4)
        near = toks[start: n.index + 5]
        after = toks[n.index + 1].text if n.index + 1 < len(toks) else ""
        return not any(t.text in FIGURE_WORDS and not self._heart_rate(start + j) and not self._hours(start + j)
                       for j, t in enumerate(near)) and after not in FIGURE_UNITS

    def _feels_feverish(self, n: Number) -> bool:
        """'I feel hot and shaky ... its 101.3': a feverish feeling in the message, nothing weighed in the sentence."""
        toks = self.reading.tokens
        sentence = toks[n.index].sentence
        if any(t.sentence == sentence and t.text in WEIGHT_WORDS for t in toks):
            return False
        return any(t.text in FEVERISH_WORDS and t.neg_by < 0 for t in toks)

    def _from_now_on(self, index: int) -> bool:
        """'should G-CSF be added from now on?' plans ahead: that 'now' is not a new turn for the worse."""
        toks = self.reading.tokens
        return 0 < index < len(toks) - 1 and toks[index].text == "now" and toks[index - 1].text == "from" \
            and toks[index + 1].text == "on"

    def _reopens(self, news: Hit, resolution: Hit) -> bool:
        """News in the resolution's sentence after it, or after a pause inside it, reopens it."""
        if news.sentence != resolution.sentence:
            return False
        if news.start > resolution.end:
            return True
        toks = self.reading.tokens
        return resolution.start < news.start and bool(
            _PAUSE.search(self.reading.folded, toks[resolution.start].pos, toks[news.start].pos))

    def _hours(self, index: int) -> bool:
        """'38.3 twice, 1hr apart': 'hr' after a number is hours, not a hazard ratio."""
        toks = self.reading.tokens
        return toks[index].text == "hr" and index > 0 and toks[index - 1].kind == "n"

    def _heart_rate(self, index: int) -> bool:
        """'HR 118' is a pulse, not a hazard ratio ('HR 0.56'): a whole number of beats follows."""
        toks = self.reading.tokens
        if toks[index].text != "hr" or index + 1 >= len(toks):
            return False
        nxt = toks[index + 1].text
        return nxt.isdigit() and 30 <= int(nxt) <= 250

    def _context_spans(self, context: str) -> tuple[set[int], set[int]]:
        spans = self._spans.get(context)
        if spans is None:
            hits = self.hits.get(context, ())
            spans = self._spans[context] = ({h.end for h in hits}, {h.start for h in hits})
        return spans

    def _measures_around(self) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
        """Where each measure's context words end and start (token index -> measures), built once per message."""
        if self._measure_words is None:
            ends: dict[int, set[str]] = {}
            starts: dict[int, set[str]] = {}
            for measure, (context, _units) in MEASURES.items():
                context_ends, context_starts = self._context_spans(context)
                for i in context_ends:
                    ends.setdefault(i, set()).add(measure)
                for i in context_starts:
                    starts.setdefault(i, set()).add(measure)
            self._measure_words = ends, starts
        return self._measure_words

    def _near_context(self, measure: str, number: Number) -> bool:
        """The nearest measure word before the number names this measure ("sats 97, BP 150/90": 90 is
        not a saturation); with none before it, one just after it does ("38.5 temp")."""
        toks = self.reading.tokens
        i = number.index
        sentence = toks[i].sentence
        ends, starts = self._measures_around()
        for d in range(1, CONTEXT_BEFORE + 1):
            if i - d < 0 or toks[i - d].sentence != sentence:
                break
            if i - d in ends:
                return measure in ends[i - d]
            if d == 1 and toks[i - 1].text in OTHER_TESTS:
                return False  # "corrected Ca 9.6, albumin 3.2", "BM 6.8, HbA1c 41": the figure is that test's
        for d in range(1, CONTEXT_AFTER + 1):
            if i + d >= len(toks) or toks[i + d].sentence != sentence:
                break
            if i + d in starts:
                return measure in starts[i + d]
        return False

    def _first_after_context(self, measure: str, number: Number) -> bool:
        """The first number after its context word ("HR 124, BP 88/50" reads 88 as the systolic), or a
        number written just before it with no number right before ("88/50 BP")."""
        ends, _starts = self._context_spans(MEASURES[measure][0])
        toks = self.reading.tokens
        i = number.index
        for d in range(1, CONTEXT_BEFORE + 1):
            if i - d in ends and toks[i - d].sentence == toks[i].sentence:
                return not any(toks[j].kind == "n" for j in range(i - d + 1, i))
        return not (i > 0 and toks[i - 1].kind == "n")

    def _as(self, measure: str, n: Number) -> tuple[Number, float, str] | None:
        unit = n.unit
        if unit.startswith("other:") or unit == "count":
            return None
        v = n.value
        if measure == "temperature":
            if unit == "c" and 30 <= v <= 45:
                return n, v, "c"
            if unit == "f" and 86 <= v <= 113:
                return n, (v - 32) * 5 / 9, "f"
            if unit in ("", "deg") and (unit == "deg" or self._near_context(measure, n) or self._bare_fever(n)):
                if 34 <= v <= 43:
                    return n, v, "c"
                if 93 <= v <= 110:
                    return n, (v - 32) * 5 / 9, "f"
            return None
        allowed = {"oxygen": ("", "percent"), "systolic": ("", "mmhg"), "pulse": ("", "bpm"), "respiratory": ("",)}.get(
            measure, ("", "mmol", "mgdl", "mg"))
        if unit not in allowed or not self._near_context(measure, n):
            return None
        if measure == "glucose":
            # a bare 36-60 is read as mmol/L: as mg/dL it would be dangerously low, so urgent either way
            if unit == "mmol" or (unit == "" and v <= 60):
                return (n, v, "mmol/l") if 1 <= v <= 60 else None
            return (n, v / 18.0, "mg/dl") if 20 <= v <= 1500 else None
        if measure == "calcium":
            before = {t.text for t in self.reading.tokens[max(0, n.index - CONTEXT_BEFORE): n.index]}
            if before & {"ica", "ionised", "ionized"} and v <= 2.5:
                # ionised calcium is about half the total: 1.6 mmol/L ionised is about 3.2 total
                return n, v * 2, "mmol/l"
            if unit == "mmol" or (unit == "" and v <= 5):
                return (n, v, "mmol/l") if 1 <= v <= 6 else None
            return (n, v / 4.008, "mg/dl") if 4 <= v <= 24 else None
        if measure == "oxygen":
            return (n, v, "%") if 50 <= v <= 100 and unit in ("", "percent") else None
        if measure == "pulse":
            return (n, v, "bpm") if 25 <= v <= 260 else None
        if measure == "respiratory":
            return (n, v, "/min") if 4 <= v <= 70 else None
        if measure == "systolic":
            if not self._first_after_context(measure, n):
                return None  # "138/85": the diastolic, or another measure's number ("BP 138/85 pulse 80")
            return (n, v, "mmhg") if 40 <= v <= 260 else None
        return None

    def hypothetical_threshold(self, number: Number) -> bool:
        """"if it goes over 38": a threshold in a hypothetical clause, not a reading; so is a figure to
        convert for teaching material ("38.3 C and 37.5 C in F for a US handout")."""
        toks = self.reading.tokens
        clause = toks[number.index].clause
        if clause in self.hypothetical_clauses and any(0 < number.index - h.end <= 2 or 0 < h.start - number.index <= 2
                                                       for h in self.hits.get("threshold", ())):
            return True  # "if it goes over 38", "contact us if your temperature is 37.5 or above"
        if any(toks[j].text in THRESHOLD_WORDS for j in range(max(0, number.index - 2), number.index)):
            return True  # "temp threshold >38?", "cutoff 3.0": the figure a threshold word names
        sentence = toks[number.index].sentence
        if self._defines(number):
            return True  # "what counts as a fever on chemo, is it 100.4?": the figure offered as the definition
        if number.index and toks[number.index - 1].text in REPORTING_WORDS and self._asks_for_definitions():
            return True  # "what counts as a fever? the leaflet says 38, my friend was told 37.5": figures quoted
        if self._in_question(number) and self._a_choice_of_figures(number) and self._asks_for_definitions():
            return True  # "what temperature counts as a fever on chemo? is it 37.5 or 38?": figures offered
        if self._threshold_sentences is None:
            self._threshold_sentences = {t.sentence for t in toks if t.text in THRESHOLD_WORDS}
        if sentence in self._threshold_sentences and self._a_choice_of_figures(number):
            return True  # "what's your threshold for FN, a single 38.3 or sustained 38.0?"
        if not self.teaching_sentences.intersection((sentence - 1, sentence, sentence + 1)):
            return False  # a figure far from any mention of teaching material is a reading
        if self._a_choice_of_figures(number):
            return True  # "38.0 or 38.3?" for a leaflet: which threshold to print
        if sentence in self.teaching_sentences and self._in_question(number):
            return True  # "CTCAE question: is 4-6 stools over baseline grade 2?": a figure to classify
        if self._converting is None:
            self._converting = bool(asked_conversions(self.reading))  # once per message, not once per number
        return self._converting

    def _defines(self, number: Number) -> bool:
        """The figure sits in a question that asks what a reading counts as ("counts as", "classed as")."""
        sentence = self.reading.tokens[number.index].sentence
        # (the words come first: "38 on the dot, does that count as a fever?" reports a reading, then asks)
        return self._in_question(number) and any(
            i < number.index and self.reading.tokens[i].sentence == sentence for i in self._definition_words())

    def _asks_for_definitions(self) -> bool:
        """Some question in the message asks what a reading counts as ("what temperature counts as a fever?")."""
        return any(self._in_question_at(self.reading.tokens[i]) for i in self._definition_words())

    def _definition_words(self) -> list[int]:
        """Where "counts as", "classed as"... stand (the index of each "as"): read once, on demand."""
        if self._definition_asks is None:
            toks = self.reading.tokens
            self._definition_asks = [i for i in range(1, len(toks)) if toks[i].text == "as"
                                     and toks[i - 1].text in DEFINING_WORDS and toks[i - 1].sentence == toks[i].sentence]
        return self._definition_asks

    def _in_question(self, number: Number) -> bool:
        """The figure's sentence ends with a question mark."""
        return self._in_question_at(self.reading.tokens[number.index])

    def _in_question_at(self, tok: Token) -> bool:
        """The sentence of this token ends with a question mark."""
        after = self.reading.folded[tok.pos + len(tok.text):]
        ends = [i for i in (after.find(c) for c in ".!?\n") if i >= 0]
        return bool(ends) and after[min(ends)] == "?"

    def _a_choice_of_figures(self, number: Number) -> bool:
        """The figure is one of two offered as alternatives ("38.0 or 38.3", "38 vs 38.5")."""
        toks = self.reading.tokens
        if self._number_places is None:
            self._number_places = sorted(n.index for n in self.reading.numbers)
        places = self._number_places
        start, end = bisect.bisect_left(places, number.index - 3), bisect.bisect_right(places, number.index + 3)
        for place in places[start:end]:  # only the figures a few words away
            lo, hi = sorted((number.index, place))
            if 0 < hi - lo <= 3 and any(t.text in ("or", "vs", "versus") for t in toks[lo + 1:hi]):
                return True
        return False

    # --- conditions --------------------------------------------------------------------
    def holds(self, cond: Condition) -> tuple[bool, bool]:
        """(found, stated) for one condition."""
        cached = self._held.get(cond)
        if cached is None:
            cached = self._held[cond] = self._holds(cond)
        return cached

    def _holds(self, cond: Condition) -> tuple[bool, bool]:
        if cond.kind == "concept":
            if cond.name not in self.hits:
                return False, False
            hits = self.live(cond.name)
            return bool(hits), any(not self.asked(h) for h in hits)
        if cond.kind == "named":
            # a diagnosis is reported of someone ("pt with pneumonitis") or as news ("new delirium"),
            # and never inside a management question ("ILD grade 1 management")
            hits = self.live(cond.name)
            toks = self.reading.tokens
            return bool(hits), any(
                (self.someone or toks[h.start].clause in self.news_clauses)
                and not self.asked(h) and h.sentence not in self.general_sentences
                for h in hits
            )
        if cond.kind == "absent":
            return not self.live(cond.name), True
        if cond.kind == "asked":
            return bool(self.live(cond.name)), False  # found, and never a report: the alternative is a question
        if cond.kind == "count":
            return self._count(cond)
        if cond.unmet:
            return not self._measure(cond)[0], True
        return self._measure(cond)

    def _count(self, cond: Condition) -> tuple[bool, bool]:
        hits = sorted(self.live(cond.name))
        starts = [h.start for h in hits]
        found = stated = False
        for n in self.reading.numbers:
            if n.unit != "count" or not _OPS[cond.op](n.value, cond.value):
                continue
            sentence = self.reading.tokens[n.index].sentence
            lo, hi = bisect.bisect_left(starts, n.index - 12), bisect.bisect_right(starts, n.index + 12)
            if any(h.sentence == sentence for h in hits[lo:hi]):
                found = True
                stated = stated or not self.hypothetical_threshold(n)
        return found, stated

    def _measure(self, cond: Condition) -> tuple[bool, bool]:
        found = stated = False
        for number, value, unit in self.readings(cond.name):
            threshold = self._threshold(cond, unit)
            if threshold is None:
                continue
            if _OPS[cond.op](round(value, 2), threshold):
                found = True
                tok = self.reading.tokens[number.index]
                # "a fever of 102 last week, went to the ER ... all fine now": a reading seen to and resolved is
                # history ("T 38.0 overnight, now afebrile after paracetamol" is not: nobody has seen it)
                stated = stated or not (self.hypothetical_threshold(number) or tok.clause in self.past_clauses
                                        or tok.sentence in self.resolved_sentences and tok.sentence in self.seen_to_sentences)
        return found, stated

    def _threshold(self, cond: Condition, unit: str) -> float | None:
        if cond.locale_key == "fever":
            return float(self.locale.fever_c) if unit == "c" else round((self.locale.fever_f - 32) * 5 / 9, 2)
        if cond.locale_key == "low_temperature":
            return self.locale.low_temperature_c
        if cond.unit == "mg/dl":
            return cond.value / (18.0 if cond.name == "glucose" else 4.008)
        return cond.value


def check(knowledge: Knowledge, reading: MessageReading, locale: Locale) -> SafetyCheck:
    """Find the red flags a message raises: urgent (stated) or about (asked), most important first."""
    evidence = _Evidence(knowledge, reading, locale)
    urgent: list[RedFlag] = []
    about: list[RedFlag] = []
    folded = reading.folded
    present = evidence.hits.keys()
    has_numbers = bool(reading.numbers)
    for flag in knowledge.red_flags:
        found = stated = False
        advise_only = flag.advise_only or (False,) * len(flag.when)
        for alternative, needs, numeric, advise in zip(flag.when, flag.needs, flag.numeric, advise_only):
            if not (needs <= present) or (numeric and not has_numbers):
                continue  # a concept it needs is absent, or it compares a reading and there is none
            result = _holds(alternative, evidence)
            if advise:
                found = found or bool(result)  # what the label has managed at home first: advice, not alarm
                continue
            if result == "stated":
                found = stated = True
                break
            found = found or result == "asked"
        if not stated and flag.patterns:
            legacy = _legacy(flag, folded, reading, evidence)
            found = found or legacy is not None
            stated = stated or bool(legacy)
        if stated or (found and flag.asked_is_urgent):
            urgent.append(flag)
        elif found:
            about.append(flag)
    urgent.sort(key=lambda f: f.priority)
    about.sort(key=lambda f: f.priority)
    return SafetyCheck(tuple(urgent), tuple(about))


def _holds(alternative: tuple[Condition, ...], evidence: _Evidence) -> str:
    """"stated", "asked" or "" (not found) for one alternative of a flag's rule.

    Stated needs every reading and diagnosis to be stated, and at least one symptom: the
    other concepts are context ("after my infusion" may be in another, past clause), and a
    concept that only names treatments is never the symptom ("Enhertu - why does my onc keep
    asking if I've got a cough?" asks about the cough).
    """
    concept_stated = False
    has_concept = False
    all_stated = True
    names_only = evidence.names_only
    for condition in alternative:
        found, stated = evidence.holds(condition)
        if not found:
            return ""
        if condition.kind == "concept" and condition.name in names_only:
            continue
        if condition.kind == "concept":
            has_concept = True
            concept_stated = concept_stated or stated
        elif condition.kind != "absent":
            all_stated = all_stated and stated
    if all_stated and (concept_stated or not has_concept):
        return "stated"
    return "asked"


def _legacy(flag: RedFlag, folded: str, reading: MessageReading, evidence: _Evidence) -> bool | None:
    """A flag written as regular expressions (older knowledge): None if no match, else stated or not."""
    def live(pattern: re.Pattern[str]) -> bool:
        for m in pattern.finditer(folded):
            token = _token_at(reading, m.start())
            if token is None or not reading.tokens[token].negated:
                return True
        return False

    if not any(live(p) for p in flag.patterns):
        return None
    if flag.requires and not any(live(p) for p in flag.requires):
        return None
    return not evidence.about_message


#: Words that may stand with "confused" in a sentence of its own that only says the writer is puzzled.
_PUZZLED_WORDS = frozenset("confused confus confusing so very really bit a im i am totally complet completely now lol tbh".split())
#: Someone else named in the message ("is she ok? confused" may be about her).
_SOMEONE_ELSE = frozenset("she he her him his hers mum mom mam dad mother father wife husband partner gran nan grandma"
                          " grandad grandpa granny sister brother son daughter friend".split())
#: What a writer is puzzled about: something read, told or named.
_INFORMATION_WORDS = frozenset("test tests tested result results report reports said says told mean means meaning explain"
                               " explained gene genes genetic brca brca1 brca2 scan scans letter doctor oncologist nurse"
                               " chemo chemotherapy immunotherapy treatment drug drugs medicine medicines therapy trial"
                               " hormone her2 type stage tablets tablet pills pill meds medication thought heard read".split())
#: The writer's own puzzlement ("but I thought that was for appetite?? confused"): the someone else named is
#: the subject of what puzzles them, not someone confused.
_OWN_PUZZLEMENT = re.compile(r"\bi (thought|assumed|heard|read|was told|understood)\b")


def _puzzled(reading: MessageReading) -> set[int]:
    """Tokens of a short sentence that only says "confused" right after a question ("...normal?? confused").

    Someone else's confusion names them ("she's confused") and other symptoms name themselves
    ("confused and dizzy"), so such sentences keep their meaning.
    """
    toks = reading.tokens
    if not any(t.stem.startswith("confus") for t in toks):
        return set()  # most messages: nothing to look at
    # "my sister is both and we're confused which matters more": a family is puzzled together, not delirious together
    # "pt confused why it's monthly": confused about a reason is puzzled, whoever is
    out: set[int] = {i for i, t in enumerate(toks) if t.stem.startswith("confus") and (_shared(toks, i) or _about_why(toks, i))}
    words = {t.text for t in toks}
    if (words & _SOMEONE_ELSE and not _OWN_PUZZLEMENT.search(reading.folded)) or not words & _INFORMATION_WORDS:
        return out  # "is she ok? confused" may be about her; puzzlement is about something read or told
    sentences: dict[int, list[int]] = {}
    clauses: dict[int, list[int]] = {}
    for i, t in enumerate(toks):
        sentences.setdefault(t.sentence, []).append(i)
        clauses.setdefault(t.clause, []).append(i)
    for members in sentences.values():
        first = members[0]
        if not _follows(reading, first, "?"):
            continue
        if _only_puzzled(toks, members):
            out.update(members)
            continue
        tail = _puzzled_tail(toks, members)
        if tail and reading.question and any(toks[i].text in _TOLD_WORDS for i in members[: members.index(tail[0])]):
            out.update(tail)  # "...? my onc says it's not chemo but it's a tablet, so I'm a bit confused"
        elif toks[first].stem.startswith("confus") and len(members) > 1 and toks[first + 1].text in _REASON_WORDS:
            out.add(first)  # "...?? confused because enhertu is for her2 low": the reason given is what was read or told
    # "is trodelvy chemo or immunotherapy, i'm confused": said after the question it asks, or after what a
    # report or someone said ("my report says her2 2+ fish negative, confused")
    for members in clauses.values():
        if members[0] > 0 and _only_puzzled(toks, members) and (
                _follows(reading, members[0], ",") or _follows(reading, members[0], "?")) and (
                reading.question or any(t.text in _TOLD_WORDS and t.sentence == toks[members[0]].sentence
                                        for t in toks[: members[0]])):
            out.update(members)
    return out


def _shared(toks: tuple[Token, ...], index: int) -> bool:
    """Whether a "confused" is shared ("we both came out confused", "it confuses everyone", "confused us all"):
    the group is its subject, with nobody else named in between ("we think dad is confused" is about dad)."""
    clause = toks[index].clause
    if any(t.text in _GROUP_WORDS and t.clause == clause for t in toks[index + 1: index + 3]):
        return True
    for j in range(index - 1, max(-1, index - 5), -1):
        word = toks[j].text
        if toks[j].clause != clause or word in _SOMEONE_ELSE:
            return False
        if word in _GROUP_WORDS or (word == "were" and j == index - 1 and (j == 0 or toks[j - 1].text in CLAUSE_WORDS
                                                                           or toks[j - 1].clause != clause)):
            return True  # "we're" folds to "were": after a joining word or at a start it is "we are"
    return False


def _about_why(toks: tuple[Token, ...], index: int) -> bool:
    """"confused why", "confused about why", "confused as to why": puzzled about a reason."""
    after = [t.text for t in toks[index + 1: index + 4] if t.clause == toks[index].clause]
    return after[:1] == ["why"] or after[:2] in (["about", "why"], ["over", "why"]) or after[:3] == ["as", "to", "why"]


#: Words that make the puzzled a group.
_GROUP_WORDS = frozenset("we us everyone everybody".split())


def _follows(reading: MessageReading, index: int, mark: str) -> bool:
    """Whether the text before token ``index`` ends with ``mark`` ("?" or ",")."""
    return reading.folded[: reading.tokens[index].pos].rstrip().endswith(mark)


def _only_puzzled(toks: tuple[Token, ...], members: list[int]) -> bool:
    """A few words that only say the writer is confused ("I'm so confused", "confused lol")."""
    return (len(members) <= 5 and any(toks[i].stem.startswith("confus") for i in members)
            and all(toks[i].stem in _PUZZLED_WORDS or toks[i].text in _PUZZLED_WORDS for i in members))


def _puzzled_tail(toks: tuple[Token, ...], members: list[int]) -> list[int]:
    """The words that end a sentence with "so I'm (a bit) confused": a consequence of what came before."""
    tail: list[int] = []
    for i in reversed(members):
        if toks[i].stem not in _PUZZLED_WORDS and toks[i].text not in _PUZZLED_WORDS:
            break
        tail.insert(0, i)
        if toks[i].text == "so" and len(tail) > 1:
            break
    if not tail or toks[tail[0]].text != "so" or tail[0] == members[0] or len(tail) > 5:
        return []
    return tail if any(toks[i].stem.startswith("confus") for i in tail) else []


#: Words that report what someone said or what was read: the puzzle's source.
_TOLD_WORDS = REPORTING_WORDS | frozenset("tells explained mentioned reckons thought heard read wrote".split())


#: Words that give the reason for puzzlement ("confused because ...", "confused about ...").
_REASON_WORDS = frozenset("because as about by why cos coz since".split())


def _shorthand_suffix(toks: list[Token], i: int) -> bool:
    """Whether an "i" glued to a number ends a drug-class shorthand ("CDK4/6i") rather than naming the writer."""
    prev = toks[i - 1] if i > 0 else None
    return toks[i].text == "i" and prev is not None and prev.kind == "n" and toks[i].pos == prev.pos + len(prev.text)


def _token_at(reading: MessageReading, offset: int) -> int | None:
    """The first token at or after a character offset (tokens are in text order)."""
    i = bisect.bisect_left([t.pos for t in reading.tokens], offset)
    return i if i < len(reading.tokens) else None
