"""Safety corpora: how many emergencies the rules catch, and how many near misses they alarm.

A corpus file holds messages people might send, each marked with what a clinician would
want to happen::

    emergencies:
      - {text: "temp 38.6 after chemo, is that bad?", category: fever, voice: patient, locale: uk}
      - {text: "coughing up blood and can't breathe", category: bleeding, also: [breathing], voice: patient, locale: us}
    near_misses:
      - {text: "what is febrile neutropenia?", near: fever, voice: clinician, locale: us}

An emergency is caught when its message gets an urgent reply for its category (or one
named in ``also``). A near miss is a false alarm when it gets any urgent reply. Each
message is checked as the engine checks a new message, in its own locale (an item without
``locale`` takes the command's locale when one is given). ``near`` names the red flag a
near miss resembles, or ``general``. ``mbcbot test --safety`` prints the figures per
category so that clinical authors see what a change to the rules does.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .convtest import ScriptFormatError
from .engine import MAX_URGENT, SAFETY_SCAN_CHARS  # as the engine shows: a category ranked third is not seen
from .loader import CORPUS_DIR, bundled_knowledge_dir
from .model import Knowledge
from .safety import check
from .understanding.reading import read_message
from .yamlsrc import Located, YamlSyntaxError, read_yaml

VOICES = ("patient", "clinician")
GENERAL = "general"  # a near miss that resembles no red flag in particular
_ITEM_KEYS = {"emergencies": {"text", "category", "also", "voice", "locale"}, "near_misses": {"text", "near", "voice", "locale"}}
#: The corpus that ships with mbcbot, inside the installed ``knowledge`` package (the loader skips it).
BUNDLED_CORPUS = bundled_knowledge_dir() / CORPUS_DIR / "safety"


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    category: str  # the emergency's category, or what a near miss is near to
    accepted: frozenset[str]  # categories that count as caught
    voice: str
    locale: str
    emergency: bool
    where: str  # file:line


@dataclass
class Outcome:
    item: Item
    flags: tuple[str, ...]  # urgent flags raised, most important first

    @property
    def caught(self) -> bool:
        return bool(self.item.accepted & set(self.flags))

    @property
    def alarmed(self) -> bool:
        return bool(self.flags)


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def emergencies(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.item.emergency]

    @property
    def near_misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.item.emergency]

    @property
    def recall(self) -> float:
        e = self.emergencies
        return sum(o.caught for o in e) / len(e) if e else 1.0

    @property
    def false_alarm_rate(self) -> float:
        n = self.near_misses
        return sum(o.alarmed for o in n) / len(n) if n else 0.0

    @property
    def passed(self) -> int:
        """Emergencies caught plus near misses left alone."""
        return sum(o.caught for o in self.emergencies) + sum(not o.alarmed for o in self.near_misses)

    @property
    def failed(self) -> int:
        """Emergencies missed plus near misses alarmed."""
        return len(self.outcomes) - self.passed

    def missed(self) -> list[Outcome]:
        return [o for o in self.emergencies if not o.caught]

    def false_alarms(self) -> list[Outcome]:
        return [o for o in self.near_misses if o.alarmed]

    def lines(self, show: int = 20) -> list[str]:
        """The report as printed: per category and voice, then the first misses and false alarms."""
        per: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        near: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.emergencies:
            cell = per[o.item.category][o.item.voice]
            cell[0] += o.caught
            cell[1] += 1
        for o in self.near_misses:
            near[o.item.category][0] += o.alarmed
            near[o.item.category][1] += 1
        out = [f"{'category':<16} {'patient':>9} {'clinician':>9} {'recall':>7}   {'near misses alarmed':>20}"]
        for cat in sorted(set(per) | set(near)):
            p, c = per[cat]["patient"], per[cat]["clinician"]
            hit, total = p[0] + c[0], p[1] + c[1]
            rec = percent(hit, total, 0) if total else "-"
            nm = near.get(cat)
            out.append(
                f"{cat:<16} {_frac(p):>9} {_frac(c):>9} {rec:>7}   {(_frac(nm) if nm else '-'):>20}"
            )
        e, n = self.emergencies, self.near_misses
        out.append(
            f"emergencies caught: {sum(o.caught for o in e)}/{len(e)} (recall {percent(sum(o.caught for o in e), len(e))}); "
            f"near misses alarmed: {sum(o.alarmed for o in n)}/{len(n)} ({percent(sum(o.alarmed for o in n), len(n))})"
        )
        for o in self.missed()[:show]:
            got = ", ".join(o.flags) or "no urgent reply"
            out.append(f"missed  {o.item.where} [{o.item.category}/{o.item.voice}/{o.item.locale}] got {got}: {o.item.text}")
        for o in self.false_alarms()[:show]:
            out.append(f"alarmed {o.item.where} [{o.item.category}/{o.item.voice}/{o.item.locale}] got {', '.join(o.flags)}: {o.item.text}")
        return out


def _frac(cell: list[int]) -> str:
    return f"{cell[0]}/{cell[1]}" if cell[1] else "-"


def percent(part: int, whole: int, digits: int = 1) -> str:
    """``part/whole`` as a percentage that never rounds to 100% (or 0%) unless it is exactly that:
    825 of 826 emergencies caught is "99.9%", and 2,399 of 2,400 is "99.9%" too, not "100.0%"."""
    if not whole:
        return "-"
    value = 100.0 * part / whole
    step = 10.0 ** -digits
    if part < whole:
        value = min(value, 100.0 - step)
    if part > 0:
        value = max(value, step)
    return f"{value:.{digits}f}%"


def load_corpus(
    paths: Iterable[Path | str], categories: set[str], locales: set[str], default_locale: str | None = None
) -> list[Item]:
    """Read corpus files (or every ``.yaml`` in folders); errors name ``file:line``.

    ``categories`` are the red flag ids and ``locales`` the locale ids of the knowledge the corpus
    is run against; an item without ``locale`` gets ``default_locale`` (none: it is an error).
    """
    paths = list(paths)
    items: list[Item] = []
    problems: list[str] = []
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            raise ScriptFormatError(f"{path}: no such file or folder")
    if not files:
        raise ScriptFormatError("no safety corpus files found in " + ", ".join(str(p) for p in paths))
    for path in files:
        try:
            doc = read_yaml(path, str(path))
        except YamlSyntaxError as exc:
            raise ScriptFormatError(f"{exc.file}:{exc.line}: {exc.message}") from None
        if not isinstance(doc, dict) or not (set(doc) & set(_ITEM_KEYS)):
            problems.append(f"{path}:1: a safety corpus file needs 'emergencies' and/or 'near_misses' lists")
            continue
        for section, body in doc.items():
            if section not in _ITEM_KEYS:
                problems.append(f"{path}:{doc.line_of(section)}: unknown section '{section}' (expected emergencies, near_misses)")
                continue
            if not isinstance(body, list):
                problems.append(f"{path}:{doc.line_of(section)}: {section} must be a list")
                continue
            for rec in body:
                item = _item(rec, section, path, categories, locales, problems, default_locale)
                if item is not None:
                    items.append(item)
    if problems:
        raise ScriptFormatError("\n".join(problems))
    return items


def _item(
    rec: Any, section: str, path: Path, categories: set[str], locales: set[str], problems: list[str],
    default_locale: str | None = None,
) -> Item | None:
    line = getattr(rec, "line", 0)
    where = f"{path}:{line}"
    if not isinstance(rec, dict):
        problems.append(f"{where}: each entry must be a mapping")
        return None

    def at(key: str) -> str:  # the line of one key, for entries written over several lines
        return f"{path}:{rec.line_of(key)}" if isinstance(rec, Located) else where

    if isinstance(rec, Located):
        for key, key_line in rec.duplicates:
            problems.append(f"{path}:{key_line}: key '{key}' appears twice in the same entry")
    unknown = set(rec) - _ITEM_KEYS[section]
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    text, voice, locale = rec.get("text"), rec.get("voice"), rec.get("locale", default_locale)
    emergency = section == "emergencies"
    category = rec.get("category" if emergency else "near")
    also = rec.get("also") or []
    if isinstance(also, str):
        also = [also]
    if not isinstance(also, list) or not all(isinstance(a, str) for a in also):
        problems.append(f"{at('also')}: 'also' must be a list of red flag ids")
        return None
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{at('text')}: 'text' must be non-empty text")
        return None
    if voice not in VOICES:
        problems.append(f"{at('voice')}: 'voice' must be patient or clinician")
        return None
    if locale is None:
        problems.append(f"{where}: 'locale' is required (one of {', '.join(sorted(locales))})")
        return None
    if locale not in locales:
        problems.append(f"{at('locale')}: unknown locale {locale!r} (the knowledge has {', '.join(sorted(locales))})")
        return None
    if not isinstance(category, str):
        problems.append(f"{where}: '{'category' if emergency else 'near'}' is required")
        return None
    if emergency:
        for cat in [category, *also]:
            if cat not in categories:
                problems.append(f"{at('category' if cat == category else 'also')}: unknown category '{cat}' "
                                f"(red flags: {', '.join(sorted(categories))})")
                return None
    elif category not in categories and category != GENERAL:
        problems.append(f"{at('near')}: unknown 'near' '{category}' (a red flag id, or {GENERAL})")
        return None
    return Item(text, category, frozenset([category, *also]), voice, locale, emergency, where)


def run_corpus(knowledge: Knowledge, items: list[Item]) -> Report:
    """Check every item the way the engine does for a new message."""
    report = Report()
    for item in items:
        reading = read_message(item.text, SAFETY_SCAN_CHARS)
        result = check(knowledge, reading, knowledge.locales[item.locale])
        report.outcomes.append(Outcome(item, tuple(f.id for f in result.urgent[:MAX_URGENT])))
    return report


def category_counts(items: list[Item]) -> Counter[tuple[str, str]]:
    return Counter((i.category, i.voice) for i in items if i.emergency)
