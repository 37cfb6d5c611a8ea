"""Which topic a message is about: weighted cosine similarity against example phrasings.

Each example phrasing of each topic becomes a sparse vector of concept and word
features weighted by inverse document frequency (over topics). A message is compared
with every example at once through per-feature posting arrays (numpy), so a knowledge
base ten times larger costs little more per turn. A topic scores as its best example.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Candidate:
    topic: str
    score: float


class TopicIndex:
    """Posting arrays over the examples of every topic."""

    def __init__(self, examples: list[tuple[str, dict[str, float]]]) -> None:
        self.topic_of: list[str] = [topic for topic, _ in examples]
        topics_with: dict[str, set[str]] = {}
        for topic, features in examples:
            for feature in features:
                topics_with.setdefault(feature, set()).add(topic)
        n_topics = max(len(set(self.topic_of)), 1)
        self.idf: dict[str, float] = {
            f: math.log(1.0 + n_topics / len(ts)) for f, ts in topics_with.items()
        }
        self.unknown_idf = math.log(1.0 + n_topics)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        norms = np.zeros(len(examples))
        for i, (_, features) in enumerate(examples):
            total = 0.0
            for feature, weight in features.items():
                value = weight * self.idf[feature]
                ids, values = postings.setdefault(feature, ([], []))
                ids.append(i)
                values.append(value)
                total += value * value
            norms[i] = math.sqrt(total) or 1.0
        self.postings = {
            f: (np.asarray(ids, dtype=np.int64), np.asarray(vals, dtype=np.float64))
            for f, (ids, vals) in postings.items()
        }
        self.norms = norms
        self.size = len(examples)
        #: features of each topic as a whole, used to carry context into follow-up questions
        self.context: dict[str, dict[str, float]] = {}

    def known(self, feature: str) -> bool:
        return feature in self.idf

    def rank(self, features: dict[str, float], limit: int = 3) -> list[Candidate]:
        """The best topics for a feature vector, best first (empty if nothing overlaps)."""
        if not features or self.size == 0:
            return []
        ids: list[np.ndarray] = []
        values: list[np.ndarray] = []
        norm_sq = 0.0
        for feature, weight in features.items():
            idf = self.idf.get(feature, self.unknown_idf)
            q = weight * idf
            norm_sq += q * q
            posting = self.postings.get(feature)
            if posting is not None:
                ids.append(posting[0])
                values.append(posting[1] * q)
        if not ids:
            return []
        all_ids = np.concatenate(ids) if len(ids) > 1 else ids[0]
        all_values = np.concatenate(values) if len(values) > 1 else values[0]
        dots = np.bincount(all_ids, weights=all_values, minlength=self.size)
        scores = dots / (self.norms * math.sqrt(norm_sq))
        wanted = min(self.size, limit * 8)
        top = np.argpartition(-scores, wanted - 1)[:wanted] if wanted < self.size else np.arange(self.size)
        best: dict[str, float] = {}
        for i in top[np.argsort(-scores[top])]:
            score = float(scores[i])
            if score <= 0.0:
                break
            topic = self.topic_of[i]
            if topic not in best:
                best[topic] = score
                if len(best) == limit:
                    break
        return [Candidate(t, s) for t, s in best.items()]


#: BM25's term-frequency saturation and length normalisation (the usual values).
BM25_K1 = 1.2
BM25_B = 0.75


class ContentIndex:
    """BM25 over what each topic says: its title, examples and answers in both voices.

    Example phrasings cover the ways people were expected to ask; a person who asks in other
    words ("my friends have gone quiet since they found out") still uses the words the answer
    itself is written in. This index is consulted only where the example match cannot decide
    (one candidate weakly matched, several close, or none), and only a clear leader counts.
    """

    def __init__(self, documents: list[tuple[str, dict[str, int]]]) -> None:
        self.topics = [topic for topic, _ in documents]
        n = len(documents)
        frequency: dict[str, int] = {}
        for _, terms in documents:
            for term in terms:
                frequency[term] = frequency.get(term, 0) + 1
        lengths = np.asarray([sum(terms.values()) for _, terms in documents], dtype=np.float64)
        average = float(lengths.mean()) if n else 1.0
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for i, (_, terms) in enumerate(documents):
            scale = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[i] / average)
            for term, tf in terms.items():
                idf = math.log(1.0 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
                ids, values = postings.setdefault(term, ([], []))
                ids.append(i)
                values.append(idf * tf * (BM25_K1 + 1.0) / (tf + scale))
        self.postings = {t: (np.asarray(i, dtype=np.int64), np.asarray(v)) for t, (i, v) in postings.items()}
        self.size = n
        self._position = {topic: i for i, topic in enumerate(self.topics)}

    def known(self, term: str) -> bool:
        return term in self.postings

    def _totals(self, terms: set[str] | frozenset[str]) -> np.ndarray | None:
        """Every topic's BM25 score for the terms (None when no term is known)."""
        found = [self.postings[t] for t in terms if t in self.postings]
        if not found or self.size == 0:
            return None
        return np.bincount(np.concatenate([ids for ids, _ in found]),
                           weights=np.concatenate([values for _, values in found]), minlength=self.size)

    def scores(self, terms: set[str] | frozenset[str], topics: Iterable[str]) -> dict[str, float]:
        """How well each of ``topics`` matches the message's terms (0 for a topic it does not know)."""
        totals = self._totals(terms)
        return {topic: float(totals[self._position[topic]]) if totals is not None and topic in self._position else 0.0
                for topic in topics}

    def rank(self, terms: set[str] | frozenset[str], limit: int = 3) -> list[Candidate]:
        """The topics whose content best matches the message's terms, best first."""
        scores = self._totals(terms)
        if scores is None:
            return []
        order = np.argsort(-scores)[:limit]
        return [Candidate(self.topics[i], float(scores[i])) for i in order if scores[i] > 0.0]


class LazyContentIndex:
    """A ContentIndex built the first time it is asked, once per process (thread-safe).

    Most turns never reach it (the example match decides), and reading every answer costs about a
    quarter of the knowledge's load time, so loading does not pay for it up front.
    """

    def __init__(self, documents: Callable[[], list[tuple[str, dict[str, int]]]]) -> None:
        self._documents = documents
        self._index: ContentIndex | None = None
        self._lock = threading.Lock()

    def built(self) -> ContentIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = ContentIndex(self._documents())
        return self._index

    def known(self, term: str) -> bool:
        return self.built().known(term)

    def rank(self, terms: set[str] | frozenset[str], limit: int = 3) -> list[Candidate]:
        return self.built().rank(terms, limit)

    def scores(self, terms: set[str] | frozenset[str], topics: Iterable[str]) -> dict[str, float]:
        return self.built().scores(terms, topics)

