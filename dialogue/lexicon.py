"""Words to concepts: drugs, brand names, misspellings, lay terms and slot expressions.

The lexicon is compiled once into a phrase table keyed by token tuples. A message is
read by greedy longest match, after typo correction of the words that are not in the
knowledge's vocabulary (rapidfuzz, optimal string alignment distance: transpositions
like "hromone" count as one edit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .text import NEGATIONS, STOPWORDS
from .understanding.concepts import english_words, is_english


#: Words that may sit inside a phrase without changing it ("feel so sick", "hand and foot").
FILLERS = frozenset({"so", "really", "very", "quite", "bit", "little", "too", "extremely", "awfully", "terribly", "only", "even", "actually",
                     "always", "constantly", "still", "just", "the", "a", "my", "her", "his", "their", "your",
                     "absolute", "absolutely", "total", "totally", "complete", "completely", "utter", "utterly", "pretty", "proper"})

#: Words that put a treatment named after them in the person's history ("after palbo", "progressed on 1L").
HISTORY_WORDS = frozenset({"after", "post", "following", "prog", "progressed", "progression", "progressing", "failed",
                           "failing", "prior"})
#: Words of a line stated as history ("progressed on", read as the stem "progress").
STATED_HISTORY = HISTORY_WORDS | {"progress"}
#: ... and, before a line of treatment, these too: "progressed on 1L palbo" is now at second line.
LINE_HISTORY = HISTORY_WORDS | {"beyond", "past", "previous"}
#: The line a stated past line leads to.
NEXT_LINE = {"first": "second", "second": "later", "later": "later"}

#: The shortest start of a drug name read as that drug ("palbo", "kisq", "letroz").
MIN_PREFIX = 4
#: Starts of drug names that are everyday words too ("ever" is not everolimus).
PREFIX_WORDS = frozenset({"ever", "every", "para", "pros", "carb", "plat", "proc", "elle", "doxy", "fema", "tame",
                          "gems", "cape", "deno", "phar", "pharm", "pharma", "arom", "aroma", "fare", "cycl", "cyclo"})


#: The term an age in years names from ``OLDER_AGE`` on (the knowledge's older and frail people card).
OLDER_AGE_TERM = "term:frailty"
OLDER_AGE, OLDEST_AGE = 75, 110
_AGE = re.compile(r"(\d{2,3})(yo|yrs|yr|y|yof|yom|f|m)?")
#: Terms that set the scene beside an age rather than ask something ("stage 4 at 80").
AGE_SCENE_TERMS = frozenset({"term:metastatic", OLDER_AGE_TERM, "term:performance_status", "term:bone", "term:brain",
                             "term:liver", "term:lung", "term:lymph_nodes", "term:age"})
#: Words before a number that make it someone's age ("mum is 82", "diagnosed at 80", "aged 79").
AGE_BEFORE = frozenset("is at aged age turned turning shes hes im she he mum mom mam mother dad father gran nan grandma"
                       " granny grandmother grandad grandfather patient pt lady woman man".split())
#: ... and after it ("82 year old", "79 yo").
AGE_AFTER = frozenset("year years yr yrs yo".split())
#: Units that make it a measurement, not an age ("at 80 mg", "is 80 kg").
NOT_AGE_AFTER = frozenset("mg mgs kg kgs g ml mmhg bpm percent pct lb lbs min mins minute minutes hour hours day days week"
                          " weeks month months times unit units".split())
#: Readings whose figures are not ages ("her pulse is 82", "calcium at 80").
MEASURE_WORDS = frozenset("pulse heart rate hr bp pressure sats oxygen temp temperature weight weighs calcium glucose sugar"
                          " score count level marker markers ca153 ca2729 neut neuts platelet platelets hb egfr"
                          " creatinine".split())


@dataclass(frozen=True, slots=True)
class Concept:
    """What a phrase means."""

    id: str  # "drug:letrozole", "class:aromatase_inhibitor", "term:side_effects", "slot:hr=positive"
    kind: str  # drug | class | term | slot
    implies: tuple[str, ...] = ()  # weaker concepts that come with it (a drug's class)
    sets: tuple[tuple[str, str], ...] = ()  # slot values it states
    weight: float = 1.0  # how much it says about the topic (patient facts say less than drug names)
    #: a term that names the question even beside a drug: "live vaccines on chemo" asks about vaccines
    leads: bool = False
    #: slot values it makes likely without stating them (a CDK4/6 inhibitor: HR-positive, HER2-negative);
    #: a drug's include its classes' (the loader adds them)
    suggests: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Reading:
    """A message as the lexicon understood it."""

    words: tuple[str, ...]  # every token after typo correction
    concepts: tuple[Concept, ...]  # in order of appearance
    sets: dict[str, str]  # slot values stated in the message (last one wins)
    loose: tuple[str, ...]  # content words no phrase covered
    #: every word, each phrase replaced by what it names: "<drug>", "<class>", "term:dose", "slot:line=first"
    #: (what a question asks reads the same whichever drug it names)
    tagged: tuple[str, ...] = ()
    #: slot values the drugs named make likely ("on letrozole": HR-positive), for slots nothing states;
    #: a slot the drugs disagree on (palbociclib with trastuzumab) is left out
    suggested: dict[str, str] = field(default_factory=dict)

    def features(self) -> dict[str, float]:
        """Weighted features for topic matching."""
        out: dict[str, float] = {}
        for concept in self.concepts:
            weight = concept.weight
            out[concept.id] = max(out.get(concept.id, 0.0), weight)
            for implied in concept.implies:
                out[implied] = max(out.get(implied, 0.0), 0.6)
        for word in self.loose:
            out.setdefault("w:" + word, 1.0)
        return out

    def terms(self) -> list[str]:
        """Every concept (slots aside) and loose word, as often as it occurs: what content matching counts."""
        out = [c.id for c in self.concepts if c.kind != "slot"]
        out += [implied for c in self.concepts if c.kind != "slot" for implied in c.implies]
        return out + ["w:" + word for word in self.loose]


#: How many words (small words aside) after the first of a near pair the second may come ("number" ... "call").
NEAR_REACH = 4


def _near(content: list[str], first: str, second: str) -> bool:
    """Whether ``second`` comes within NEAR_REACH of the message's content words (small words left out:
    "fluid keeps building up in my tummy" is fluid, keep, build, tummy) after ``first``."""
    return any(w == first and second in content[i + 1 : i + 1 + NEAR_REACH] for i, w in enumerate(content))


class Lexicon:
    """The compiled phrase table plus typo correction."""

    _CACHE_LIMIT = 50_000

    def __init__(self, phrases: dict[tuple[str, ...], Concept], near: dict[tuple[str, str], Concept] | None = None) -> None:
        self.phrases = phrases
        #: word pairs that name a term when close together, in order ("a number my sister can call")
        self.near = near or {}
        #: the same pairs by their first word, each with its place in ``near`` (the order they are tried in)
        self._near_firsts: dict[str, list[tuple[int, str, str, Concept]]] = {}
        for at, ((first, second), concept) in enumerate(self.near.items()):
            self._near_firsts.setdefault(first, []).append((at, first, second, concept))
        self.max_len = max((len(p) for p in phrases), default=1)
        self.vocabulary: set[str] = {w for p in phrases for w in p} | {w for pair in self.near for w in pair}
        self._choices: list[str] = []
        self._corrections: dict[str, str] = {}
        self._by_id: dict[str, Concept] = {c.id: c for c in phrases.values()}
        #: how many drugs each class has: "chemotherapy" names a whole family, "CDK4/6 inhibitor" three drugs
        self.class_size: dict[str, int] = {}
        for concept in self._by_id.values():
            if concept.kind == "drug":
                for implied in concept.implies:
                    self.class_size[implied] = self.class_size.get(implied, 0) + 1
        self._prefixes = _name_starts(phrases)
        older = self._by_id.get(OLDER_AGE_TERM)
        #: the older-person term an age names, never leading (see _older_age); None without the term
        self._older = replace(older, leads=False) if older is not None else None
        lengths: dict[str, set[int]] = {}
        for p in phrases:
            if len(p) > 1:
                lengths.setdefault(p[0], set()).add(len(p))
        #: first words of longer phrases -> the lengths of the phrases they start, longest first
        self._starts: dict[str, tuple[int, ...]] = {w: tuple(sorted(ls, reverse=True)) for w, ls in lengths.items()}
        self._refresh()

    def concept(self, concept_id: str) -> Concept | None:
        """The concept with this id ("drug:palbociclib"), if the lexicon has it."""
        return self._by_id.get(concept_id)

    def phrases_of(self, concept_id: str) -> list[tuple[str, ...]]:
        """Every phrase meaning ``concept_id`` or implying it (a class's drugs), longest first."""
        found = [p for p, c in self.phrases.items() if c.id == concept_id or concept_id in c.implies]
        return sorted(found, key=len, reverse=True)

    def add_vocabulary(self, words: set[str]) -> None:
        """Words from topic examples: known, so never "corrected" into something else."""
        self.vocabulary |= words
        self._refresh()

    def _refresh(self) -> None:
        self._choices = sorted(w for w in self.vocabulary if len(w) >= 4 and w.isalpha())
        self._corrections.clear()

    def correct(self, word: str) -> str:
        """The known word a typo was meant to be, or the word itself."""
        # Words under 6 letters are too often real words one letter away from a term
        # ("think" is not "thin"); drug names and their common misspellings are longer.
        if word in self.vocabulary or word in STOPWORDS or len(word) < 6 or not word.isalpha():
            return word
        cached = self._corrections.get(word)
        if cached is not None:
            return cached
        fixed = word
        if is_english(word, english_words()):
            # "extensive" is not "expensive", "climbing" not "clinging": a typo is a word that is not a word
            if len(self._corrections) < self._CACHE_LIMIT:
                self._corrections[word] = word
            return word
        limit = 1 if len(word) < 9 else 2
        best = process.extractOne(word, self._choices, scorer=OSA.distance, score_cutoff=limit)
        # A typo keeps its first letter: "water" is not "later", "treating" is not "sweating".
        if best is not None and best[0][0] == word[0]:
            fixed = best[0]
        if len(self._corrections) < self._CACHE_LIMIT:
            self._corrections[word] = fixed
        return fixed

    def expand(self, word: str) -> str:
        """The drug name a clinician's shortening stands for ("palbo" -> "palbociclib"), or the word."""
        if word in self.vocabulary or word in STOPWORDS:
            return word
        return self._prefixes.get(word, word)

    def text_terms(self, words: list[str]) -> list[str]:
        """The concepts (slots aside) and loose words of the knowledge's own text, as content matching
        counts them (see Reading.terms): longest phrases first, no typo correction, no filler words."""
        out: list[str] = []
        phrases, starts = self.phrases, self._starts
        i, n = 0, len(words)
        while i < n:
            word, size, concept = words[i], 1, None
            if word in starts:
                for length in starts[word]:
                    if length > n - i:
                        continue
                    concept = phrases.get(tuple(words[i : i + length]))
                    if concept is not None:
                        size = length
                        break
            if concept is None:
                concept = phrases.get((word,))
            if concept is not None:
                if concept.kind != "slot":
                    out.append(concept.id)
                    out.extend(concept.implies)
            elif word not in STOPWORDS and not word.isdigit():
                out.append("w:" + word)
            i += size
        return out

    def read(self, words: list[str]) -> Reading:
        """Find the concepts in a tokenised message."""
        fixed = [self.expand(self.correct(w)) for w in words]
        concepts: list[Concept] = []
        sets: dict[str, str] = {}
        loose: list[str] = []
        tagged: list[str] = []
        said: list[int] = []  # where a line was stated by a history phrase
        aged: list[Concept] = []
        i, n = 0, len(fixed)
        while i < n:
            sizes = [size for size in self._starts.get(fixed[i], ()) if size <= n - i]  # only a phrase's first word starts one
            sizes.append(1)
            for size in sizes:
                concept = self.phrases.get(tuple(fixed[i : i + size]))
                if size == 1:
                    # "feel so sick" is "feel sick": one filler word inside a longer phrase
                    concept, size = self._with_filler(fixed, i) or (concept, size)
                if concept is not None:
                    negated = any(w in NEGATIONS for w in fixed[max(0, i - 3) : i])
                    if concept.sets and negated:
                        # "not postmenopausal", "hasn't been through menopause": never guess the
                        # opposite value; leave the slot unstated so the bot asks.
                        concept = replace(concept, sets=())
                    concept = self._line_now(concept, fixed[max(0, i - 3) : i])
                    concepts.append(concept)
                    sets.update(concept.sets)
                    if concept.kind == "slot" and STATED_HISTORY.intersection(fixed[i : i + size]):
                        said.append(len(tagged))  # "progressed on palbo": the line says the drug after it is history
                    tagged.append(f"<{concept.kind}>" if concept.kind in ("drug", "class") else concept.id)
                    i += size
                    break
            else:
                word = fixed[i]
                older = self._older_age(fixed, i)
                if older is not None:
                    aged.append(older)  # after the phrases: the age is the situation, any other term the question
                    tagged.append(older.id)
                    i += 1
                    continue
                if word not in STOPWORDS and not word.isdigit():
                    loose.append(word)
                tagged.append(word)
                i += 1
        if aged and all(c.kind != "term" or c.id in AGE_SCENE_TERMS for c in concepts):
            concepts.append(aged[0])  # "dad is 80 and doesn't want more treatment": the other term is the question
        # (numbers and dose shorthand are no content: "denosumab 120 q4w for bone mets - supplements?")
        content = [w for w in fixed if w not in STOPWORDS and not any(ch.isdigit() for ch in w)] if self.near else []
        present = set(content)
        pairs = sorted(pair for word in present.intersection(self._near_firsts) for pair in self._near_firsts[word])
        for _, first, second, concept in pairs:
            if second in present and all(c.id != concept.id for c in concepts) and _near(content, first, second):
                concepts.append(concept)  # after the phrases, so positions among tagged stay in order
                tagged.append(concept.id)
        for at in reversed(said):
            following = [t for t in tagged[at + 1 : at + 3] if not t.startswith("slot:line=")][:1]  # "progressed on 1L palbo"
            if following and following[0] in ("<drug>", "<class>"):
                tagged.insert(at, "after")
        return Reading(tuple(fixed), tuple(concepts), sets, tuple(loose), tuple(tagged), self._suggested(concepts, sets))

    def _older_age(self, words: list[str], i: int) -> Concept | None:
        """An age of 75 or more stated in years ("mum is 82", "diagnosed at 80", "88 year old", "79yo")
        names the older-person term, as "in her 80s" does; it does not lead a question that names a drug."""
        if self._older is None:
            return None
        m = _AGE.fullmatch(words[i])
        if m is None or not OLDEST_AGE >= int(m.group(1)) >= OLDER_AGE:
            return None
        before, after = words[i - 1] if i else "", words[i + 1] if i + 1 < len(words) else ""
        stated = bool(m.group(2)) or after in AGE_AFTER or (before in AGE_BEFORE and after not in NOT_AGE_AFTER)
        if not stated or MEASURE_WORDS.intersection(words[max(0, i - 3): i]):
            return None
        return self._older

    def _line_now(self, concept: Concept, before: list[str]) -> Concept:
        """A line stated as history ("after 1L", "prog on 2L") puts the question at the next line."""
        line = dict(concept.sets).get("line")
        if line is None or not LINE_HISTORY.intersection(before):
            return concept
        return self._by_id.get(f"slot:line={NEXT_LINE.get(line, line)}", concept)

    @staticmethod
    def _suggested(concepts: list[Concept], stated: dict[str, str]) -> dict[str, str]:
        """Slot values the named drugs and classes agree on, for slots the message does not state."""
        found: dict[str, set[str]] = {}
        for concept in concepts:
            for slot, value in concept.suggests:
                found.setdefault(slot, set()).add(value)
        return {slot: next(iter(values)) for slot, values in found.items() if len(values) == 1 and slot not in stated}

    def _with_filler(self, fixed: list[str], i: int) -> tuple[Concept, int] | None:
        """A phrase of two words or more found at ``i`` with one filler word inside it, and the words it spans."""
        n = len(fixed)
        lengths = [length for length in self._starts.get(fixed[i], ()) if length <= n - i - 1]  # the phrase's own words
        if not lengths:
            return None
        for gap in range(1, lengths[0]):
            if fixed[i + gap] not in FILLERS and not (fixed[i + gap].isdigit() and fixed[i + gap + 1 : i + gap + 2] == ["year"]):
                continue  # (an age is a filler too: "tell my 7 year old" reads as "tell my year old")
            for length in lengths:
                if length <= gap:
                    break
                concept = self.phrases.get(tuple(fixed[i : i + gap] + fixed[i + gap + 1 : i + length + 1]))
                if concept is not None:
                    return concept, length + 1
        return None


def _name_starts(phrases: dict[tuple[str, ...], Concept]) -> dict[str, str]:
    """Starts of one-word drug names (generic or brand) that belong to a single drug: start -> name."""
    names = {p[0]: c.id for p, c in phrases.items() if c.kind == "drug" and len(p) == 1 and len(p[0]) > MIN_PREFIX + 1 and p[0].isalpha()}
    owners: dict[str, set[str]] = {}
    full: dict[str, str] = {}
    for name, drug in sorted(names.items()):
        for n in range(MIN_PREFIX, len(name)):
            start = name[:n]
            owners.setdefault(start, set()).add(drug)
            full.setdefault(start, name)
    return {s: full[s] for s, drugs in owners.items() if len(drugs) == 1 and s not in PREFIX_WORDS and (s,) not in phrases}
