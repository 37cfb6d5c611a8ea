"""Read knowledge directories, validate every reference, and compile them once.

A knowledge directory holds YAML files (any names, any sub-folders). Each file is a
mapping of sections (``sources``, ``topics``, ``lexicon`` ...; see knowledge/README.md).
Later directories override earlier ones record by record (same ``id``), which is how a
deployment adds local phone numbers or approves content without copying it.

Every problem found is collected as ``file:line: what is wrong``; if any is an error,
:class:`~dialogue.errors.KnowledgeError` is raised with all of them, and nothing runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from .errors import KnowledgeError, Problem
from .lexicon import Concept, Lexicon
from .markup import CITATION
from .matching import LazyContentIndex, TopicIndex
from .understanding.aspects import AspectModel
from .model import (
    AUDIENCES,
    Renderable,
    Aspect,
    REVIEW_STATUSES,
    SOURCE_KINDS,
    Family,
    Flow,
    FlowState,
    Knowledge,
    Locale,
    Option,
    Origin,
    Phrases,
    RedFlag,
    REGIONS,
    STATUSES,
    UNSETTLED,
    Regulatory,
    Review,
    Rule,
    Slot,
    SlotValue,
    Source,
    Topic,
    Voiced,
    tidy,
)
from .text import STOPWORDS, tokens
from .safety import CUE_CONCEPTS, Condition, needs_of, parse_condition
from .understanding.concepts import ConceptSet, TermError, parse_term
from .understanding.patterns import unsafe_reason
from .yamlsrc import Located, YamlSyntaxError, read_yaml

LIST_SECTIONS = (
    "sources", "families", "topics", "reviews", "slots", "flows", "red_flags", "locales",
    "refusals", "out_of_scope", "aspects",
)
MAP_SECTIONS = ("lexicon", "safety", "disclaimers", "messages", "commands")
CORPUS_DIR = "corpus"  # test corpora kept beside the knowledge (safety messages), not knowledge itself
SAFETY_KEYS = ("concepts", "about_patterns", "experiencer_patterns", "negation")
LEXICON_PARTS = ("drugs", "classes", "terms")
REQUIRED_MESSAGES = (
    "fallback", "empty", "too_long", "unknown_button", "stale_button", "reset_done", "greeting",
    "thanks", "help", "menu", "menu_family", "clarify_topic", "confirm_topic", "not_understood",
    "consent_needed", "consent_thanks", "not_approved", "unapproved_banner", "patient_nudge",
    "refusal_general_info", "reviewed_line", "forgotten", "rate_limited",
)
REQUIRED_COMMANDS = ("reset", "help", "greeting", "thanks", "menu")
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MIN_ASPECT_PHRASINGS = 10
PATIENT_DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s?(?:mg|mcg|µg|microgram|milligram|gy)\b", re.IGNORECASE)
#: Slot phrases ("ER+", "postmenopausal") describe the person more than the question.
DEFAULT_SLOT_WEIGHT = 0.5
#: "conversions": the figures a message asks to convert (see understanding/conversions.py), empty otherwise.
TEMPLATE_GLOBALS = frozenset({"locale", "audience", "conversions"})
#: Jinja's markers; a text without any is served as it is (see PlainText).
_TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")
#: Extra names the engine passes to messages (never to topic answers).
MESSAGE_VARIABLES = frozenset({"length", "limit", "family", "title", "status", "reviewed_on", "reviewed_by", "entries",
                               "region", "scope", "as_of", "cite", "fact", "value", "given"})


def bundled_knowledge_dir() -> Path:
    """The knowledge that ships with mbcbot (next to the ``dialogue`` package)."""
    return Path(__file__).resolve().parent.parent / "knowledge"


def _by_entity(units: dict[tuple[str, str], str]) -> dict[str, frozenset[str]]:
    """The units about each entity, indexed once at load."""
    found: dict[str, set[str]] = {}
    for (entity, _), unit in units.items():
        found.setdefault(entity, set()).add(unit)
    return {entity: frozenset(ids) for entity, ids in found.items()}


class PlainText:
    """An answer text with no template syntax, rendered as Jinja would render it (without the final newline)."""

    __slots__ = ("text",)
    tidied = True  # tidied once here, so a render needs no tidying

    def __init__(self, source: str) -> None:
        self.text = tidy(source[:-1] if source.endswith("\n") else source)

    def render(self, *args: Any, **kwargs: Any) -> str:
        return self.text


_DICT_ATTRIBUTES = frozenset(dir(dict))
_SUBSTITUTION = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")


class Substitution:
    """A text whose only template syntax is ``{{ name }}`` or ``{{ name.field }}``, filled in directly.

    Two such lines go with every answer (the review line, the preview banner), and a Jinja render costs
    far more than the substitution itself. A name the context lacks falls back to the Jinja template,
    so the result is always Jinja's.
    """

    __slots__ = ("fallback", "parts")

    def __init__(self, source: str, fallback: jinja2.Template) -> None:
        self.parts = _SUBSTITUTION.split(source[:-1] if source.endswith("\n") else source)  # text, name, text, ...
        self.fallback = fallback

    @staticmethod
    def simple(source: str) -> bool:
        """Whether ``source`` uses no template syntax but plain substitutions."""
        rest = _SUBSTITUTION.sub("", source)
        return rest != source and not _TEMPLATE_SYNTAX.search(rest)

    def render(self, *args: Any, **kwargs: Any) -> str:
        context = dict(*args, **kwargs)
        out = []
        for i, part in enumerate(self.parts):
            if not i % 2:
                out.append(part)
                continue
            value: Any = context
            for name in part.split("."):
                if not isinstance(value, dict) or name not in value or name in _DICT_ATTRIBUTES:
                    return self.fallback.render(context)  # (Jinja reads a dict's own attributes first)
                value = value[name]
            out.append(str(value))
        return "".join(out)


class _Collector:
    """Gathers problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, where: Located | Origin | tuple[str, int], message: str, key: str | None = None) -> None:
        self._add(where, message, key, "error")

    def warn(self, where: Located | Origin | tuple[str, int], message: str, key: str | None = None) -> None:
        self._add(where, message, key, "warning")

    def _add(self, where: Any, message: str, key: str | None, severity: str) -> None:
        if isinstance(where, Located):
            file, line = where.file, where.line_of(key) if key else where.line
        elif isinstance(where, Origin):
            file, line = where.file, where.line
        else:
            file, line = where
        self.problems.append(Problem(file, line, message, severity))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _origin(rec: Located) -> Origin:
    return Origin(rec.file, rec.line)


class _Layers:
    """Records of every section, merged across directories by id."""

    def __init__(self, out: _Collector) -> None:
        self.out = out
        self.lists: dict[str, dict[str, Located]] = {s: {} for s in LIST_SECTIONS}
        self.lexicon: dict[str, dict[str, Located]] = {p: {} for p in LEXICON_PARTS}
        self.maps: dict[str, dict[str, tuple[Any, Located]]] = {s: {} for s in MAP_SECTIONS if s != "lexicon"}
        self.directories: list[str] = []

    def add_directory(self, directory: Path) -> None:
        if not directory.is_dir():
            self.out.error((str(directory), 0), "knowledge directory not found")
            return
        self.directories.append(str(directory))
        seen: dict[tuple[str, str], Located] = {}
        files = sorted(
            p for p in directory.rglob("*")
            if p.suffix in (".yaml", ".yml") and p.is_file() and CORPUS_DIR not in p.relative_to(directory).parts
        )
        for path in files:
            try:
                display = str(path.relative_to(Path.cwd()))
            except ValueError:
                display = str(path)
            try:
                doc = read_yaml(path, display)
            except YamlSyntaxError as exc:
                self.out.error((exc.file, exc.line), exc.message)
                continue
            if doc is None:
                continue
            if not isinstance(doc, Located):
                self.out.error((display, 1), "a knowledge file must be a mapping of sections")
                continue
            self._check_duplicates(doc)
            for section, body in doc.items():
                self._add_section(doc, section, body, seen)

    def _check_duplicates(self, mapping: Any) -> None:
        if isinstance(mapping, Located):
            for key, line in mapping.duplicates:
                self.out.error((mapping.file, line), f"key '{key}' appears twice in the same mapping")
            for value in mapping.values():
                self._check_duplicates(value)
        elif isinstance(mapping, list):
            for item in mapping:
                self._check_duplicates(item)

    def _add_section(self, doc: Located, section: str, body: Any, seen: dict[tuple[str, str], Located]) -> None:
        if section in LIST_SECTIONS:
            self._add_records(doc, section, section, body, self.lists[section], seen)
        elif section == "lexicon":
            if not isinstance(body, Located):
                self.out.error(doc, "lexicon must be a mapping of drugs, classes and terms", section)
                return
            for part, records in body.items():
                if part not in LEXICON_PARTS:
                    self.out.error(body, f"unknown lexicon part '{part}' (expected one of {', '.join(LEXICON_PARTS)})", part)
                    continue
                self._add_records(body, part, f"lexicon.{part}", records, self.lexicon[part], seen)
        elif section in MAP_SECTIONS:
            if not isinstance(body, Located):
                self.out.error(doc, f"{section} must be a mapping", section)
                return
            for key, value in body.items():
                self.maps[section][key] = (value, body)
        else:
            expected = ", ".join(LIST_SECTIONS + MAP_SECTIONS)
            self.out.error(doc, f"unknown section '{section}' (expected one of: {expected})", section)

    def _add_records(
        self, parent: Located, key: str, name: str, body: Any, into: dict[str, Located],
        seen: dict[tuple[str, str], Located],
    ) -> None:
        if not isinstance(body, list):
            self.out.error(parent, f"{name} must be a list", key)
            return
        id_key = "topic" if name == "reviews" else "id"
        for rec in body:
            if not isinstance(rec, Located):
                self.out.error(parent, f"each entry of {name} must be a mapping", key)
                continue
            rid = rec.get(id_key)
            if not isinstance(rid, str) or not rid:
                self.out.error(rec, f"{name} entry has no '{id_key}'")
                continue
            previous = seen.get((name, rid))
            if previous is not None:
                self.out.error(rec, f"duplicate {name} id '{rid}' (first defined at {previous.file}:{previous.line})", id_key)
                continue
            seen[(name, rid)] = rec
            into[rid] = rec
            _check_keys(self.out, rec, name, RECORD_KEYS.get(name, frozenset()))


def _check_keys(out: _Collector, rec: Located, name: str, allowed: frozenset[str]) -> None:
    """Report every key of a mapping that its kind does not have (a typo, most often)."""
    for key in rec:
        if key not in allowed:
            out.error(rec, f"unknown key '{key}' in {name} (expected one of: {', '.join(sorted(allowed))})", key)


#: The keys each kind of record may have: anything else is a typo to report.
RECORD_KEYS: dict[str, frozenset[str]] = {
    "sources": frozenset({"id", "title", "publisher", "year", "url", "kind", "note"}),
    "families": frozenset({"id", "title"}),
    "topics": frozenset({"id", "title", "family", "examples", "needs", "related", "sources", "review", "answer", "about", "applies", "regulatory"}),
    "aspects": frozenset({"id", "label", "falls_back_to", "phrasings", "terms", "overview"}),
    "reviews": frozenset({"topic", "status", "reviewed_on", "reviewed_by", "content_hash"}),
    "slots": frozenset({"id", "label", "values", "weight", "usually"}),
    "flows": frozenset({"id", "fills", "start", "states"}),
    "red_flags": frozenset({"id", "when", "priority", "basis", "answer_after", "asked_is_urgent", "patterns", "requires", "temperature",
                            "reply", "advice", "sources", "topic"}),
    "locales": frozenset({"id", "name", "emergency_number", "crisis_line", "fever_c", "fever_f", "low_temperature_c",
                          "poison_line", "care_team_advice", "sources", "places", "support_line", "advice_line",
                          "text_line"}),
    "refusals": frozenset({"id", "patterns", "unless", "audiences", "reply"}),
    "out_of_scope": frozenset({"id", "patterns", "unless", "audiences", "reply"}),
    "lexicon.drugs": frozenset({"id", "generic", "class", "brands", "also", "misspellings", "suggests"}),
    "lexicon.classes": frozenset({"id", "name", "phrases", "suggests"}),
    "lexicon.terms": frozenset({"id", "phrases", "sets", "leads", "near"}),
}


class _Compiler:
    """Turns merged records into the typed, indexed :class:`Knowledge`."""

    def __init__(self, layers: _Layers, out: _Collector) -> None:
        self.layers = layers
        self.out = out
        self.env = SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, autoescape=False
        )
        self.sources: dict[str, Source] = {}
        self.slots: dict[str, Slot] = {}
        self._compiled: dict[str, tuple[Any, jinja2.Template]] = {}
        self._names_seen: dict[str, frozenset[str]] = {}  # template text -> the names it reads

    # --- small typed getters -------------------------------------------------------
    def text(self, rec: Located, key: str, required: bool = True) -> str:
        value = rec.get(key)
        if value is None:
            if required:
                self.out.error(rec, f"'{key}' is required")
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.out.error(rec, f"'{key}' must be text", key)
            return ""
        return str(value).strip()

    def flag(self, rec: Located, key: str, default: bool) -> bool:
        """An optional true/false key; the default after reporting anything else."""
        value = rec.get(key, default)
        if not isinstance(value, bool):
            self.out.error(rec, f"'{key}' must be true or false", key)
            return default
        return value

    def strings(self, rec: Located, key: str, required: bool = False) -> list[str]:
        value = rec.get(key)
        if value is None:
            if required:
                self.out.error(rec, f"'{key}' is required")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            self.out.error(rec, f"'{key}' must be a list of text", key)
            return []
        return [str(v) for v in value]

    def check_id(self, rec: Located, key: str = "id") -> str:
        rid = str(rec.get(key, ""))
        if not ID_RE.match(rid):
            self.out.error(rec, f"id '{rid}' must be lower-case letters, digits and _ (at most 40, starting with a letter)", key)
        return rid

    def source_refs(self, rec: Located, required: bool) -> tuple[Source, ...]:
        refs = []
        for sid in self.strings(rec, "sources", required=required):
            source = self.sources.get(sid)
            if source is None:
                self.out.error(rec, f"unknown source id '{sid}'", "sources")
            else:
                refs.append(source)
        if required and not refs and "sources" in rec:
            self.out.error(rec, "at least one source is required: no source, no answer", "sources")
        return tuple(refs)

    def patterns(self, rec: Located, key: str, required: bool = False) -> tuple[re.Pattern[str], ...]:
        compiled = []
        for pattern in self.strings(rec, key, required=required):
            try:
                regex = re.compile(pattern)
            except re.error as exc:
                self.out.error(rec, f"invalid pattern {pattern!r}: {exc}", key)
                continue
            unsafe = unsafe_reason(pattern)
            if unsafe:
                self.out.error(rec, f"pattern {pattern!r} refused: {unsafe}", key)
                continue
            compiled.append(regex)
        return tuple(compiled)

    def template(self, source: str, where: Located, key: str, allowed: frozenset[str], audience: str | None) -> jinja2.Template | PlainText | Substitution | None:
        if audience in (None, "patient") and PATIENT_DOSE.search(source):
            self.out.error(where, "the patient voice must not give doses", key)
        if not _TEMPLATE_SYNTAX.search(source):
            # Most answers use no template syntax: compiling them with Jinja is most of the load time.
            self._names_seen[source] = set()
            return PlainText(source)
        compiled = self._compiled.get(source)
        if compiled is None:
            try:
                ast = self.env.parse(source)
            except jinja2.TemplateSyntaxError as exc:
                self.out.error((where.file, where.line_of(key) + (exc.lineno or 1)), f"template error: {exc.message}")
                return None
            # One parse serves the checks and the compiled template; the same text is compiled once.
            compiled = self._compiled[source] = (
                ast, self.env.template_class.from_code(self.env, self.env.compile(ast), self.env.make_globals(None), None))
        ast, template = compiled
        used = _names_read(ast)
        self._names_seen[source] = used
        unknown = sorted(used - allowed)
        for name in unknown:
            self.out.error(where, f"template uses '{name}', which is not a slot or a known name ({', '.join(sorted(allowed))})", key)
        for compare in ast.find_all(nodes.Compare):
            self._check_compare(compare, where, key)
        if unknown:
            return template
        try:
            sample = {name: "x" for name in allowed}
            sample.update({s: None for s in self.slots})
            sample.update({"locale": _DUMMY_LOCALE, "audience": audience or "clinician", "conversions": _DUMMY_CONVERSIONS})
            rendered = template.render(sample)
        except jinja2.UndefinedError as exc:
            self.out.error(where, f"template error: {exc.message}", key)
        except Exception as exc:  # a template must never fail at run time  # noqa: BLE001
            self.out.error(where, f"template fails to render: {exc}", key)
            return template
        if Substitution.simple(source):
            filled = Substitution(source, template)
            if filled.render(sample) == rendered:  # used only where it renders the sample exactly as Jinja does
                return filled
        return template

    def _check_compare(self, compare: nodes.Compare, where: Located, key: str) -> None:
        if not isinstance(compare.expr, nodes.Name) or compare.expr.name not in self.slots:
            return
        slot = self.slots[compare.expr.name]
        allowed = {v.value for v in slot.values}
        for operand in compare.ops:
            consts: list[Any] = []
            if isinstance(operand.expr, nodes.Const):
                value = operand.expr.value
                consts = list(value) if isinstance(value, (tuple, list)) else [value]
            elif isinstance(operand.expr, (nodes.Tuple, nodes.List)):
                consts = [i.value for i in operand.expr.items if isinstance(i, nodes.Const)]
            for value in consts:
                if value is not None and value not in allowed:
                    self.out.error(where, f"slot '{slot.id}' has no value '{value}' (values: {', '.join(sorted(allowed))})", key)

    def voiced(self, rec: Located, key: str, required: bool = True, both: bool = True,
               extra: frozenset[str] = frozenset()) -> Voiced:
        value = rec.get(key)
        allowed = frozenset(self.slots) | TEMPLATE_GLOBALS | extra
        templates: dict[str, Renderable] = {}
        if value is None:
            if required:
                self.out.error(rec, f"'{key}' is required")
            return Voiced({})
        if isinstance(value, str):
            if both:
                self.out.error(rec, f"'{key}' needs a clinician and a patient version", key)
            compiled = self.template(value, rec, key, allowed, None)
            return Voiced({a: compiled for a in AUDIENCES} if compiled else {}, self._slot_names([value]),
                          {a: value for a in AUDIENCES})
        if not isinstance(value, Located):
            self.out.error(rec, f"'{key}' must be text or a mapping of clinician and patient text", key)
            return Voiced({})
        for audience, text in value.items():
            if audience not in AUDIENCES:
                self.out.error(value, f"unknown audience '{audience}' (expected clinician or patient)", audience)
                continue
            if not isinstance(text, str) or not text.strip():
                self.out.error(value, f"the {audience} text must be non-empty text", audience)
                continue
            compiled = self.template(text, value, audience, allowed, audience)
            if compiled:
                templates[audience] = compiled
        missing = [a for a in AUDIENCES if a not in value]
        if both and missing:
            self.out.error(rec, f"'{key}' has no {' or '.join(missing)} version", key)
        return Voiced(templates, self._slot_names([t for t in value.values() if isinstance(t, str)]),
                      {a: t for a, t in value.items() if isinstance(t, str)})

    def _slot_names(self, sources: list[str]) -> frozenset[str]:
        names: set[str] = set()
        for source in sources:
            names |= self._names_seen.get(source, frozenset())
        return frozenset(names & set(self.slots))

    def phrases(self, values: Iterable[str]) -> Phrases:
        return Phrases(frozenset(tuple(tokens(v)) for v in values if tokens(v)))

    # --- sections --------------------------------------------------------------------
    def compile(self) -> Knowledge:
        L = self.layers
        self.sources = {rid: self.source(rec) for rid, rec in L.lists["sources"].items()}
        self.slots = {rid: self.slot(rec) for rid, rec in L.lists["slots"].items()}
        for slot in self.slots.values():
            for when, _, _ in slot.usually:
                for name, value in when:
                    if name not in self.slots or value not in {v.value for v in self.slots[name].values}:
                        self.out.error(L.lists["slots"][slot.id], f"'usually' names unknown fact '{name}: {value}'", "usually")
        families = {rid: Family(self.check_id(rec), self.text(rec, "title")) for rid, rec in L.lists["families"].items()}
        flows = {rid: self.flow(rec) for rid, rec in L.lists["flows"].items()}
        flow_for_slot: dict[str, tuple[str, ...]] = {}
        for flow in flows.values():
            for slot in flow.fills:
                flow_for_slot[slot] = flow_for_slot.get(slot, ()) + (flow.id,)
        aspects = {rid: self.aspect(rec) for rid, rec in L.lists["aspects"].items()}
        for aspect in aspects.values():
            if aspect.falls_back_to and aspect.falls_back_to not in aspects:
                self.out.error(L.lists["aspects"][aspect.id], f"unknown aspect '{aspect.falls_back_to}'", "falls_back_to")
        topics = {rid: self.topic(rec, families, flow_for_slot) for rid, rec in L.lists["topics"].items()}
        for aspect in list(aspects.values()):
            if aspect.overview and aspect.overview not in topics:
                # a deployment or a test may load the aspects without that topic: the aspect then has no overview
                self.out.warn(L.lists["aspects"][aspect.id], f"overview topic '{aspect.overview}' is not loaded; "
                              "questions naming nothing are left to the example matcher", "overview")
                aspects[aspect.id] = replace(aspect, overview=None)
        units = self.units(topics)
        self.apply_reviews(topics)
        for topic in topics.values():
            for rel in topic.related:
                if rel not in topics:
                    self.out.error(topic.origin, f"topic '{topic.id}' lists unknown related topic '{rel}'")
        locales = {rid: self.locale(rec) for rid, rec in L.lists["locales"].items()}
        named: dict[str, str] = {}
        for rid, rec in L.lists["locales"].items():
            for place in locales[rid].places:
                if named.setdefault(place, rid) != rid:
                    self.out.error(rec, f"place '{place}' already names locale '{named[place]}'", "places")
        if not locales:
            self.out.error(("knowledge", 0), "no locales defined (need at least one, with emergency numbers)")
        safety = {k: (v, parent) for k, (v, parent) in L.maps["safety"].items()}
        for key in safety:
            if key not in SAFETY_KEYS:
                self.out.error(safety[key][1], f"unknown safety key '{key}' (expected one of: {', '.join(SAFETY_KEYS)})", key)
        if "negation" in safety:
            self.out.warn(safety["negation"][1], "safety.negation is no longer used: negation is read per clause "
                          "(see knowledge/README.md); remove it", "negation")
        about = self.map_patterns(safety, "about_patterns", required=False)
        experiencer = self.map_patterns(safety, "experiencer_patterns", required=False)
        disclaimers = self.disclaimers()
        messages = self.messages()
        commands = self.commands()
        lexicon = self.lexicon()
        index = self.index(topics, lexicon, aspects)
        content = self.content_index(topics, lexicon)
        aspect_model = self.aspect_model(aspects, lexicon)
        safety_concepts = self.safety_concepts(safety, lexicon)
        red_flags = tuple(self.red_flag(rec, topics, safety_concepts) for rec in L.lists["red_flags"].values())
        consent_button, consent_accepts = self.consent()
        # before the error check: a refusal with a refused or invalid pattern must stop the load,
        # not be kept silently without it
        refusals = tuple(self.rule(rec) for rec in L.lists["refusals"].values())
        out_of_scope = tuple(self.rule(rec) for rec in L.lists["out_of_scope"].values())
        if self.out.errors:
            raise KnowledgeError(self.out.problems)
        return Knowledge(
            sources=self.sources,
            topics=topics,
            families=families,
            slots=self.slots,
            flows=flows,
            flow_for_slot=flow_for_slot,
            red_flags=red_flags,
            safety_concepts=safety_concepts,
            about_patterns=about,
            experiencer_patterns=experiencer,
            locales=locales,
            disclaimers=disclaimers,
            consent_button=consent_button,
            consent_accepts=consent_accepts,
            refusals=refusals,
            out_of_scope=out_of_scope,
            commands=commands,
            messages=messages,
            lexicon=lexicon,
            index=index,
            content=content,
            directories=tuple(L.directories),
            warnings=[p for p in self.out.problems if p.severity == "warning"],
            aspects=aspects,
            units=units,
            entity_units=_by_entity(units),
            aspect_model=aspect_model,
        )

    def aspect(self, rec: Located) -> Aspect:
        phrasings = self.strings(rec, "phrasings", required=True)
        if len(phrasings) < MIN_ASPECT_PHRASINGS:
            self.out.error(rec, f"an aspect needs at least {MIN_ASPECT_PHRASINGS} phrasings to learn from", "phrasings")
        terms = []
        for term in self.strings(rec, "terms"):
            if term not in self.layers.lexicon["terms"]:
                self.out.error(rec, f"unknown lexicon term '{term}'", "terms")
            terms.append("term:" + term)
        return Aspect(
            self.check_id(rec), self.text(rec, "label"), tuple(phrasings), self.text(rec, "falls_back_to", False) or None,
            tuple(terms), self.text(rec, "overview", False) or None,
        )

    def aspect_model(self, aspects: dict[str, Aspect], lexicon: Lexicon) -> AspectModel | None:
        """Fit the aspect classifier on the aspects' phrasings, read as messages are read."""
        if not aspects:
            return None
        hints: dict[str, str] = {}
        for aspect in aspects.values():
            for term in aspect.terms:
                if term in hints:
                    self.out.error(self.layers.lists["aspects"][aspect.id], f"term '{term[5:]}' already signals '{hints[term]}'", "terms")
                hints[term] = aspect.id
        return AspectModel.fit(aspect_rows(aspects, lexicon), hints)

    def units(self, topics: dict[str, Topic]) -> dict[tuple[str, str], str]:
        """Index the units by (entity, aspect); two units answering the same pair is an error."""
        units: dict[tuple[str, str], str] = {}
        for topic in topics.values():
            for entity in topic.entities:  # a topic with aspects but no entity is not looked up
                for aspect in topic.aspects:
                    other = units.get((entity, aspect))
                    if other is not None:
                        name = entity.partition(":")[2]
                        self.out.error(topic.origin, f"unit '{topic.id}' answers {aspect} of '{name}', as '{other}' already does")
                        continue
                    units[(entity, aspect)] = topic.id
        return units

    def source(self, rec: Located) -> Source:
        kind = self.text(rec, "kind")
        if kind and kind not in SOURCE_KINDS:
            self.out.error(rec, f"source kind '{kind}' is not one of {', '.join(SOURCE_KINDS)}", "kind")
        year = rec.get("year")
        if not isinstance(year, int) or not 1900 <= year <= 2100:
            self.out.error(rec, "'year' must be a four-digit year", "year")
            year = 0
        url = self.text(rec, "url")
        if url and not url.startswith(("https://", "http://")):
            self.out.error(rec, "'url' must start with https:// or http://", "url")
        return Source(self.check_id(rec), self.text(rec, "title"), self.text(rec, "publisher"), year, url, kind)

    def slot(self, rec: Located) -> Slot:
        values = []
        raw = rec.get("values")
        if not isinstance(raw, list) or not raw:
            self.out.error(rec, "a slot needs a list of 'values'")
            raw = []
        for item in raw:
            if not isinstance(item, Located) or not isinstance(item.get("value"), str):
                self.out.error(rec, "each slot value needs 'value' (text)", "values")
                continue
            values.append(SlotValue(item["value"], str(item.get("label", item["value"]))))
        if not any(v.value == "unknown" for v in values):
            values.append(SlotValue("unknown", "not known"))
        known = {v.value for v in values}
        usually = []
        for item in rec.get("usually") or []:
            when = item.get("when") if isinstance(item, Located) else None
            value = item.get("value") if isinstance(item, Located) else None
            source = item.get("source") if isinstance(item, Located) else None
            if not isinstance(when, Located) or not when or value not in known - {"unknown"} or not isinstance(source, str):
                self.out.error(rec, "each 'usually' entry needs 'when' (slot: value), 'value' (one of the slot's values) "
                               "and 'source' (the source id that says so)", "usually")
                continue
            if source not in self.sources:
                self.out.error(rec, f"'usually' cites unknown source id '{source}'", "usually")
            usually.append((tuple((str(k), str(v)) for k, v in when.items()), str(value), source))
        return Slot(self.check_id(rec), self.text(rec, "label"), tuple(values), tuple(usually))

    def slot_sets(self, rec: Located, key: str) -> tuple[tuple[str, str], ...]:
        value = rec.get(key)
        if value is None:
            return ()
        if not isinstance(value, Located):
            self.out.error(rec, f"'{key}' must be a mapping of slot: value", key)
            return ()
        pairs = []
        for slot_id, slot_value in value.items():
            slot = self.slots.get(slot_id)
            if slot is None:
                self.out.error(value, f"unknown slot '{slot_id}'", slot_id)
            elif str(slot_value) not in {v.value for v in slot.values}:
                self.out.error(value, f"slot '{slot_id}' has no value '{slot_value}'", slot_id)
            else:
                pairs.append((slot_id, str(slot_value)))
        return tuple(pairs)

    def flow(self, rec: Located) -> Flow:
        fid = self.check_id(rec)
        fills = self.strings(rec, "fills", required=True)
        for slot in fills:
            if slot not in self.slots:
                self.out.error(rec, f"flow fills unknown slot '{slot}'", "fills")
        start = self.text(rec, "start")
        states: dict[str, FlowState] = {}
        raw_states = rec.get("states")
        if not isinstance(raw_states, list) or not raw_states:
            self.out.error(rec, "a flow needs a list of 'states'")
            raw_states = []
        state_recs: dict[str, Located] = {}
        for srec in raw_states:
            if not isinstance(srec, Located) or not isinstance(srec.get("id"), str):
                self.out.error(rec, "each flow state needs an 'id'", "states")
                continue
            if srec["id"] in state_recs:
                self.out.error(srec, f"duplicate state id '{srec['id']}' in flow '{fid}'", "id")
                continue
            state_recs[srec["id"]] = srec
        for sid, srec in state_recs.items():
            options = []
            raw_options = srec.get("options")
            if not isinstance(raw_options, list):
                raw_options = []
            for orec in raw_options:
                if not isinstance(orec, Located):
                    self.out.error(srec, "each option must be a mapping", "options")
                    continue
                goto = orec.get("goto")
                if goto is not None and goto not in state_recs:
                    self.out.error(orec, f"option goes to unknown state '{goto}'", "goto")
                sets = self.slot_sets(orec, "set")
                if goto is None and not sets:
                    self.out.error(orec, "an option must 'set' a slot or 'goto' another state")
                label = self.text(orec, "label")
                if len(label) > 60:
                    self.out.error(orec, "a button label must be at most 60 characters", "label")
                accepts = tuple(tuple(tokens(a)) for a in self.strings(orec, "accepts") + [label] if tokens(a))
                options.append(Option(label, sets, goto, accepts))
            states[sid] = FlowState(sid, self.voiced(srec, "ask"), tuple(options))
        if start not in states:
            self.out.error(rec, f"start state '{start}' is not one of the flow's states", "start")
        else:
            self._check_graph(fid, start, states, state_recs)
        return Flow(fid, tuple(fills), start, states)

    def _check_graph(self, fid: str, start: str, states: dict[str, FlowState], recs: dict[str, Located]) -> None:
        reachable, todo = {start}, [start]
        while todo:
            for option in states[todo.pop()].options:
                if option.goto in states and option.goto not in reachable:
                    reachable.add(option.goto)
                    todo.append(option.goto)
        for sid in states:
            if sid not in reachable:
                self.out.error(recs[sid], f"flow '{fid}': state '{sid}' cannot be reached from '{start}'")
        # A way out exists when some option ends the flow, directly or through other states.
        ends = {sid for sid, s in states.items() if any(o.goto is None for o in s.options)}
        changed = True
        while changed:
            changed = False
            for sid, s in states.items():
                if sid not in ends and any(o.goto in ends for o in s.options):
                    ends.add(sid)
                    changed = True
        for sid in states:
            if sid not in ends:
                self.out.error(recs[sid], f"flow '{fid}': state '{sid}' has no way out (no option ever ends the flow)")

    def topic(self, rec: Located, families: dict[str, Family], flow_for_slot: dict[str, tuple[str, ...]]) -> Topic:
        tid = self.check_id(rec)
        entities, aspects = self.about(rec)
        family = self.text(rec, "family", required=not aspects)
        if family and family not in families:
            self.out.error(rec, f"unknown family '{family}'", "family")
        needs = self.strings(rec, "needs")
        for slot in needs:
            if slot not in self.slots:
                self.out.error(rec, f"unknown slot '{slot}'", "needs")
            elif slot not in flow_for_slot:
                self.out.error(rec, f"slot '{slot}' is needed but no flow asks for it", "needs")
        examples = self.strings(rec, "examples", required=not aspects)
        if not examples and not aspects:
            self.out.error(rec, "a topic needs at least one example phrasing (or an 'about' that says what it answers)", "examples")
        review = self.review(rec.get("review"), rec)
        listed = set(self.strings(rec, "sources"))
        answer = rec.get("answer")
        texts = answer.values() if isinstance(answer, Located) else [answer] if isinstance(answer, str) else []
        for text in texts:
            for cited in CITATION.findall(text if isinstance(text, str) else ""):
                if cited not in listed:
                    self.out.error(rec, f"answer cites [[{cited}]], which is not in the topic's sources", "answer")
        return Topic(
            id=tid,
            title=self.text(rec, "title"),
            family=family,
            examples=tuple(examples),
            needs=tuple(needs),
            sources=self.source_refs(rec, required=True),
            review=review,
            related=tuple(self.strings(rec, "related")),
            answer=self.voiced(rec, "answer"),
            origin=_origin(rec),
            entities=entities,
            aspects=aspects,
            applies=self.applies(rec),
            regulatory=self.regulatory(rec, listed),
        )

    def regulatory(self, rec: Located, listed: set[str]) -> tuple[Regulatory, ...]:
        """``regulatory: [{region, status, as_of, checked_on, source, for}]``: structured approval status."""
        value = rec.get("regulatory")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.out.error(rec, "'regulatory' must be a list of {region, status, as_of, checked_on, source}", "regulatory")
            return ()
        out = []
        for entry in value:
            if not isinstance(entry, Located):
                self.out.error(rec, "each regulatory entry must be a mapping: region, status, as_of, checked_on, source", "regulatory")
                continue
            _check_keys(self.out, entry, "regulatory", REGULATORY_KEYS)
            region, status, source = (self.text(entry, k) for k in ("region", "status", "source"))
            if region not in REGIONS:
                self.out.error(entry, f"unknown region '{region}' (expected one of: {', '.join(REGIONS)})", "region")
            if status not in STATUSES:
                self.out.error(entry, f"unknown regulatory status '{status}' (expected one of: {', '.join(STATUSES)})", "status")
            if source and source not in listed:
                self.out.error(entry, f"regulatory source '{source}' is not in the topic's sources", "source")
            as_of, month_only = self.calendar_date(entry, "as_of", months=True)
            checked_on, _ = self.calendar_date(entry, "checked_on")
            if as_of > checked_on:
                self.out.error(entry, f"as_of {as_of:%Y-%m} is after checked_on {checked_on}: a status cannot be stated before it was checked", "as_of")
            if region in REGIONS and status in STATUSES:
                out.append(Regulatory(region, status, as_of, checked_on, source, self.text(entry, "for", required=False) or "", month_only))
        return tuple(out)

    def calendar_date(self, rec: Located, key: str, months: bool = False) -> tuple[date, bool]:
        """A required date no later than today (``YYYY-MM-DD``, or ``YYYY-MM`` with ``months``), and
        whether only its month was given; ``date.min`` after reporting a missing or malformed one."""
        text = self.text(rec, key)
        try:
            if months and re.fullmatch(r"\d{4}-\d{2}", text):
                found, month_only = date.fromisoformat(text + "-01"), True
            else:
                found, month_only = date.fromisoformat(text), False
        except ValueError:
            if text:
                shape = "YYYY-MM or YYYY-MM-DD" if months else "YYYY-MM-DD"
                self.out.error(rec, f"{key} '{text}' is not a date ({shape})", key)
            return date.min, False
        if found > date.today():
            self.out.error(rec, f"{key} {found} is in the future", key)
        return found, month_only

    def applies(self, rec: Located) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``applies: {her2: [positive]}``: the slot values a topic is written for."""
        value = rec.get("applies")
        if value is None:
            return ()
        if not isinstance(value, Located):
            self.out.error(rec, "'applies' must be a mapping of slot to its values", "applies")
            return ()
        out = []
        for slot in value:
            if slot not in self.slots:
                self.out.error(value, f"unknown slot '{slot}' in applies", slot)
                continue
            known = {v.value for v in self.slots[slot].values}
            values = self.strings(value, slot, required=True)
            for v in values:
                if v not in known:
                    self.out.error(value, f"slot '{slot}' has no value '{v}' (values: {', '.join(sorted(known))})", slot)
            out.append((slot, tuple(values)))
        return tuple(out)

    def about(self, rec: Located) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A unit's ``about``: the lexicon concepts it is about and the aspects of them it answers."""
        about = rec.get("about")
        if about is None:
            return (), ()
        if not isinstance(about, Located):
            self.out.error(rec, "'about' must be a mapping with 'entities' and 'aspects'", "about")
            return (), ()
        for key in about:
            if key not in ("entities", "aspects"):
                self.out.error(about, f"unknown key '{key}' in about (expected entities, aspects)", key)
        entities = []
        lex = self.layers.lexicon
        for name in self.strings(about, "entities"):
            slot, _, value = name.partition("=")
            if value:  # a slot value: "mutation=esr1", "her2=low"
                if slot not in self.slots or value not in {v.value for v in self.slots[slot].values}:
                    self.out.error(about, f"unknown entity '{name}' (a slot and one of its values)", "entities")
                    continue
                entities.append(f"slot:{name}")
                continue
            kind = next((k for k, part in (("drug", "drugs"), ("class", "classes"), ("term", "terms")) if name in lex[part]), None)
            if kind is None:
                self.out.error(about, f"unknown entity '{name}' (a lexicon drug, class or term id, or slot=value)", "entities")
                continue
            entities.append(f"{kind}:{name}")
        aspects = self.strings(about, "aspects", required=True)
        for aspect in aspects:
            if aspect not in self.layers.lists["aspects"]:
                known = ", ".join(self.layers.lists["aspects"])
                self.out.error(about, f"unknown aspect '{aspect}' (expected one of: {known})", "aspects")
        return tuple(entities), tuple(aspects)

    def review(self, value: Any, parent: Located) -> Review:
        if not isinstance(value, Located):
            self.out.error(parent, "'review' is required: status, reviewed_on, reviewed_by", "review")
            return Review("draft", date.min, "")
        status = self.text(value, "status")
        if status and status not in REVIEW_STATUSES:
            self.out.error(value, f"review status '{status}' is not one of {', '.join(REVIEW_STATUSES)}", "status")
        reviewed_on, _ = self.calendar_date(value, "reviewed_on")
        return Review(status or "draft", reviewed_on, self.text(value, "reviewed_by"))

    def apply_reviews(self, topics: dict[str, Topic]) -> None:
        for tid, rec in self.layers.lists["reviews"].items():
            topic = topics.get(tid)
            if topic is None:
                self.out.error(rec, f"review for unknown topic '{tid}'", "topic")
                continue
            pinned = rec.get("content_hash")
            if pinned is not None and str(pinned) != topic.content_hash:
                # The topic changed after it was approved: the approval no longer applies.
                self.out.warn(rec, f"review of '{tid}' was for other content (hash {pinned}, now {topic.content_hash}); "
                                   f"the topic keeps status '{topic.review.status}' until it is reviewed again", "content_hash")
                continue
            topics[tid] = Topic(**{**{f: getattr(topic, f) for f in Topic.__slots__}, "review": self.review(rec, rec)})

    def red_flag(self, rec: Located, topics: dict[str, Topic], concepts: ConceptSet) -> RedFlag:
        topic = rec.get("topic")
        if topic is not None and topic not in topics:
            self.out.error(rec, f"unknown topic '{topic}'", "topic")
        patterns = self.patterns(rec, "patterns")
        known = set(concepts.terms)
        when: list[tuple[Condition, ...]] = []
        advise_only: list[bool] = []
        for text in self.strings(rec, "when"):
            advise, text = _advise_prefix(text)
            try:
                when.append(tuple(parse_condition(part, known) for part in text.split("&")))
                advise_only.append(advise)
            except ValueError as exc:
                self.out.error(rec, f"when: {exc}", "when")
        if rec.get("temperature"):  # older knowledge: "temperature: true"
            when.append((Condition("measure", "temperature", ">=", 0.0, "", "fever"),))
            advise_only.append(False)
        if not rec.get("when") and not rec.get("patterns") and not rec.get("temperature"):  # not: one that did not compile
            self.out.error(rec, "a red flag needs 'when' (conditions on concepts and readings) or 'patterns'")
        priority = rec.get("priority", 100)
        if not isinstance(priority, int) or isinstance(priority, bool):
            self.out.error(rec, "'priority' must be a whole number (lower comes first)", "priority")
            priority = 100
        answer_after, asked_is_urgent = self.flag(rec, "answer_after", True), self.flag(rec, "asked_is_urgent", False)
        plans = [needs_of(alt) for alt in when]
        return RedFlag(
            id=self.check_id(rec),
            when=tuple(when),
            priority=priority,
            basis=self.text(rec, "basis", required=False),
            answer_after=answer_after,
            asked_is_urgent=asked_is_urgent,
            reply=self.voiced(rec, "reply"),
            advice=self.voiced(rec, "advice"),
            sources=self.source_refs(rec, required=True),
            topic=topic,
            origin=_origin(rec),
            patterns=patterns,
            requires=self.patterns(rec, "requires"),
            needs=tuple(need for need, _ in plans),
            numeric=tuple(numeric for _, numeric in plans),
            advise_only=tuple(advise_only),
        )

    def safety_concepts(self, safety: dict[str, tuple[Any, Located]], lexicon: Lexicon) -> ConceptSet:
        """Compile ``safety.concepts``: each name a list of terms (see :mod:`dialogue.understanding.concepts`)."""
        value, parent = safety.get("concepts", (None, None))
        if not isinstance(value, Located):
            where = parent if parent is not None else ("safety", 0)
            self.out.error(where, "safety.concepts is required: a mapping of concept names to lists of terms", "concepts")
            return ConceptSet({})
        terms: dict[str, list[Any]] = {}
        wanted_refs: set[str] = set()
        for name, items in value.items():
            if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_]*$", name):
                self.out.error(value, f"concept name {name!r} must be lower-case letters, digits and _", str(name))
                continue
            if isinstance(items, str):
                items = [items]
            if not isinstance(items, list) or not items:
                self.out.error(value, f"concept '{name}' must be a list of terms", name)
                continue
            compiled = []
            for item in items:
                try:
                    parts = parse_term(str(item))
                except TermError as exc:
                    self.out.error(value, f"concept '{name}': {exc}", name)
                    continue
                wanted_refs.update(p.name for p in parts if hasattr(p, "name") and ":" in p.name)
                compiled.append(parts)
            terms[name] = compiled
        for ref in wanted_refs:
            phrases = lexicon.phrases_of(ref)
            if not phrases:
                self.out.error(value, f"'@{ref}' names nothing in the lexicon (use drug:ID, class:ID or term:ID)")
                terms[ref] = []  # reported once: matches nothing, and the load fails anyway
                continue
            terms[ref] = [(seq,) for seq in (parse_term(" ".join(p))[0] for p in phrases)]
        for cue in CUE_CONCEPTS:
            if cue not in terms:
                self.out.error(value, f"safety.concepts needs '{cue}' (the checker reads it to tell stated from asked)")
        try:
            names = (" ".join(p) for p, c in lexicon.phrases.items() if c.kind in ("drug", "class"))
            return ConceptSet(terms, guard=lexicon.vocabulary, names=names)
        except TermError as exc:
            self.out.error(value, str(exc))
            # every name stays known, so red flags do not each report its concepts as unknown
            return ConceptSet({name: [] for name in terms})

    def locale(self, rec: Located) -> Locale:
        def number(key: str) -> float:
            value = rec.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self.out.error(rec, f"'{key}' must be a number", key)
                return 0.0
            return float(value)

        fever_c, fever_f = number("fever_c"), number("fever_f")
        if fever_c and not 35.0 <= fever_c <= 40.0:
            self.out.error(rec, "'fever_c' must be a temperature in Celsius", "fever_c")
        if fever_f and not 95.0 <= fever_f <= 104.0:
            self.out.error(rec, "'fever_f' must be a temperature in Fahrenheit", "fever_f")
        low = rec.get("low_temperature_c")
        if low is not None and (not isinstance(low, (int, float)) or isinstance(low, bool) or not 34.0 <= low <= 37.0):
            self.out.error(rec, "'low_temperature_c' must be a temperature in Celsius (34-37)", "low_temperature_c")
            low = None
        return Locale(
            low_temperature_c=float(low) if low is not None else None,
            poison_line=self.text(rec, "poison_line", required=False),
            support_line=self.text(rec, "support_line", required=False),
            advice_line=self.text(rec, "advice_line", required=False),
            text_line=self.text(rec, "text_line", required=False),
            id=self.check_id(rec),
            name=self.text(rec, "name"),
            emergency_number=self.text(rec, "emergency_number"),
            crisis_line=self.text(rec, "crisis_line"),
            fever_c=fever_c,
            fever_f=fever_f,
            care_team_advice=self.text(rec, "care_team_advice"),
            sources=self.source_refs(rec, required=True),
            places=tuple(" ".join(tokens(p)) for p in self.strings(rec, "places")),
        )

    def rule(self, rec: Located) -> Rule:
        audiences = self.strings(rec, "audiences") or list(AUDIENCES)
        for audience in audiences:
            if audience not in AUDIENCES:
                self.out.error(rec, f"unknown audience '{audience}'", "audiences")
        return Rule(self.check_id(rec), self.patterns(rec, "patterns", required=True), self.patterns(rec, "unless"),
                    tuple(audiences), self.voiced(rec, "reply", both=False), _origin(rec))

    def map_patterns(self, safety: dict[str, tuple[Any, Located]], key: str, required: bool = True) -> tuple[re.Pattern[str], ...]:
        if key not in safety:
            if required:
                self.out.error(("safety", 0), f"safety.{key} is required")
            return ()
        value, parent = safety[key]
        holder = Located({key: value})
        holder.file, holder.line, holder.key_lines, holder.duplicates = parent.file, parent.line, dict(parent.key_lines), []
        return self.patterns(holder, key, required=True)

    def disclaimers(self) -> dict[str, str]:
        maps = self.layers.maps["disclaimers"]
        out: dict[str, str] = {}
        for audience in AUDIENCES:
            value = maps.get(audience)
            if value is None or not isinstance(value[0], str) or not value[0].strip():
                self.out.error(("disclaimers", 0), f"disclaimers.{audience} is required (verbatim text)")
                continue
            out[audience] = value[0].strip()
        return out

    def consent(self) -> tuple[str, Phrases]:
        maps = self.layers.maps["disclaimers"]
        button = maps.get("consent_button", ("I understand", None))[0]
        accepts = maps.get("consent_accepts", ([], None))[0]
        return str(button), self.phrases([str(a) for a in accepts] + [str(button)])

    def messages(self) -> dict[str, Voiced]:
        maps = self.layers.maps["messages"]
        out = {}
        for name, (value, parent) in maps.items():
            out[name] = self.voiced(parent, name, both=False, extra=MESSAGE_VARIABLES)
        for name in REQUIRED_MESSAGES:
            if name not in maps:
                self.out.error(("messages", 0), f"messages.{name} is required")
        return out

    def commands(self) -> dict[str, Phrases]:
        maps = self.layers.maps["commands"]
        out = {}
        for name, (value, parent) in maps.items():
            if not isinstance(value, list):
                self.out.error(parent, f"commands.{name} must be a list of phrases", name)
                continue
            out[name] = self.phrases(str(v) for v in value)
        for name in REQUIRED_COMMANDS:
            if name not in maps:
                self.out.error(("commands", 0), f"commands.{name} is required")
        return out

    def lexicon(self) -> Lexicon:
        table: dict[tuple[str, ...], Concept] = {}
        owner: dict[tuple[str, ...], str] = {}
        near: dict[tuple[str, str], Concept] = {}

        def add(phrase: str, concept: Concept, rec: Located, key: str) -> None:
            key_tokens = tuple(tokens(phrase))
            if not key_tokens:
                self.out.error(rec, f"phrase {phrase!r} has no words", key)
                return
            if key_tokens in table and table[key_tokens].id != concept.id:
                self.out.error(rec, f"phrase {phrase!r} already means '{owner[key_tokens]}'", key)
                return
            table[key_tokens] = concept
            owner[key_tokens] = concept.id

        classes = self.layers.lexicon["classes"]
        class_suggests: dict[str, tuple[tuple[str, str], ...]] = {}
        for cid, rec in classes.items():
            self.check_id(rec)
            class_suggests[cid] = self.slot_sets(rec, "suggests")
            concept = Concept("class:" + cid, "class", suggests=class_suggests[cid])
            for phrase in [self.text(rec, "name")] + self.strings(rec, "phrases"):
                add(phrase, concept, rec, "phrases")
        for did, rec in self.layers.lexicon["drugs"].items():
            self.check_id(rec)
            implied = []
            suggests = list(self.slot_sets(rec, "suggests"))
            for cls in self.strings(rec, "class", required=True):
                if cls not in classes:
                    self.out.error(rec, f"unknown drug class '{cls}'", "class")
                implied.append("class:" + cls)
                suggests += [pair for pair in class_suggests.get(cls, ()) if pair not in suggests]  # once, at load
            concept = Concept("drug:" + did, "drug", tuple(implied), suggests=tuple(suggests))
            names = [self.text(rec, "generic")] + self.strings(rec, "also") + self.strings(rec, "misspellings")
            brands = rec.get("brands")
            if isinstance(brands, Located):
                for region, names_in_region in brands.items():
                    if region not in ("us", "ca", "uk", "eu", "au", "intl"):
                        self.out.error(brands, f"unknown brand region '{region}'", region)
                    if isinstance(names_in_region, str):
                        names_in_region = [names_in_region]
                    names += [str(n) for n in names_in_region or []]
            elif brands is not None:
                self.out.error(rec, "'brands' must be a mapping of region: [names]", "brands")
            for name in names:
                if name:
                    add(name, concept, rec, "generic")
        for tid, rec in self.layers.lexicon["terms"].items():
            self.check_id(rec)
            concept = Concept("term:" + tid, "term", sets=self.slot_sets(rec, "sets"), leads=self.flag(rec, "leads", False))
            for phrase in self.strings(rec, "phrases", required=True):
                add(phrase, concept, rec, "phrases")
            for pair in self.strings(rec, "near"):
                # "number + call": both words, the second at most NEAR_REACH words after the first
                sides = [tuple(tokens(side)) for side in pair.split("+")]
                if len(sides) != 2 or any(len(side) != 1 for side in sides):
                    self.out.error(rec, f"near pair {pair!r} must be two single words joined by '+'", "near")
                    continue
                near[(sides[0][0], sides[1][0])] = concept
        for sid, rec in self.layers.lists["slots"].items():
            weight = rec.get("weight", DEFAULT_SLOT_WEIGHT)
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 < weight <= 1:
                self.out.error(rec, "'weight' must be a number above 0 and at most 1", "weight")
                weight = DEFAULT_SLOT_WEIGHT
            for item in rec.get("values") or []:
                if not isinstance(item, Located):
                    continue
                value = str(item.get("value"))
                concept = Concept(f"slot:{sid}={value}", "slot", sets=((sid, value),), weight=float(weight))
                for phrase in self.strings(item, "phrases"):
                    add(phrase, concept, item, "phrases")
        return Lexicon(table, near)

    def content_index(self, topics: dict[str, Topic], lexicon: Lexicon) -> LazyContentIndex:
        return LazyContentIndex(lambda: [(tid, _content_document(t, lexicon)) for tid, t in topics.items()])

    def index(self, topics: dict[str, Topic], lexicon: Lexicon, aspects: dict[str, Aspect]) -> TopicIndex:
        vocabulary: set[str] = set()
        for aspect in aspects.values():
            for phrase in aspect.phrasings:
                vocabulary.update(w for w in tokens(phrase) if w not in STOPWORDS)
        topics = {tid: t for tid, t in topics.items() if t.examples}  # units are found by entity and aspect
        for topic in topics.values():
            for phrase in (topic.title, *topic.examples):
                vocabulary.update(w for w in tokens(phrase) if w not in STOPWORDS)
        lexicon.add_vocabulary(vocabulary)
        rows: list[tuple[str, dict[str, float]]] = []
        seen: dict[tuple[tuple[str, float], ...], str] = {}
        readings: dict[str, Any] = {}
        for topic in topics.values():
            for phrase in (topic.title, *topic.examples):
                reading = readings.get(phrase)
                if reading is None:
                    reading = readings[phrase] = lexicon.read(tokens(phrase))
                features = reading.features()
                if not features:
                    self.out.error(topic.origin, f"example {phrase!r} has no meaningful words")
                    continue
                signature = tuple(sorted(features.items()))
                other = seen.get(signature)
                if other is not None and other != topic.id:
                    self.out.warn(topic.origin, f"ambiguous: example {phrase!r} reads the same as an example of topic '{other}'")
                seen[signature] = topic.id
                rows.append((topic.id, features))
        index = TopicIndex(rows)
        for topic in topics.values():
            context = readings[topic.title].features() if topic.title in readings else {}
            for phrase in topic.examples:
                for concept in readings[phrase].concepts if phrase in readings else ():
                    if concept.kind != "slot":
                        context.setdefault(concept.id, 0.6)
            index.context[topic.id] = context
        return index


#: What content matching leaves out of an answer's text: citations, template code, bold marks.
_NOT_CONTENT = re.compile(r"\[\[[a-z][a-z0-9_]*\]\]|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\*\*", re.S)


def _content_document(topic: Topic, lexicon: Lexicon) -> dict[str, int]:
    """Term counts of what a topic says: the title weighs three times, each example phrasing once
    per term, and the answers in both voices as often as their words occur."""
    counts: dict[str, int] = {}
    blocks = [(topic.title, 3)] + [(e, 1) for e in dict.fromkeys(topic.examples)]
    for text, weight in blocks:
        for term in set(lexicon.text_terms(tokens(text))):
            counts[term] = counts.get(term, 0) + weight
    for source in topic.answer.sources.values():
        for term in lexicon.text_terms(tokens(_NOT_CONTENT.sub(" ", source))):
            counts[term] = counts.get(term, 0) + 1
    return counts


def _names_read(ast: nodes.Template) -> frozenset[str]:
    """The variables a template reads from its context (loop and set targets excluded).

    A walk of the syntax tree: cheaper than jinja2.meta, which runs the code generator.
    """
    stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return frozenset(n.name for n in ast.find_all(nodes.Name) if n.ctx == "load" and n.name not in stored)


class _DummyLocale(dict):  # type: ignore[type-arg]
    def __getattr__(self, name: str) -> str:
        return "0"


#: One converted figure, as the engine passes them (understanding/conversions.Conversion), to render templates with.
_DUMMY_CONVERSIONS = (SimpleNamespace(quantity="temperature", given="100.4 °F", result="38.0 °C"),)
_DUMMY_LOCALE = _DummyLocale(
    id="xx", name="x", emergency_number="0", crisis_line="0", fever_c="38.0", fever_f="100.4", care_team_advice="x"
)


def load_knowledge(directories: Iterable[Path | str] | None = None, *, include_bundled: bool = True) -> Knowledge:
    """Load, validate and compile knowledge.

    Args:
        directories: extra directories, applied in order after the bundled knowledge.
        include_bundled: start from the knowledge shipped with mbcbot.

    Raises:
        KnowledgeError: with every problem found, each ``file:line: what is wrong``.
    """
    out = _Collector()
    layers = _Layers(out)
    dirs = [bundled_knowledge_dir()] if include_bundled else []
    dirs += [Path(d) for d in directories or []]
    if not dirs:
        raise KnowledgeError([Problem("knowledge", 0, "no knowledge directory given")])
    for directory in dirs:
        layers.add_directory(directory)
    return _Compiler(layers, out).compile()


def stale_reviews(knowledge: Knowledge, today: date, max_age_days: int = 365) -> list[Problem]:
    """Topics whose last review is older than ``max_age_days``."""
    problems = []
    for topic in knowledge.topics.values():
        age = (today - topic.review.reviewed_on).days
        if age > max_age_days:
            problems.append(Problem(topic.origin.file, topic.origin.line,
                                    f"topic '{topic.id}' was last reviewed {topic.review.reviewed_on} ({age} days ago)", "warning"))
    return problems



#: The keys of one ``regulatory`` entry.
REGULATORY_KEYS = frozenset({"region", "status", "as_of", "checked_on", "source", "for"})
#: A status regulators are still deciding is rechecked at least this often.
UNSETTLED_MAX_DAYS = 183


def stale_statuses(knowledge: Knowledge, today: date, max_age_days: int = UNSETTLED_MAX_DAYS) -> list[Problem]:
    """Pending or not-yet-approved statuses last checked more than ``max_age_days`` before ``today``."""
    problems = []
    for topic in knowledge.topics.values():
        for r in topic.regulatory:
            age = (today - r.checked_on).days
            if r.status in UNSETTLED and age > max_age_days:
                problems.append(Problem(topic.origin.file, topic.origin.line,
                                        f"topic '{topic.id}': the {r.region} status '{r.status}' was last checked {r.checked_on} "
                                        f"({age} days ago); check it again", "warning"))
    return problems


#: Words of a sentence about approval, and the date such a sentence states its status at.
_APPROVAL_WORDS = re.compile(r"\b(?:FDA|EMA|MHRA|approv\w*|authori[sz]\w*|licensed|off-label|label)\b", re.IGNORECASE)
_AS_OF = re.compile(r"\bas of\b", re.IGNORECASE)


def _states_status(text: str) -> bool:
    """Whether a sentence of the text states an approval status as of a date."""
    return any(_AS_OF.search(s) and _APPROVAL_WORDS.search(s) for s in re.split(r"[.\n]", text))


def unstructured_statuses(knowledge: Knowledge) -> list[Problem]:
    """Topics whose text states an approval status as of a date without a structured ``regulatory`` entry."""
    problems = []
    for topic in knowledge.topics.values():
        if topic.regulatory:
            continue
        if any(_states_status(text) for text in topic.answer.sources.values()):
            problems.append(Problem(topic.origin.file, topic.origin.line,
                                    f"topic '{topic.id}' states an approval status in its text: give it as 'regulatory:' "
                                    "entries (region, status, as_of, checked_on, source)", "warning"))
    return problems


def aspect_rows(aspects: dict[str, Aspect], lexicon: Lexicon) -> list[tuple[str, tuple[str, ...]]]:
    """The aspect classifier's training rows: (aspect, phrasing as the lexicon tags it)."""
    return [(a.id, lexicon.read(tokens(p)).tagged) for a in aspects.values() for p in a.phrasings]


def _advise_prefix(text: str) -> tuple[bool, str]:
    """``advise: <conditions>``: an alternative that only ever gives the flag's advice beside the answer."""
    head, sep, rest = text.partition(":")
    if sep and head.strip() == "advise":
        return True, rest
    return False, text
