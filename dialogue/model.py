"""The compiled knowledge: typed, validated, indexed once at load.

Everything here is immutable after :func:`dialogue.loader.load_knowledge` returns, so one
:class:`Knowledge` can serve every conversation and thread at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .lexicon import Lexicon
    from .matching import LazyContentIndex, TopicIndex
    from .safety import Condition
    from .understanding.concepts import ConceptSet


class Audience(str, Enum):
    """Who is reading: decides the voice of every reply."""

    CLINICIAN = "clinician"
    PATIENT = "patient"


AUDIENCES = tuple(a.value for a in Audience)
REVIEW_STATUSES = ("draft", "in_review", "approved")
SOURCE_KINDS = ("guideline", "drug_label", "trial", "patient_education", "review", "regulatory", "other")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record was written, for error messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Source:
    """A citable document."""

    id: str
    title: str
    publisher: str
    year: int
    url: str
    kind: str


@dataclass(frozen=True, slots=True)
class Review:
    """Clinical review metadata of a piece of content."""

    status: str
    reviewed_on: date
    reviewed_by: str

    @property
    def approved(self) -> bool:
        return self.status == "approved"


#: Where a regulatory status holds, as users read it.
REGIONS: dict[str, str] = {
    "us": "US (FDA)", "eu": "EU (EMA)", "uk": "UK (MHRA)", "ca": "Canada (Health Canada)",
    "au": "Australia (TGA)", "jp": "Japan (PMDA)", "cn": "China (NMPA)",
}
#: A regulatory status, in each voice.
STATUSES: dict[str, dict[str, str]] = {
    "approved": {"clinician": "approved", "patient": "approved"},
    "pending": {"clinician": "under regulatory review, not approved", "patient": "being reviewed, not approved yet"},
    "not_approved": {"clinician": "not approved (investigational)", "patient": "not approved; used only in trials"},
    "withdrawn": {"clinician": "indication withdrawn", "patient": "no longer approved for this"},
    "off_label": {"clinician": "not in the label (off-label use)", "patient": "not officially approved for this, though doctors may use it"},
}
#: Statuses that change as regulators decide: they go stale sooner.
UNSETTLED = frozenset({"pending", "not_approved"})


@dataclass(frozen=True, slots=True)
class Regulatory:
    """A drug's or indication's regulatory status in one region, and when it was last checked."""

    region: str
    status: str
    as_of: date  # the date the status is stated for (day 1 when only the month is known)
    checked_on: date  # when someone last checked it against the source
    source: str
    scope: str = ""  # the indication it is about, when the drug has several ("HER2-low after chemotherapy")
    month_only: bool = True

    @property
    def as_of_text(self) -> str:
        return self.as_of.strftime("%B %Y") if self.month_only else f"{self.as_of.day} {self.as_of.strftime('%B %Y')}"

    def described(self, audience: str) -> dict[str, str]:
        """The values the ``regulatory_line`` message reads."""
        return {"region": REGIONS[self.region], "status": STATUSES[self.status][audience], "scope": self.scope,
                "as_of": self.as_of_text, "cite": f"[[{self.source}]]"}


class Renderable(Protocol):
    """A compiled answer text: a Jinja template, or plain text that needs none."""

    def render(self, *args: Any, **kwargs: Any) -> str: ...


class Voiced:
    """Compiled templates, one per audience, and the slot names they branch on."""

    __slots__ = ("sources", "templates", "variables")

    def __init__(
        self,
        templates: dict[str, Renderable],
        variables: frozenset[str] = frozenset(),
        sources: dict[str, str] | None = None,
    ) -> None:
        self.templates = templates
        self.variables = variables
        self.sources = sources or {}  # the template text as written, for coverage reports

    def render(self, audience: str, context: dict[str, Any]) -> str:
        template = self.templates.get(audience) or next(iter(self.templates.values()))
        text = template.render(context)
        return text if getattr(template, "tidied", False) else tidy(text)  # plain text is tidied once, when loaded


_BLANKS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def tidy(text: str) -> str:
    """Trim a rendered template: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines))


@dataclass(frozen=True, slots=True)
class Topic:
    """One answerable question, in two voices."""

    id: str
    title: str
    family: str
    examples: tuple[str, ...]
    needs: tuple[str, ...]
    sources: tuple[Source, ...]
    review: Review
    related: tuple[str, ...]
    answer: Voiced
    origin: Origin
    #: a unit's ``about``: lexicon concept ids ("drug:palbociclib") and the aspects it answers
    entities: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    #: the slot values the topic is written for ({"her2": ("positive",)}); a person known to
    #: have another value is never served it
    applies: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: the regulatory status of what the topic is about, per region
    regulatory: tuple[Regulatory, ...] = ()

    def applies_to(self, slots: dict[str, str]) -> bool:
        """Whether the topic fits what is known of the person (unknown slots always fit)."""
        return all(slots.get(slot) in (None, "unknown") or slots[slot] in values for slot, values in self.applies)

    @property
    def content_hash(self) -> str:
        """Fingerprint of what a reviewer approves: both answer texts and the sources cited."""
        import hashlib

        parts = [self.answer.sources.get(a, "") for a in sorted(self.answer.sources)] + [s.id for s in self.sources]
        parts += [f"{r.region}:{r.status}:{r.as_of}:{r.scope}" for r in self.regulatory]  # none: the hash of older content stands
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Aspect:
    """What a question asks about an entity ("how it is given"), from a closed set the knowledge defines.

    ``phrasings`` teach the aspect classifier; ``falls_back_to`` names the aspect whose unit
    answers when an entity has no unit for this one (evidence -> where it fits).
    """

    id: str
    label: str
    phrasings: tuple[str, ...]
    falls_back_to: str | None = None
    terms: tuple[str, ...] = ()  # lexicon terms that signal it ("term:nausea")
    overview: str | None = None  # the topic answering it when the question names nothing ("when do people stop treatment?")


@dataclass(frozen=True, slots=True)
class Family:
    """A group of topics, used for menus and coverage."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class SlotValue:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Slot:
    """A fact about the patient that answers may depend on (hr, her2, menopause...)."""

    id: str
    label: str
    values: tuple[SlotValue, ...]
    #: (facts that must hold, value, source id): the value most people with those facts have
    #: ("HR-positive" is mostly HER2-negative). An answer that needs this slot may use it, saying so
    #: and citing the source, instead of asking.
    usually: tuple[tuple[tuple[tuple[str, str], ...], str, str], ...] = ()

    def usual(self, known: dict[str, str]) -> str | None:
        """The value to assume, saying so, given the facts known; None when nothing is usual."""
        entry = self.usual_entry(known)
        return entry[1] if entry else None

    def usual_entry(self, known: dict[str, str]) -> tuple[tuple[tuple[str, str], ...], str, str] | None:
        """The ``usually`` entry (facts, value, source) that the facts known match, if any."""
        return next((entry for entry in self.usually if all(known.get(slot) == wanted for slot, wanted in entry[0])), None)

    def label_of(self, value: str) -> str:
        for v in self.values:
            if v.value == value:
                return v.label
        return value


@dataclass(frozen=True, slots=True)
class Option:
    """A button of a clarifying question, also reachable by typing one of ``accepts``."""

    label: str
    sets: tuple[tuple[str, str], ...]
    goto: str | None
    accepts: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class FlowState:
    id: str
    ask: Voiced
    options: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class Flow:
    """The clarifying questions that fill one or more slots."""

    id: str
    fills: tuple[str, ...]
    start: str
    states: dict[str, FlowState]


@dataclass(frozen=True, slots=True)
class RedFlag:
    """An emergency described in a message: its reply comes before anything else."""

    id: str
    when: tuple[tuple[Condition, ...], ...]  # alternatives, each all of its conditions
    priority: int  # lower comes first when a message raises several
    basis: str  # the clinical basis of its thresholds, for authors
    answer_after: bool  # the question in the same message is still answered after the urgent reply
    asked_is_urgent: bool  # a question about it gets the urgent reply too ("what if I feel suicidal?")
    reply: Voiced
    advice: Voiced
    sources: tuple[Source, ...]
    topic: str | None
    origin: Origin
    patterns: tuple[re.Pattern[str], ...] = ()  # older knowledge: regular expressions
    requires: tuple[re.Pattern[str], ...] = ()
    needs: tuple[frozenset[str], ...] = ()  # per alternative: the concepts it cannot hold without
    numeric: tuple[bool, ...] = ()  # per alternative: it compares a reading
    advise_only: tuple[bool, ...] = ()  # per alternative: "advise:", never the urgent reply on its own


@dataclass(frozen=True, slots=True)
class Locale:
    """Country-specific safety facts: emergency numbers and fever threshold."""

    id: str
    name: str
    emergency_number: str
    crisis_line: str
    fever_c: float
    fever_f: float
    care_team_advice: str
    sources: tuple[Source, ...]
    low_temperature_c: float | None = None  # a temperature below this, with feeling unwell, is urgent too
    poison_line: str = ""  # who to call about an overdose taken by mistake
    places: tuple[str, ...] = ()  # words that name it in a message ("dublin", "ireland"), folded
    support_line: str = ""  # a cancer charity's information and support line: not for emergencies
    advice_line: str = ""  # a public health advice line for what is urgent but not an emergency (NHS 111, 811)
    text_line: str = ""  # a crisis line people can text instead of calling

    def as_context(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "emergency_number": self.emergency_number,
            "crisis_line": self.crisis_line,
            "fever_c": f"{self.fever_c:.1f}",
            "fever_f": f"{self.fever_f:.1f}",
            "low_temperature_c": f"{self.low_temperature_c:.1f}" if self.low_temperature_c else "",
            "poison_line": self.poison_line or self.emergency_number,
            "care_team_advice": self.care_team_advice,
            "support_line": self.support_line,
            "advice_line": self.advice_line,
            "text_line": self.text_line,
        }


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern-triggered reply: a refusal or an out-of-scope answer."""

    id: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...]
    audiences: tuple[str, ...]
    reply: Voiced
    origin: Origin
    _any: Any = field(default=None, init=False, repr=False, compare=False)
    _lift: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # one search per text instead of one per pattern: every message meets every rule
        object.__setattr__(self, "_any", _joined(self.patterns))
        object.__setattr__(self, "_lift", _joined(self.unless))

    def matches(self, audience: str, *texts: str) -> bool:
        """Whether the rule applies to a message given as one or more texts.

        The texts are the message folded for patterns and its typo-corrected words: a pattern may
        match either, and an ``unless`` pattern in either lifts the rule.
        """
        if audience not in self.audiences:
            return False
        found, lift = self._any, self._lift
        return (any(found(t) for t in texts) if found else any(p.search(t) for p in self.patterns for t in texts)) and not (
            any(lift(t) for t in texts) if lift else any(p.search(t) for p in self.unless for t in texts))


def _joined(patterns: tuple[re.Pattern[str], ...]) -> Any:
    """The search of one pattern matching where any of ``patterns`` does (None if they cannot be joined)."""
    if not patterns:
        return lambda text: False
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), patterns[0].flags).search
    except re.error:  # inline global flags or group references: search them one by one
        return None


@dataclass(frozen=True, slots=True)
class Phrases:
    """Compiled plain-phrase triggers for small talk and commands."""

    items: frozenset[tuple[str, ...]]

    def match(self, words: tuple[str, ...]) -> bool:
        return words in self.items


@dataclass(slots=True)
class Knowledge:
    """Everything the engine needs, compiled and validated."""

    sources: dict[str, Source]
    topics: dict[str, Topic]
    families: dict[str, Family]
    slots: dict[str, Slot]
    flows: dict[str, Flow]
    flow_for_slot: dict[str, tuple[str, ...]]  # every flow that can fill a slot, in file order
    red_flags: tuple[RedFlag, ...]
    safety_concepts: ConceptSet
    about_patterns: tuple[re.Pattern[str], ...]
    experiencer_patterns: tuple[re.Pattern[str], ...]
    locales: dict[str, Locale]
    disclaimers: dict[str, str]
    consent_button: str
    consent_accepts: Phrases
    refusals: tuple[Rule, ...]
    out_of_scope: tuple[Rule, ...]
    commands: dict[str, Phrases]
    messages: dict[str, Voiced]
    lexicon: Lexicon
    index: TopicIndex
    content: LazyContentIndex  # built on first use
    directories: tuple[str, ...]
    warnings: list[Any] = field(default_factory=list)
    aspects: dict[str, Aspect] = field(default_factory=dict)
    #: (entity concept id, aspect id) -> the unit (topic id) that answers it
    units: dict[tuple[str, str], str] = field(default_factory=dict)
    #: entity concept id -> the units about it (drugs, classes, and the sites and biomarkers of concept units)
    entity_units: dict[str, frozenset[str]] = field(default_factory=dict)
    aspect_model: Any = None  # dialogue.understanding.aspects.AspectModel, fitted from the aspects' phrasings
    #: unit id -> the lexicon concepts its answers name (filled on first use, see routing.mentions)
    mentions: dict[str, frozenset[str]] = field(default_factory=dict)
    #: a trial's name word -> the drug whose lexicon names include it (filled on first use, see routing.trial_drugs)
    trial_drugs: dict[str, str] | None = None
