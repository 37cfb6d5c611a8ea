"""Scripted conversation tests: multi-turn scripts in YAML, with what each reply must say.

A script::

    name: ER+ first line, clinician
    audience: clinician          # or patient
    locale: us                   # optional
    consent: given               # given (default) or required
    preview: false               # show in-review content to patients (content previews)
    turns:
      - user: "1L options ER+ HER2- postmenopausal?"
        disclaimer: true         # optional: a disclaimer was (or was not) shown this turn
        expect:                  # one entry per reply, in order, disclaimers left out
          - kind: answer
            topic: first_line_treatment
            contains: [CDK4/6]           # all must appear (case-insensitive)
            contains_any: [letrozole, anastrozole]
            not_contains: [mg]
            buttons: [Side effects of CDK4/6 inhibitors]   # labels offered
            sources: [esmo_mbc_2021]                       # ids cited
            max_length: 2500
      - press: "HR+ / HER2-"     # press a button offered in the previous turn, by label
      - payload: "a:99:0"        # send a raw payload (forged or stale buttons)

A file holds one script, or several under ``conversations:``. Scripts run through any
*driver*: by default the engine itself; adapters supply drivers that go through their
platform rendering.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine import EngineOptions
from .markup import to_plain
from .replies import Incoming, Reply, ReplyKind
from .yamlsrc import Located, YamlSyntaxError, read_yaml

REPLY_KEYS = {"kind", "topic", "contains", "contains_any", "not_contains", "buttons", "no_buttons", "sources", "max_length"}
TURN_KEYS = {"user", "press", "payload", "expect", "disclaimer"}
SCRIPT_KEYS = {"name", "audience", "locale", "consent", "preview", "turns"}
KINDS = {k.value for k in ReplyKind}


class ScriptFormatError(Exception):
    """A script is not valid; the message says ``file:line: what``."""


@dataclass
class Script:
    name: str
    file: str
    line: int
    audience: str
    locale: str | None
    consent_required: bool
    preview: bool
    turns: list[Located]

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Result:
    script: Script
    failures: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def report(self) -> str:
        lines = [f"FAILED {self.script.name} ({self.script.id})"]
        lines += [f"  - {f}" for f in self.failures]
        lines.append("  transcript:")
        lines += [f"    {t}" for t in self.transcript]
        return "\n".join(lines)


#: A driver answers one user action in a conversation, like :meth:`Session.handle`.
Driver = Callable[[str, Incoming], list[Reply]]
#: Makes a fresh driver for a script's options.
DriverFactory = Callable[[EngineOptions], Driver]


def load_scripts(paths: Iterable[str | Path]) -> list[Script]:
    """Read every ``.yaml`` script under the given files or folders.

    Raises:
        ScriptFormatError: a file is missing or a script is malformed.
    """
    scripts: list[Script] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        elif path.is_file():
            files = [path]
        else:
            raise ScriptFormatError(f"{path}: no such file or folder")
        for file in files:
            scripts.extend(_read(file))
    return scripts


def _read(file: Path) -> list[Script]:
    try:
        doc = read_yaml(file)
    except YamlSyntaxError as exc:
        raise ScriptFormatError(str(exc)) from exc
    if not isinstance(doc, Located):
        raise ScriptFormatError(f"{file}:1: a script file must be a mapping")
    items = doc.get("conversations") if "conversations" in doc else [doc]
    if not isinstance(items, list):
        raise ScriptFormatError(f"{file}:{doc.line_of('conversations')}: 'conversations' must be a list")
    return [_script(item, file) for item in items]


def _fail(where: Located, message: str, key: str | None = None) -> ScriptFormatError:
    return ScriptFormatError(f"{where.file}:{where.line_of(key) if key else where.line}: {message}")


def _script(rec: Any, file: Path) -> Script:
    if not isinstance(rec, Located):
        raise ScriptFormatError(f"{file}:1: each conversation must be a mapping")
    for key in rec:
        if key not in SCRIPT_KEYS:
            raise _fail(rec, f"unknown key '{key}' (expected {', '.join(sorted(SCRIPT_KEYS))})", key)
    audience = rec.get("audience", "clinician")
    if audience not in ("clinician", "patient"):
        raise _fail(rec, "audience must be clinician or patient", "audience")
    consent = rec.get("consent", "given")
    if consent not in ("given", "required"):
        raise _fail(rec, "consent must be given or required", "consent")
    turns = rec.get("turns")
    if not isinstance(turns, list) or not turns:
        raise _fail(rec, "a script needs a list of 'turns'")
    for turn in turns:
        _check_turn(turn, rec)
    return Script(
        name=str(rec.get("name") or f"{file.name}:{rec.line}"),
        file=str(file),
        line=rec.line,
        audience=audience,
        locale=rec.get("locale"),
        consent_required=consent == "required",
        preview=bool(rec.get("preview", False)),
        turns=turns,
    )


def _check_turn(turn: Any, script: Located) -> None:
    if not isinstance(turn, Located):
        raise _fail(script, "each turn must be a mapping with user, press or payload", "turns")
    for key in turn:
        if key not in TURN_KEYS:
            raise _fail(turn, f"unknown key '{key}' (expected {', '.join(sorted(TURN_KEYS))})", key)
    actions = [k for k in ("user", "press", "payload") if k in turn]
    if len(actions) != 1:
        raise _fail(turn, "a turn needs exactly one of user, press or payload")
    expect = turn.get("expect", [])
    for exp in expect if isinstance(expect, list) else [expect]:
        if not isinstance(exp, Located):
            raise _fail(turn, "each expectation must be a mapping", "expect")
        for key in exp:
            if key not in REPLY_KEYS:
                raise _fail(exp, f"unknown expectation '{key}' (expected {', '.join(sorted(REPLY_KEYS))})", key)
        if "kind" in exp and (not isinstance(exp["kind"], str) or exp["kind"] not in KINDS):
            raise _fail(exp, f"unknown kind '{exp['kind']}' (expected {', '.join(sorted(KINDS))})", "kind")


def options_for(script: Script) -> EngineOptions:
    base = EngineOptions()
    return EngineOptions(
        audience=script.audience,
        locale=script.locale or base.locale,
        disclaimer_interval_s=base.disclaimer_interval_s,
        consent_required=script.consent_required,
        max_message_chars=base.max_message_chars,
        preview=script.preview,
    )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def check_reply(reply: Reply, exp: Located) -> list[str]:
    """What an expectation finds wrong with a reply (empty if it holds)."""
    problems = []
    text = to_plain(reply.text)
    low = text.lower()
    where = f"line {exp.line}"
    if "kind" in exp and reply.kind.value != exp["kind"]:
        problems.append(f"{where}: expected kind {exp['kind']}, got {reply.kind.value}")
    if "topic" in exp and reply.topic != exp["topic"]:
        problems.append(f"{where}: expected topic {exp['topic']}, got {reply.topic}")
    for needle in _as_list(exp.get("contains")):
        if needle.lower() not in low:
            problems.append(f"{where}: text does not contain {needle!r}")
    any_of = _as_list(exp.get("contains_any"))
    if any_of and not any(n.lower() in low for n in any_of):
        problems.append(f"{where}: text contains none of {any_of}")
    for needle in _as_list(exp.get("not_contains")):
        if needle.lower() in low:
            problems.append(f"{where}: text must not contain {needle!r}")
    labels = [b.label for b in reply.buttons]
    for label in _as_list(exp.get("buttons")):
        if label not in labels:
            problems.append(f"{where}: no button {label!r} (offered: {labels})")
    if exp.get("no_buttons") and labels:
        problems.append(f"{where}: expected no buttons, got {labels}")
    cited = [s.id for s in reply.sources]
    for sid in _as_list(exp.get("sources")):
        if sid not in cited:
            problems.append(f"{where}: source {sid!r} not cited (cited: {cited})")
    limit = exp.get("max_length")
    if isinstance(limit, int) and len(text) > limit:
        problems.append(f"{where}: text is {len(text)} characters, more than {limit}")
    return problems


def run_script(script: Script, factory: DriverFactory) -> Result:
    """Play a script through a fresh driver and check every expectation."""
    driver = factory(options_for(script))
    result = Result(script)
    conversation = f"script:{script.id}:{time.monotonic_ns()}"
    previous: list[Reply] = []
    for number, turn in enumerate(script.turns, 1):
        if "user" in turn:
            incoming = Incoming(text=str(turn["user"]))
            result.transcript.append(f"user> {turn['user']}")
        elif "press" in turn:
            label = str(turn["press"])
            button = next((b for r in previous for b in r.buttons if b.label == label), None)
            if button is None:
                offered = [b.label for r in previous for b in r.buttons]
                result.failures.append(f"turn {number} (line {turn.line}): no button {label!r} to press (offered: {offered})")
                break
            incoming = Incoming(payload=button.payload)
            result.transcript.append(f"press> [{label}]")
        else:
            incoming = Incoming(payload=str(turn["payload"]))
            result.transcript.append(f"payload> {turn['payload']}")
        replies = driver(conversation, incoming)
        for reply in replies:
            buttons = " ".join(f"[{b.label}]" for b in reply.buttons)
            shown = to_plain(reply.text).replace("\n", " / ")
            result.transcript.append(f"bot({reply.kind.value}{', ' + reply.topic if reply.topic else ''})> {shown} {buttons}".rstrip())
        previous = replies
        _check_turn_replies(turn, number, replies, result)
    return result


def _check_turn_replies(turn: Located, number: int, replies: list[Reply], result: Result) -> None:
    shown = [r for r in replies if r.kind is not ReplyKind.DISCLAIMER]
    if "disclaimer" in turn:
        had = len(shown) != len(replies)
        if bool(turn["disclaimer"]) != had:
            result.failures.append(f"turn {number} (line {turn.line_of('disclaimer')}): disclaimer {'missing' if turn['disclaimer'] else 'shown unexpectedly'}")
    if "expect" not in turn:
        return
    expect = turn["expect"] if isinstance(turn["expect"], list) else [turn["expect"]]
    if len(expect) != len(shown):
        kinds = [r.kind.value for r in shown]
        result.failures.append(f"turn {number} (line {turn.line_of('expect')}): expected {len(expect)} replies, got {len(shown)} {kinds}")
    for reply, exp in zip(shown, expect):
        result.failures.extend(f"turn {number}, {p}" for p in check_reply(reply, exp))


def engine_driver_factory(knowledge: Any) -> DriverFactory:
    """Drivers that run scripts straight through the engine with a memory store."""
    from .engine import Engine
    from .session import Session
    from .storage import MemoryStore

    def factory(options: EngineOptions) -> Driver:
        return Session(Engine(knowledge, options), MemoryStore()).handle

    return factory
