"""Which topic a message is about: weighted cosine similarity against example phrasings.

Each example phrasing of each topic becomes a sparse vector of concept and word
features weighted by inverse document frequency (over topics). A message is compared
with every example at once through per-feature posting arrays (numpy), so a knowledge
base ten times larger costs little more per turn. A topic scores as its best example.
"""

from __future__ import annotations

import math
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
