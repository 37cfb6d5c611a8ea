"""What the knowledge covers: reported by ``mbcbot validate`` and checked by the test suite.

- every drug in the lexicon has side-effect content: a topic of the ``side_effects``
  family, or one asked about side effects in its examples, that names the drug in its
  title, examples or clinician text;
- every seed document (sources whose id starts with ``seed_``) is cited somewhere;
- sources that nothing cites;
- the units matrix: for every drug and core aspect, whether a question finds a unit (the
  drug's own, or its class's), and the units no question can reach;
- the regimen grid: for every subtype and line of therapy, the topics that answer what is
  given there (a topic answering first-line or after-progression questions whose ``applies``
  admits the cell);
- topics whose every source is a seed summary or a patient-education page: a clinical claim
  needs a primary source (guideline, label, trial).
"""

from __future__ import annotations

from dataclasses import dataclass

from .markup import CITATION
from .model import Knowledge
from .routing import BROAD_CLASS, ENTITY_KINDS, lookup
from .text import tokens

SIDE_EFFECTS_FAMILY = "side_effects"
SIDE_EFFECTS_TERM = "term:side_effects"
SEED_PREFIX = "seed_"
#: The aspects every drug should have a unit for (its card, or its class's side-effect topic).
CORE_ASPECTS = ("what", "how_given", "side_effects", "where_fits")
#: The subtypes of the regimen grid, as slot values (a slot left out is unknown: any value fits).
GRID_SUBTYPES: dict[str, dict[str, str]] = {
    "HR+/HER2-": {"hr": "positive", "her2": "negative"},
    "HR+/HER2+": {"hr": "positive", "her2": "positive"},
    "HR-/HER2+": {"hr": "negative", "her2": "positive"},
    "HER2-low": {"her2": "low"},
    "triple-negative": {"hr": "negative", "her2": "negative"},
}
#: The lines of the grid, each with the aspect a regimen question for it asks.
GRID_LINES: dict[str, str] = {"first": "first_line", "second": "after_progression", "later": "after_progression"}
#: Source kinds that cannot carry a clinical claim on their own.
SECONDARY_KINDS = frozenset({"patient_education"})


@dataclass(frozen=True)
class Coverage:
    drugs: dict[str, list[str]]  # drug id -> side-effect topics that cover it
    seeds: dict[str, list[str]]  # seed source id -> what cites it
    uncited_sources: list[str]
    units: dict[str, dict[str, str | None]]  # aspect -> drug id -> the unit a question finds, if any
    unreachable: list[str]  # units whose every entity is a class too broad to choose a unit
    grid: dict[tuple[str, str], list[str]]  # (subtype, line) -> the topics that answer it
    secondary_only: list[str]  # topics citing only seed summaries or patient-education pages

    @property
    def grid_missing(self) -> list[tuple[str, str]]:
        return [cell for cell, topics in self.grid.items() if not topics]

    def grid_lines(self) -> list[str]:
        width = max(len(s) for s in GRID_SUBTYPES)
        rows = [f"regimen grid (subtype x line): {len(self.grid) - len(self.grid_missing)}/{len(self.grid)} cells have a unit"]
        for subtype in GRID_SUBTYPES:
            cells = [f"{line}: {', '.join(self.grid[(subtype, line)]) or 'NONE'}" for line in GRID_LINES]
            rows.append(f"  {subtype:<{width}}  " + "; ".join(cells))
        return rows

    def units_line(self) -> str:
        cells = ", ".join(f"{a} {sum(u is not None for u in d.values())}/{len(d)}" for a, d in self.units.items())
        return f"units (drug x aspect, the drug's own or its class's): {cells}"

    def units_missing(self) -> dict[str, list[str]]:
        return {a: sorted(d for d, u in drugs.items() if u is None) for a, drugs in self.units.items()
                if any(u is None for u in drugs.values())}

    @property
    def drugs_missing(self) -> list[str]:
        return sorted(d for d, topics in self.drugs.items() if not topics)

    @property
    def seeds_missing(self) -> list[str]:
        return sorted(s for s, users in self.seeds.items() if not users)

    def summary(self) -> str:
        covered = len(self.drugs) - len(self.drugs_missing)
        seeds = len(self.seeds) - len(self.seeds_missing)
        return (
            f"coverage: {covered}/{len(self.drugs)} drugs have side-effect content; "
            f"{seeds}/{len(self.seeds)} seed documents cited; {len(self.uncited_sources)} sources cited by nothing"
        )


def coverage(knowledge: Knowledge) -> Coverage:
    drug_ids = sorted({c.id for c in knowledge.lexicon.phrases.values() if c.kind == "drug"})
    names: dict[str, set[str]] = {d: set() for d in drug_ids}
    for phrase, concept in knowledge.lexicon.phrases.items():
        if concept.kind == "drug":
            names[concept.id].add(" ".join(phrase))
    drugs: dict[str, list[str]] = {d.split(":", 1)[1]: [] for d in drug_ids}
    for topic in knowledge.topics.values():
        readings = [knowledge.lexicon.read(tokens(phrase)) for phrase in (topic.title, *topic.examples)]
        about_side_effects = any(c.id == SIDE_EFFECTS_TERM for r in readings for c in r.concepts)
        if topic.family != SIDE_EFFECTS_FAMILY and not about_side_effects:
            continue
        mentioned = {c.id for r in readings for c in r.concepts if c.kind == "drug"}
        text = " ".join(tokens(topic.answer.sources.get("clinician", "")))
        for drug_id, drug_names in names.items():
            if drug_id in mentioned or any(f" {n} " in f" {text} " for n in drug_names):
                drugs[drug_id.split(":", 1)[1]].append(topic.id)
    cited: dict[str, list[str]] = {sid: [] for sid in knowledge.sources}
    for topic in knowledge.topics.values():
        texts = " ".join(topic.answer.sources.values())
        markers = set(CITATION.findall(texts)) | {r.source for r in topic.regulatory}  # shown under the answer
        for source in topic.sources:
            if not markers or source.id in markers:
                cited[source.id].append(topic.id)
    for flag in knowledge.red_flags:
        for source in flag.sources:
            cited[source.id].append(f"red flag {flag.id}")
    for locale in knowledge.locales.values():
        for source in locale.sources:
            cited[source.id].append(f"locale {locale.id}")
    seeds = {sid: users for sid, users in cited.items() if sid.startswith(SEED_PREFIX)}
    units = {a: {d.split(":", 1)[1]: lookup(knowledge, d, a) for d in drug_ids} for a in CORE_ASPECTS if a in knowledge.aspects}
    sizes = knowledge.lexicon.class_size
    unreachable = sorted(t.id for t in knowledge.topics.values()
                         if t.entities and all(sizes.get(e, 0) > BROAD_CLASS for e in t.entities))
    grid = {(subtype, line): _answering(knowledge, slots, line, aspect)
            for subtype, slots in GRID_SUBTYPES.items() for line, aspect in GRID_LINES.items()}
    secondary_only = sorted(t.id for t in knowledge.topics.values()
                            if t.sources and all(s.id.startswith(SEED_PREFIX) or s.kind in SECONDARY_KINDS for s in t.sources))
    return Coverage(drugs, seeds, sorted(sid for sid, users in cited.items() if not users), units, unreachable,
                    grid, secondary_only)


def _answering(knowledge: Knowledge, slots: dict[str, str], line: str, aspect: str) -> list[str]:
    """The topics a regimen question of one grid cell can be answered by (not a site's card)."""
    cell = {**slots, "line": line}
    return sorted(t.id for t in knowledge.topics.values()
                  if aspect in t.aspects and t.applies_to(cell) and all(e.split(":", 1)[0] in ENTITY_KINDS for e in t.entities))
