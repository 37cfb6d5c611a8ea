"""How well the bot understands questions: ``mbcbot test --understanding``.

Two measures, reported the way NLU test reports are (per class, with the confusions):

1. **Cross-validation of the aspect classifier** over the knowledge's own aspect phrasings
   (``knowledge/core/aspects.yaml``): stratified k-fold, each phrasing guessed by a model
   fitted without it.
2. **Question files** that judge the reply a user sees, not internal ids. A file is a YAML
   list of questions, each asked in a fresh conversation::

       - id: "drug-07"                 # the part before the first "-" is the category
         audience: clinician           # clinician | patient
         q: "Truqap - generic name and target?"
         kind: [answer]                # the reply kinds accepted (answer, clarify, refusal, fallback, urgent)
         must:                         # every group needs one of its phrases in the reply
           - [capivasertib]
           - [akt]
         must_not: [" mg "]            # none may appear

   Phrases match case-insensitively; a leading or trailing space asks for a word boundary.
   Never copy a question of a held-out file into the phrasings the bot learns from.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .convtest import ScriptFormatError
from .engine import Engine, EngineOptions
from .loader import aspect_rows
from .model import Knowledge
from .replies import Incoming, ReplyKind, headline_kind
from .understanding.aspects import CrossValidation, cross_validate
from .yamlsrc import YamlSyntaxError, read_yaml

KINDS = frozenset(k.value for k in ReplyKind if k is not ReplyKind.DISCLAIMER)


def aspect_cross_validation(knowledge: Knowledge, folds: int = 5) -> CrossValidation:
    """k-fold cross-validation of the aspect classifier over the knowledge's aspect phrasings."""
    rows = aspect_rows(knowledge.aspects, knowledge.lexicon)
    texts = [p for a in knowledge.aspects.values() for p in a.phrasings]
    hints = knowledge.aspect_model.hints if knowledge.aspect_model is not None else {}
    return cross_validate([(label, tagged, text) for (label, tagged), text in zip(rows, texts)], folds, hints)


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    audience: str
    text: str
    kinds: frozenset[str]
    must: tuple[tuple[str, ...], ...]
    must_not: tuple[str, ...]
    file: str

    @property
    def category(self) -> str:
        return self.id.split("-", 1)[0]


@dataclass(slots=True)
class QuestionReport:
    total: Counter = field(default_factory=Counter)
    passed: Counter = field(default_factory=Counter)
    failures: list[tuple[Question, str, list[str]]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(self.passed.values()) / max(1, sum(self.total.values()))


def load_questions(paths: Iterable[Path | str]) -> list[Question]:
    """Read question files (folders: every ``*.yaml`` below them). Raises ScriptFormatError with ``file:line``."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    out: list[Question] = []
    for file in files:
        try:
            doc = read_yaml(file, str(file))
        except (OSError, YamlSyntaxError) as exc:
            raise ScriptFormatError(f"{file}: {exc}") from exc
        if not isinstance(doc, list):
            raise ScriptFormatError(f"{file}:1: a question file is a list of questions")
        for item in doc:
            out.append(_question(item, file))
    return out


def _question(item: Any, file: Path) -> Question:
    where = f"{file}:{getattr(item, 'line', 1)}"
    if not isinstance(item, dict):
        raise ScriptFormatError(f"{where}: each question is a mapping with id, audience, q, kind")
    qid, audience, text, kinds = item.get("id"), item.get("audience"), item.get("q"), item.get("kind")
    if not isinstance(qid, str) or not isinstance(text, str) or not text.strip():
        raise ScriptFormatError(f"{where}: a question needs an 'id' and a non-empty 'q'")
    if audience not in ("clinician", "patient"):
        raise ScriptFormatError(f"{where}: audience must be clinician or patient")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not isinstance(kinds, list) or not kinds or not set(map(str, kinds)) <= KINDS:
        raise ScriptFormatError(f"{where}: kind must list reply kinds ({', '.join(sorted(KINDS))})")
    must = item.get("must") or []
    if not isinstance(must, list) or not all(isinstance(g, list) and g for g in must):
        raise ScriptFormatError(f"{where}: must is a list of phrase groups (lists)")
    must_not = item.get("must_not") or []
    if not isinstance(must_not, list):
        raise ScriptFormatError(f"{where}: must_not is a list of phrases")
    return Question(qid, audience, text, frozenset(map(str, kinds)), tuple(tuple(map(str, g)) for g in must),
                    tuple(map(str, must_not)), str(file))


def _norm(text: str) -> str:
    return " " + " ".join(text.lower().replace("\u2011", "-").replace("\u2013", "-").split()) + " "


def _hit(pattern: str, text: str) -> bool:
    core = re.escape(" ".join(pattern.lower().split()))
    left = r"(?<![a-z0-9])" if pattern.startswith(" ") else ""
    right = r"(?![a-z0-9])" if pattern.endswith(" ") else ""
    return re.search(left + core + right, text) is not None


def run_questions(knowledge: Knowledge, questions: list[Question], options: EngineOptions) -> QuestionReport:
    """Ask each question in a fresh conversation and judge the reply the user would see."""
    engines = {a: Engine(knowledge, EngineOptions(**{**_fields(options), "audience": a})) for a in ("clinician", "patient")}
    report = QuestionReport()
    for q in questions:
        turn = engines[q.audience].step(None, Incoming(text=q.text, audience=q.audience), 0.0)
        shown = [r for r in turn.replies if r.kind is not ReplyKind.DISCLAIMER]
        kind = headline_kind(shown).value
        text = _norm("\n\n".join(r.text for r in shown))
        why = []
        if kind not in q.kinds:
            why.append(f"kind {kind} not in {sorted(q.kinds)}")
        why += [f"missing one of {list(g[:4])}" for g in q.must if not any(_hit(p, text) for p in g)]
        why += [f"contains {p!r}" for p in q.must_not if _hit(p, text)]
        report.total[q.category] += 1
        if why:
            report.failures.append((q, kind, why))
        else:
            report.passed[q.category] += 1
    return report


def _fields(options: EngineOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in options.__dataclass_fields__}
