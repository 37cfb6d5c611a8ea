"""Named concepts found in a message: words in order with room for inserted words, or words together.

A concept is a list of terms written by clinical authors. A term is either

* a phrase: its words in order, with up to ``MAX_GAP`` other words between each pair
  ("cant breathe" also finds "can't really breathe"), after stemming and typo correction;
  ``=phrase`` allows no words between ("=confused on" is not "confused since yesterday, on");
  ``~word`` is that exact word, not its stem ("~confusing" is not "confused"); or
* parts joined by ``+``: every part in one sentence, in any order, within ``WINDOW`` tokens
  ("leg + numb" finds "both my legs have sort of gone numb"). A part may be ``@name``, another
  concept.

Everything is compiled once at load. Matching a message walks its tokens once per phrase
start, so the cost grows with the message length, never faster: there is no backtracking.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

from ..text import STOPWORDS
from .reading import TEXT_SPEAK, MessageReading, _stem, read_message

_PLAIN = re.compile(r"[a-z]+(?: [a-z]+)*")

MAX_GAP = 2
WINDOW = 12


class Hit(NamedTuple):
    """Where a concept was found: token span, sentence, and whether a negation reaches it."""

    start: int
    end: int  # inclusive
    sentence: int
    neg_by: int  # the negation cue that reaches the hit's first word, or -1

    @property
    def negated(self) -> bool:
        return self.neg_by >= 0


@dataclass(frozen=True, slots=True)
class _Seq:
    items: tuple[str, ...]
    gap: int = MAX_GAP  # other words allowed between two of its words


@dataclass(frozen=True, slots=True)
class _Ref:
    name: str


_Part = "_Seq | _Ref"


class TermError(ValueError):
    """A term that cannot be compiled (the message says why)."""


def parse_term(text: str) -> tuple[_Seq | _Ref, ...]:
    """Compile one author's term into its parts."""
    if not isinstance(text, str) or not text.strip():
        raise TermError("a term must be non-empty text")
    parts: list[_Seq | _Ref] = []
    for raw in text.split("+"):
        raw = raw.strip()
        if not raw:
            raise TermError(f"term {text!r} has an empty part around '+'")
        if raw.startswith("@"):
            name = raw[1:].strip()
            if not name or " " in name:
                raise TermError(f"term {text!r}: '@' must be followed by one concept name")
            parts.append(_Ref(name))
            continue
        exact = raw.startswith("=")
        body = raw[1:] if exact else raw
        if body.startswith("~"):  # "~confusing": this very word, not its stem ("confused")
            word = body[1:].strip().casefold()
            if not word.isalpha():
                raise TermError(f"term {text!r}: '~' must be followed by one word")
            parts.append(_Seq(("~" + word,), 0))
            continue
        if _PLAIN.fullmatch(body):  # most terms are plain words: read them the quick way
            items = tuple(_stem(w) for word in body.split() for w in TEXT_SPEAK.get(word, word).split())
        else:
            reading = read_message(body)
            items = tuple(t.stem for t in reading.tokens if t.kind in ("w", "n", "u"))
            # numbers are exact: "grade 4" must not find "grade 2 is 4"
            exact = exact or any(t.kind == "n" for t in reading.tokens)
        if not items:
            raise TermError(f"term {text!r} has no words")
        parts.append(_Seq(items, 0 if exact else MAX_GAP))
    return tuple(parts)


_INFLECTIONS = frozenset(["", "e", "s", "es", "ed", "d", "ing", "er", "ly", "y"])


@functools.cache
def english_words() -> frozenset[str]:
    """Words of English (the GCIDE dictionary, from the english-words package): never typos.

    Without it "write" would become "writhe" and "fewer" "fever": a typo is a word that is not
    a word. Loaded once per process (about 40 ms).
    """
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["gcide"], lower=True, alpha=True))


_ENDINGS = ("s", "es", "ed", "d", "ing", "er", "est", "ly", "ies", "ied")


def is_english(word: str, words: frozenset[str]) -> bool:
    """``word`` or a plain inflection of it is in the dictionary ("fewer" is "few" + "er")."""
    if word in words:
        return True
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            base = word[: -len(ending)]
            if base in words or base + "e" in words or (ending in ("ies", "ied") and base + "y" in words):
                return True
            if len(base) >= 4 and base[-1] == base[-2] and base[:-1] in words:  # "stopped"
                return True
    return False


class TypoCorrector:
    """Maps a mistyped word to the concept vocabulary word it was meant to be.

    Only words of five letters or more are corrected, only to a word with the same first
    letter, and never a word the knowledge already knows (``guard``) or an English word:
    "fewer" stays "fewer", "write" stays "write".
    """

    _CACHE_LIMIT = 50_000

    def __init__(self, vocabulary: Iterable[str], guard: Iterable[str] = ()) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.guard = frozenset(guard) | STOPWORDS
        buckets: dict[tuple[str, int], list[str]] = {}
        for word in self.vocabulary:
            if len(word) >= 4 and word.isalpha():
                # one edit changes the length by at most one: file each word under its neighbours too
                for size in (len(word) - 1, len(word), len(word) + 1):
                    buckets.setdefault((word[0], size), []).append(word)
        self._buckets = {k: sorted(v) for k, v in buckets.items()}
        #: each word already read and what it was corrected to (itself if nothing): callers on a hot
        #: path look here first and call :meth:`correct` only for new words
        self.settled: dict[str, str] = {}
        self.english = english_words()

    def correct(self, word: str, typed: str = "") -> str:
        """The vocabulary word ``word`` (a stem) was meant to be; ``typed``, the word as written, is never
        corrected when it is English ("debating" stems to "debat", which is not, and is not "desat")."""
        cached = self.settled.get(word)
        if cached is not None:
            return cached
        if typed and typed != word and len(typed) >= 5 and is_english(typed, self.english):
            if len(self.settled) < self._CACHE_LIMIT:
                self.settled[word] = word
            return word
        if (word in self.vocabulary or word in self.guard or len(word) < 5 or not word.isalpha()
                or is_english(word, self.english)):
            if len(self.settled) < self._CACHE_LIMIT:
                self.settled[word] = word
            return word
        if word.endswith("in") and is_english(word + "g", self.english):
            # "swellin", "throbbin", "closin": the "g" dropped as people type and speak
            full = _stem(word + "g")
            if full in self.vocabulary:
                if len(self.settled) < self._CACHE_LIMIT:
                    self.settled[word] = full
                return full
        choices = self._buckets.get((word[0], len(word)), ())
        limit = 1  # two edits turn too many real words into symptoms ("conversion" -> "convulsion")
        best = process.extractOne(word, choices, scorer=OSA.distance, score_cutoff=limit) if choices else None
        fixed = best[0] if best is not None else word
        if fixed != word and word.startswith(fixed) and word[len(fixed):] in _INFLECTIONS:
            fixed = word  # "confuse" is another form of "confus(ed)", not a typo of it: the stem decides
        if len(self.settled) < self._CACHE_LIMIT:
            self.settled[word] = fixed
        return fixed


class ConceptSet:
    """Compiled concepts, matched together against one reading."""

    def __init__(self, terms: dict[str, list[tuple[_Seq | _Ref, ...]]], guard: Iterable[str] = (),
                 names: Iterable[str] = ()) -> None:
        self.terms = terms
        self.order = _dependency_order(terms)
        # concepts that only name treatments (their terms are "@drug:..." or a drug's own names): context
        # for a symptom, never the symptom itself
        # (a word of a name counts: "deruxtecan", "dxd")
        named = {w for name in terms if ":" in name for (seq, *_) in terms[name] if isinstance(seq, _Seq) for w in seq.items}
        for phrase in names:
            try:
                first = parse_term(phrase)[0]
            except TermError:
                continue  # a name the term syntax cannot spell names nothing here
            if isinstance(first, _Seq):
                named.update(first.items)
        self.names_only = frozenset(
            name for name, alternatives in terms.items() if ":" in name or (alternatives and all(
                len(parts) == 1 and (isinstance(parts[0], _Ref) and ":" in parts[0].name
                                     or isinstance(parts[0], _Seq) and named.issuperset(parts[0].items))
                for parts in alternatives)))
        vocabulary: set[str] = set()
        self._starts: dict[str, list[tuple[str, int, int, _Seq]]] = {}  # one-word phrases, by their word
        self._pairs: dict[tuple[str, str], list[tuple[str, int, int, _Seq]]] = {}  # longer ones, by their first two
        # alternatives that are more than one phrase: combined after the phrases are found
        self._complex: list[tuple[str, int, tuple[_Seq | _Ref, ...]]] = []
        for name, alternatives in terms.items():
            for a, parts in enumerate(alternatives):
                if len(parts) > 1 or isinstance(parts[0], _Ref):
                    self._complex.append((name, a, parts))
                for p, part in enumerate(parts):
                    if isinstance(part, _Seq):
                        vocabulary.update(i for i in part.items if not i.startswith("~"))
                        entry = (name, a, p, part)
                        if len(part.items) == 1:
                            self._starts.setdefault(part.items[0], []).append(entry)
                        else:
                            self._pairs.setdefault((part.items[0], part.items[1]), []).append(entry)
        self._firsts = frozenset(k[0] for k in self._pairs)
        seconds: dict[str, set[str]] = {}
        for first, second in self._pairs:
            seconds.setdefault(first, set()).add(second)
        self._seconds = {k: frozenset(v) for k, v in seconds.items()}  # a miss costs no tuple
        # one-word phrases that are a whole term: the concepts a word names directly, and the parts of
        # longer terms it fills (precomputed, so a word costs one look-up)
        direct: dict[str, set[str]] = {}
        part_of: dict[str, list[tuple[str, int, int]]] = {}
        for word, entries in self._starts.items():
            for name, a, p, _ in entries:
                if len(self.terms[name][a]) == 1:
                    direct.setdefault(word, set()).add(name)
                else:
                    part_of.setdefault(word, []).append((name, a, p))
        self._direct = {w: tuple(sorted(v)) for w, v in direct.items()}
        self._part_of = {w: tuple(v) for w, v in part_of.items()}
        self._keys = self._firsts | frozenset(self._starts)  # words a phrase can start with
        # per word a phrase can start with: (concepts it names, whether it is a part of a longer term,
        # words that may follow it): one look-up per word of the message
        self._index = {w: (self._direct.get(w, ()), w in self._part_of, self._seconds.get(w))
                       for w in self._keys if not w.startswith("~")}
        self._raw_keys = frozenset(k[1:] for k in self._starts if k.startswith("~"))
        rank = {name: i for i, name in enumerate(self.order)}
        self._complex.sort(key=lambda c: rank[c[0]])
        # what can make each complex alternative worth trying: its first phrase (a word, or a longer
        # phrase), or its first reference; and where each of its parts' hits will be
        self._by_word: dict[str, list[int]] = {}
        self._by_seq: dict[tuple[str, int, int], list[int]] = {}
        self._by_ref: dict[str, list[int]] = {}
        self._plans: list[tuple[str, tuple[tuple[int, Any], ...]]] = []
        for i, (name, a, parts) in enumerate(self._complex):
            p, first = next(((p, part) for p, part in enumerate(parts) if isinstance(part, _Seq)), (0, parts[0]))
            if isinstance(first, _Seq) and len(first.items) == 1:
                self._by_word.setdefault(first.items[0], []).append(i)
            elif isinstance(first, _Seq):
                self._by_seq.setdefault((name, a, p), []).append(i)
            else:
                self._by_ref.setdefault(first.name, []).append(i)
            self._plans.append((name, tuple(
                (_WORD, part.items[0]) if isinstance(part, _Seq) and len(part.items) == 1
                else (_PHRASE, (name, a, p)) if isinstance(part, _Seq) else (_CONCEPT, part.name)
                for p, part in enumerate(parts))))
        self.corrector = TypoCorrector(vocabulary, guard)

    def __contains__(self, name: str) -> bool:
        return name in self.terms

    def match(self, reading: MessageReading) -> dict[str, list[Hit]]:
        """Every concept found in the message, with where."""
        toks = reading.tokens
        correct = self.corrector.correct
        settled = self.corrector.settled
        # a known word costs one look-up, not a call (a long message has thousands)
        stems = [(settled.get(t[1]) or correct(t[1], t[0])) if t[2] == "w" else t[1] for t in toks]
        n = len(stems)
        index, pairs, new = self._index, self._pairs, _new_hit
        found: dict[str, list[Hit]] = {}  # concept -> hits
        word_hits: dict[str, list[Hit]] = {}  # word -> hits, for the terms it is one part of
        seq_hits: dict[tuple[str, int, int], list[Hit]] = {}  # (concept, alternative, part) -> hits of a phrase
        for i, s in enumerate(stems):
            entry = index.get(s)
            if entry is None:
                continue
            names, is_part, follow = entry
            tok = toks[i]
            sentence, neg_by = tok[4], tok[5]
            if names or is_part:
                hit = new(Hit, (i, i, sentence, neg_by))
                for name in names:
                    bucket = found.get(name)
                    if bucket is None:
                        found[name] = [hit]
                    else:
                        bucket.append(hit)
                if is_part:
                    bucket = word_hits.get(s)
                    if bucket is None:
                        word_hits[s] = [hit]
                    else:
                        bucket.append(hit)
            if follow is not None and not follow.isdisjoint(stems[i + 1:i + 2 + MAX_GAP]):
                # only the phrases whose second word is close enough to follow
                for k in range(i + 1, min(i + 2 + MAX_GAP, n)):
                    if stems[k] not in follow:
                        continue
                    if toks[k][4] != sentence:
                        break
                    for name, a, p, seq in pairs[(s, stems[k])]:
                        end = _match_seq(seq.items, stems, toks, i, seq.gap)
                        if end is not None:
                            _add(seq_hits, (name, a, p), new(Hit, (i, end, sentence, neg_by)))
        raw = self._raw_keys
        if raw and not raw.isdisjoint(t[0] for t in toks):
            self._match_exact(toks, raw, found, word_hits)
        for (name, a, p), hits in seq_hits.items():
            if len(self.terms[name][a]) == 1:
                found.setdefault(name, []).extend(hits)
        by_word, by_seq, by_ref = self._by_word, self._by_seq, self._by_ref
        todo = [i for word in word_hits for i in by_word.get(word, ())]
        todo += [i for key in seq_hits for i in by_seq.get(key, ())]
        todo += [i for name in found for i in by_ref.get(name, ())]
        heapq.heapify(todo)
        done: set[int] = set()
        plans = self._plans
        while todo:
            i = heapq.heappop(todo)
            if i in done:
                continue
            done.add(i)
            name, lookups = plans[i]
            part_hits = []
            for kind, key in lookups:
                hits = (word_hits if kind == _WORD else seq_hits if kind == _PHRASE else found).get(key)
                if not hits:
                    break
                part_hits.append(hits)
            else:
                combined = part_hits[0] if len(part_hits) == 1 else _together(part_hits)
                if combined:
                    is_new = name not in found
                    found.setdefault(name, []).extend(combined)
                    if is_new:
                        for j in by_ref.get(name, ()):
                            heapq.heappush(todo, j)
        return found

    def _match_exact(self, toks: tuple, raw: frozenset[str], found: dict[str, list[Hit]],
                     word_hits: dict[str, list[Hit]]) -> None:
        """"~word" terms: the word exactly as typed, not its stem or its correction (rare)."""
        touched: list[list[Hit]] = []
        for i, tok in enumerate(toks):
            if tok[0] not in raw:
                continue
            word = "~" + tok[0]
            hit = _new_hit(Hit, (i, i, tok[4], tok[5]))
            for name in self._direct.get(word, ()):
                touched.append(found.setdefault(name, []))
                touched[-1].append(hit)
            if word in self._part_of:
                touched.append(word_hits.setdefault(word, []))
                touched[-1].append(hit)
        for bucket in touched:  # back in text order, once each
            bucket[:] = sorted(set(bucket), key=lambda h: (h.start, h.end))


_WORD, _PHRASE, _CONCEPT = 0, 1, 2  # where a part of a longer term finds its hits

_new_hit = tuple.__new__  # a Hit without the named tuple's Python-level constructor


def _add(seq_hits: dict[tuple[str, int, int], list[Hit]], key: tuple[str, int, int], hit: Hit) -> None:
    bucket = seq_hits.get(key)
    if bucket is None:
        seq_hits[key] = [hit]
    elif bucket[-1] != hit:
        bucket.append(hit)


def _match_seq(items: tuple[str, ...], stems: list[str], toks: tuple, i: int, gap: int = MAX_GAP) -> int | None:
    sentence = toks[i].sentence
    j = i
    for item in items[1:]:
        for k in range(j + 1, min(j + 2 + gap, len(stems))):
            if toks[k].sentence != sentence or (not gap and toks[j].kind == "n" and toks[k].clause != toks[j].clause):
                return None  # (a number ends at its clause: "about 3/10, paracetamol" is no "10 paracetamol")
            if stems[k] == item:
                j = k
                break
        else:
            return None
    return j


def _together(part_hits: list[list[Hit]]) -> list[Hit]:
    out: list[Hit] = []
    # each part's hits sorted by start, so the ones near a first-part hit are found by bisection
    indexed = [(sorted(hits, key=lambda h: h.start), None) for hits in part_hits[1:]]
    starts = [[h.start for h in hits] for hits, _ in indexed]
    for first in part_hits[0]:
        chosen = [first]
        for (others, _), keys in zip(indexed, starts):
            lo = bisect.bisect_left(keys, first.start - WINDOW)
            hi = bisect.bisect_right(keys, first.start + WINDOW)
            near = [h for h in others[lo:hi] if h.sentence == first.sentence]
            if not near:
                break
            chosen.append(min(near, key=lambda h: abs(h.start - first.start)))
        else:
            start = min(h.start for h in chosen)
            # a cue that is one of the term's own words ("cant see ... one eye") negates none of its parts
            own = [(h.start, h.end) for h in chosen]
            cue = max((h.neg_by for h in chosen if h.neg_by >= 0 and not any(a <= h.neg_by <= b for a, b in own)), default=-1)
            out.append(Hit(start, max(h.end for h in chosen), first.sentence, cue))
    return out


def _dependency_order(terms: dict[str, list[tuple[_Seq | _Ref, ...]]]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise TermError(f"concepts refer to each other in a circle: {' -> '.join(path + (name,))}")
        state[name] = 1
        for parts in terms.get(name, []):
            for part in parts:
                if isinstance(part, _Ref):
                    if part.name not in terms:
                        raise TermError(f"concept '{name}' refers to unknown concept '@{part.name}'")
                    visit(part.name, path + (name,))
        state[name] = 2
        order.append(name)

    for name in terms:
        visit(name, ())
    return order
