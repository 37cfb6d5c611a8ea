"""What a question asks about the thing it names: the aspect classifier.

Aspect wording is shared across drugs ("how is X given", "side effects of X"), so a small
linear model learns it from a few dozen phrasings per aspect and applies to every entity.
It reads a message as the lexicon tagged it: a drug name is ``<drug>``, a lexicon term is its
concept id ("term:dose"), so "ibrance dose" and "what dose of letrozole" look alike.

The model is multinomial logistic regression over word and word-pair features, fitted with
plain numpy at load time: the fit is deterministic, takes a few tens of milliseconds for
the bundled phrasings, and needs no model download. Inference is a sum of a few weight
rows and a softmax.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Passes of full-batch gradient descent, its step and the L2 penalty: enough for the
#: loss to settle on a few hundred phrasings (tests/dialogue/test_aspects.py checks the fit).
EPOCHS = 100
STEP = 24.0
L2 = 1e-4


#: Features that only say a drug or class was named, not what is asked about it.
ENTITY_ONLY = frozenset({"<drug>", "<class>", "^<drug>", "^<class>", "<drug> <drug>", "<drug> <class>", "<class> <drug>"})


def features(tagged: Sequence[str], hints: Mapping[str, str] | None = None) -> list[str]:
    """Words, word pairs and the opening words of a tagged message, and the aspects its terms signal."""
    words = [w for w in tagged if w]
    out = list(words)
    if hints:
        out += ["@" + hints[w] for w in words if w in hints]
    out += [f"{a} {b}" for a, b in zip(words, words[1:])]
    if words:
        out.append("^" + words[0])
        if len(words) > 1:
            out.append(f"^{words[0]} {words[1]}")
    return out


@dataclass(frozen=True, slots=True)
class Guess:
    aspect: str
    probability: float


class AspectModel:
    """A fitted aspect classifier: feature weights per aspect."""

    def __init__(
        self, labels: tuple[str, ...], vocabulary: dict[str, int], weights: np.ndarray, bias: np.ndarray,
        hints: Mapping[str, str] | None = None,
    ) -> None:
        self.labels = labels
        self.hints = dict(hints or {})
        self.vocabulary = vocabulary
        self.weights = weights
        self.bias = bias

    @classmethod
    def fit(cls, rows: Iterable[tuple[str, Sequence[str]]], hints: Mapping[str, str] | None = None) -> AspectModel:
        """Fit on (aspect, tagged phrasing) rows; ``hints`` maps a term ("term:nausea") to the aspect it signals."""
        rows = list(rows)
        labels = tuple(sorted({label for label, _ in rows}))
        vocabulary: dict[str, int] = {}
        encoded = []
        for _, tagged in rows:
            ids = sorted({vocabulary.setdefault(f, len(vocabulary)) for f in features(tagged, hints)})
            encoded.append(ids)
        n, v, c = len(rows), len(vocabulary), len(labels)
        x = np.zeros((n, v), dtype=np.float32)  # a few hundred rows: dense is fastest
        for i, ids in enumerate(encoded):
            if ids:
                x[i, ids] = 1.0 / math.sqrt(len(ids))
        y = np.zeros((n, c), dtype=np.float32)
        index = {label: j for j, label in enumerate(labels)}
        for i, (label, _) in enumerate(rows):
            y[i, index[label]] = 1.0
        w = np.zeros((v, c), dtype=np.float32)
        b = np.zeros(c, dtype=np.float32)
        xt = np.ascontiguousarray(x.T)
        for _ in range(EPOCHS):
            grad = (_softmax(x @ w + b) - y) / max(n, 1)
            w -= STEP * (xt @ grad + L2 * w)
            b -= STEP * grad.sum(axis=0)
        return cls(labels, vocabulary, w.astype(np.float32), b.astype(np.float32), hints)

    def guess(self, tagged: Sequence[str], limit: int = 3) -> list[Guess]:
        """The likeliest aspects, best first (empty when no feature of the message is known)."""
        known = [f for f in features(tagged, self.hints) if f in self.vocabulary]
        if not any(f not in ENTITY_ONLY for f in known) or not self.labels:
            return []  # nothing but a drug name: nothing says what is asked about it
        ids = sorted({self.vocabulary[f] for f in known})
        scores = self.weights[ids].sum(axis=0) / math.sqrt(len(ids)) + self.bias
        p = _softmax(scores[None, :].astype(np.float64))[0]
        order = np.argsort(-p)[:limit]
        return [Guess(self.labels[j], float(p[j])) for j in order]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """k-fold accuracy of the classifier over its own phrasings, with the confusions."""

    folds: int
    total: int
    correct: int
    confusions: dict[tuple[str, str], list[str]]  # (expected, guessed) -> phrasings
    per_label: dict[str, tuple[int, int]]  # label -> (correct, total)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def cross_validate(
    rows: Sequence[tuple[str, Sequence[str], str]], folds: int = 5, hints: Mapping[str, str] | None = None,
) -> CrossValidation:
    """Stratified k-fold cross-validation over (aspect, tagged, text) rows, deterministic."""
    by_label: dict[str, list[int]] = {}
    for i, (label, _, _) in enumerate(rows):
        by_label.setdefault(label, []).append(i)
    fold_of = {}
    for members in by_label.values():
        for k, i in enumerate(members):
            fold_of[i] = k % folds
    correct = 0
    confusions: dict[tuple[str, str], list[str]] = {}
    per_label: dict[str, list[int]] = {label: [0, 0] for label in by_label}
    for fold in range(folds):
        train = [(rows[i][0], rows[i][1]) for i in range(len(rows)) if fold_of[i] != fold]
        model = AspectModel.fit(train, hints)
        for i in (i for i in range(len(rows)) if fold_of[i] == fold):
            label, tagged, text = rows[i]
            guesses = model.guess(tagged, 1)
            guessed = guesses[0].aspect if guesses else "(none)"
            per_label[label][1] += 1
            if guessed == label:
                correct += 1
                per_label[label][0] += 1
            else:
                confusions.setdefault((label, guessed), []).append(text)
    return CrossValidation(folds, len(rows), correct, confusions, {k: (v[0], v[1]) for k, v in per_label.items()})
