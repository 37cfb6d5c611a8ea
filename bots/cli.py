"""The ``mbcbot`` command line.

Commands: ``chat`` (console), ``ask`` (one question, or one per line of standard input;
``--json`` for tools), ``validate`` (check knowledge), ``test`` (run conversation
scripts; ``test --safety``: the red-flag corpus), ``report unanswered`` (questions the bot could not answer), ``telegram`` (the Telegram bot; needs the ``telegram`` extra), ``slack`` (the
Slack bot; needs the ``slack`` extra). Errors are one clear line and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
import time
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

from dialogue.config import Settings
from dialogue.convtest import ScriptFormatError, engine_driver_factory, load_scripts, run_script
from dialogue.coverage import coverage
from dialogue.errors import ConfigError, DialogueError, KnowledgeError, Problem
from dialogue.loader import load_knowledge, stale_reviews, stale_statuses, unstructured_statuses
from dialogue.model import Knowledge
from dialogue.replies import Incoming, Reply, ReplyKind, headline_kind, source_dict
from dialogue.runtime import build_engine, build_session, install_reload_signal
from dialogue.safetytest import BUNDLED_CORPUS, load_corpus, percent, run_corpus
from dialogue.session import ReloadResult, Session
from dialogue.storage import MemoryStore

from . import console
from .render_text import reading_text, reply_text

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
MIN_EXAMPLES = 5
MIN_RECALL, MAX_FALSE_ALARMS = 1.0, 0.03  # the safety gate of `mbcbot test --safety`


class CliError(Exception):
    """A user-facing error: printed as one line."""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="configuration file (YAML); also MBCBOT_CONFIG")
    common.add_argument("--knowledge", metavar="DIR", action="append", default=None,
                        help="extra knowledge directory, applied after the bundled one (repeatable)")
    voice = argparse.ArgumentParser(add_help=False)
    voice.add_argument("--audience", choices=("clinician", "patient"), help="who is asking (default from config)")
    voice.add_argument("--locale", help="locale id for emergency numbers and fever threshold (e.g. us, uk)")
    voice.add_argument("--preview", action="store_true", default=None,
                       help="show content still in review to patients, marked as such (never in production)")

    parser = argparse.ArgumentParser(prog="mbcbot", description="Answers questions about stage 4 breast cancer treatment and side effects.")
    parser.add_argument("--version", action="version", version=f"mbcbot {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = sub.add_parser("chat", parents=[common, voice], help="chat in the terminal")
    chat.add_argument("--store", help="conversation store URL (memory, sqlite, sqlite:///path.db)")
    chat.add_argument("--conversation", help="conversation id to resume (default: one per user name and audience)")

    ask = sub.add_parser("ask", parents=[common, voice], help="answer one question (or one per input line)")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("question", nargs="?", help="the question; omit to read one question per line from standard input")

    validate = sub.add_parser("validate", parents=[common], help="check the knowledge and report problems")
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument("--today", type=date.fromisoformat, metavar="YYYY-MM-DD",
                          help="judge review and status ages against this date instead of the calendar's")

    approve = sub.add_parser("approve", parents=[common],
                             help="print a reviews: block approving topics as they are now (for a deployment's folder)")
    approve.add_argument("topics", nargs="+", metavar="TOPIC", help="topic ids (or 'all')")
    approve.add_argument("--by", required=True, help="who reviewed, e.g. 'Dr A. Smith, medical oncologist'")

    report = sub.add_parser("report", parents=[common], help="reports for the knowledge authors ('mbcbot report unanswered')")
    report.add_argument("what", choices=("unanswered",),
                        help="unanswered: the most frequent questions that got a fallback or a clarifying question "
                             "(needs record_unanswered: true)")
    report.add_argument("--limit", type=int, default=20, help="how many questions to show (default 20)")
    report.add_argument("--days", type=float, help="only questions asked in the last DAYS days")
    report.add_argument("--path", metavar="FILE", help="the record's SQLite file (default: unanswered_path, "
                                                       "or unanswered.db next to the store)")

    test = sub.add_parser("test", parents=[common], help="run scripted conversation tests, or the safety corpus (--safety)")
    test.add_argument("paths", nargs="*", help="script files or folders (default: tests/conversations); with --safety, "
                                               "safety corpus files or folders (default: the corpus shipped with mbcbot)")
    test.add_argument("--safety", action="store_true",
                      help="run the safety corpus: how many emergencies get their urgent reply, how many near misses do not")
    test.add_argument("--understanding", action="store_true",
                      help="report how well questions are understood: cross-validation of the aspect classifier over the "
                           "knowledge's phrasings, and the accuracy on question files given as PATHS (see tests/understanding/README.md)")
    test.add_argument("--min-accuracy", type=float, metavar="R",
                      help="with --understanding: fail when fewer questions than this share get a correct reply (default 0)")
    test.add_argument("--locale", help="with --safety: the locale of corpus items that name none (each item names its own)")
    test.add_argument("--min-recall", type=float, metavar="R",
                      help=f"with --safety: fail when fewer emergencies than this share are caught (default {MIN_RECALL})")
    test.add_argument("--max-false-alarms", type=float, metavar="R",
                      help=f"with --safety: fail when more near misses than this share are alarmed (default {MAX_FALSE_ALARMS})")

    telegram = sub.add_parser("telegram", parents=[common],
                              help="run the Telegram bot (TELEGRAM_BOT_TOKEN; long polling unless --webhook)")
    # The Telegram bot is for patients and families: a clinician default in a shared config
    # (for Slack, say) must not change its voice, so only this flag does. (Its own argument:
    # set_defaults on a shared parent argument would change every command's default.)
    telegram.add_argument("--audience", choices=("clinician", "patient"), default="patient",
                          help="who the bot talks to (default patient, whatever the configuration says)")
    telegram.add_argument("--locale", help="locale id for emergency numbers and fever threshold (e.g. us, uk)")
    telegram.add_argument("--store", help="conversation store URL (memory, sqlite, sqlite:///path.db)")
    telegram.add_argument("--webhook", metavar="URL", help="public HTTPS URL Telegram posts updates to (instead of polling)")
    telegram.add_argument("--port", type=int, help="local port of the webhook server (with --webhook)")
    telegram.add_argument("--listen", default="0.0.0.0", metavar="ADDR", help="local address of the webhook server")

    slack = sub.add_parser("slack", parents=[common],
                           help="run the Slack bot (SLACK_BOT_TOKEN; Socket Mode with SLACK_APP_TOKEN unless --http), "
                                "or print its app manifest ('mbcbot slack manifest')")
    slack.add_argument("action", nargs="?", choices=("run", "manifest"), default="run",
                       help="run the bot (default), or print the Slack app manifest")
    # Clinical teams: a patient default in a shared config (for Telegram, say) must not change
    # the Slack bot's voice; only this flag does, and `channels` per channel.
    slack.add_argument("--audience", choices=("clinician", "patient"), default="clinician",
                       help="who the bot talks to (default clinician, whatever the configuration says)")
    slack.add_argument("--locale", help="locale id for emergency numbers and fever threshold (e.g. us, uk)")
    slack.add_argument("--store", help="conversation store URL (memory, sqlite, sqlite:///path.db)")
    slack.add_argument("--http", action="store_true", help="serve the Events API over HTTP instead of Socket Mode "
                                                           "(SLACK_SIGNING_SECRET)")
    slack.add_argument("--port", type=int, help="local port of the HTTP server (with --http)")
    slack.add_argument("--listen", default="0.0.0.0", metavar="ADDR", help="local address of the HTTP server")
    slack.add_argument("--path", default="/slack/events", help="URL path of the HTTP endpoint (default /slack/events)")
    slack.add_argument("--request-url", metavar="URL",
                       help="with 'manifest': the public https:// address Slack posts to (a manifest for --http)")
    for command in sub.choices.values():
        command.set_defaults(command_parser=command)  # for its own usage on an unknown flag
    return parser


def _version() -> str:
    try:
        return metadata.version("mbcbot")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, and blame an unknown flag on the command it was given to, with that command's usage
    (argparse would show the top-level usage)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


#: Settings that flags override, by the flag an error about them should name.
FLAGS = {"audience": "--audience", "locale": "--locale", "preview": "--preview", "knowledge": "--knowledge", "store": "--store"}


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.load(args.config)
    extra = tuple(args.knowledge or ())
    values = {key: getattr(args, key, None) for key in FLAGS}
    values["knowledge"] = settings.knowledge + extra if extra else None
    return settings.with_overrides(origins={k: FLAGS[k] for k, v in values.items() if v is not None}, **values)


def _configure_logging(settings: Settings, handler: logging.Handler | None = None) -> None:
    level = getattr(logging, settings.log_level.upper(), logging.WARNING)
    handler = handler or logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key in ("kinds", "topic", "latency_ms"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        return json.dumps(data)


def _knowledge(settings: Settings) -> Knowledge:
    return load_knowledge(settings.knowledge)


# --- commands --------------------------------------------------------------------------------
def cmd_chat(args: argparse.Namespace) -> int:
    settings = _settings(args)
    prompt = console.Prompt()
    _configure_logging(settings, console.NoticeHandler(prompt))  # log lines never land inside the prompt line
    session = build_session(settings)
    install_reload_signal(session, settings.knowledge, on_done=lambda result: prompt.notice(reload_notice(result)))
    return console.chat(session, args.conversation or console_conversation(_user(), settings.audience),
                        settings.audience, prompt=prompt)


def console_conversation(user: str, audience: str) -> str:
    """The stored conversation of a console user: one per audience, so that a patient chat
    never inherits a clinician chat's context, nor the time its disclaimer was shown."""
    return f"console:{user}:{audience}"


def reload_notice(result: ReloadResult) -> str:
    """After a SIGHUP in the console: one line (the problems themselves are logged as errors)."""
    if result.ok:
        return "mbcbot: knowledge reloaded"
    return f"mbcbot: knowledge reload rejected ({len(result.problems)} problem(s)); still using the previous knowledge"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "local"


def cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args).with_overrides(consent_required=False)
    _configure_logging(settings)
    engine = build_engine(settings)
    questions = [args.question] if args.question is not None else (line.rstrip("\n") for line in sys.stdin)
    one_per_line = args.question is None
    for number, question in enumerate(questions):
        session = Session(engine, MemoryStore())
        replies = session.handle(f"ask:{number}", Incoming(text=question, audience=settings.audience))
        if args.json:
            print(json.dumps(ask_json(replies), ensure_ascii=False), flush=True)
        elif one_per_line:
            print(" ".join(reading_text(replies).split()), flush=True)
        else:
            print("\n\n".join(reply_text(r) for r in replies))
    return EXIT_OK


def ask_json(replies: list[Reply]) -> dict[str, Any]:
    """The public ``mbcbot ask --json`` object for one question."""
    shown = [r for r in replies if r.kind is not ReplyKind.DISCLAIMER]
    disclaimers = [r.text for r in replies if r.kind is ReplyKind.DISCLAIMER]
    sources: list[dict[str, Any]] = []
    for reply in shown:
        for source in reply.sources:
            if all(s["id"] != source.id for s in sources):
                sources.append(source_dict(source))
    topic = next((r.topic for r in shown if r.kind is ReplyKind.ANSWER and r.topic), None)
    topic = topic or next((r.topic for r in shown if r.topic), None)
    answer = next((r for r in shown if r.kind is ReplyKind.ANSWER), None)
    return {
        "kind": headline_kind(shown).value,
        "text": reading_text(shown),
        "topic": topic,
        "sources": sources,
        "buttons": [{"label": b.label, "payload": b.payload} for r in shown for b in r.buttons],
        "disclaimer": "\n\n".join(disclaimers) or None,
        "reviewed_on": answer.reviewed_on.isoformat() if answer and answer.reviewed_on else None,
        "review_status": answer.review_status if answer else None,
        "replies": [r.to_dict() for r in replies],
    }


def cmd_validate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        knowledge = _knowledge(settings)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(f"{problem} [{problem.severity}]")
        errors = sum(1 for p in exc.problems if p.severity == "error")
        print(f"knowledge has {errors} error(s): the bot will not start")
        return EXIT_FAIL
    today = args.today or date.today()
    warnings = (list(knowledge.warnings) + stale_reviews(knowledge, today) + stale_statuses(knowledge, today)
                + unstructured_statuses(knowledge))
    for topic in knowledge.topics.values():
        if len(topic.examples) < MIN_EXAMPLES and not (topic.entities and not topic.examples):  # units: entity x aspect
            warnings.append(_warning(topic.origin, f"topic '{topic.id}' has {len(topic.examples)} example phrasings (want {MIN_EXAMPLES} or more)"))
    report = coverage(knowledge)
    for drug in report.drugs_missing:
        warnings.append(_warning(("knowledge", 0), f"drug '{drug}' has no side-effect content"))
    for seed in report.seeds_missing:
        warnings.append(_warning(("knowledge", 0), f"seed document '{seed}' is cited nowhere"))
    for source in report.uncited_sources:
        if not source.startswith("seed_"):
            print(f"note: source '{source}' is listed but cited by nothing")
    for unit in report.unreachable:
        warnings.append(_warning(knowledge.topics[unit].origin, f"unit '{unit}' can never be chosen: its entities are all classes too broad to pick a unit"))
    # Coverage gaps: errors for the bundled knowledge, warnings once a deployment adds its own
    # folder (its additions may open gaps the bundle cannot fill).
    gaps = [f"no unit for {aspect}: {', '.join(drugs)}" for aspect, drugs in report.units_missing().items()]
    gaps += [f"regimen grid: no unit answers {subtype}, {line} line" for subtype, line in report.grid_missing]
    gaps += [f"topic '{t}' cites only seed summaries or patient-education pages: a clinical claim needs a primary source"
             for t in report.secondary_only]
    for warning in warnings:
        print(f"{warning} [warning]")
    print(report.summary())
    print(report.units_line())
    for line in report.grid_lines():
        print(line)
    severity = "warning" if settings.knowledge else "error"
    for gap in gaps:
        print(f"knowledge: {gap} [{severity}]")
    if gaps and not settings.knowledge:
        print(f"knowledge has {len(gaps)} coverage gap(s)")
        return EXIT_FAIL
    warnings += [_warning(("knowledge", 0), gap) for gap in gaps]
    status: dict[str, int] = {}
    for topic in knowledge.topics.values():
        status[topic.review.status] = status.get(topic.review.status, 0) + 1
    print(
        f"knowledge OK: {len(knowledge.topics)} topics ({', '.join(f'{n} {s}' for s, n in sorted(status.items()))}), "
        f"{len(knowledge.sources)} sources, {len(knowledge.red_flags)} red flags, {len(knowledge.locales)} locales; "
        f"{len(warnings)} warning(s)"
    )
    return EXIT_FAIL if args.strict and warnings else EXIT_OK


def _warning(origin: Any, message: str) -> Problem:
    file, line = (origin.file, origin.line) if hasattr(origin, "file") else origin
    return Problem(file, line, message, "warning")


def cmd_test(args: argparse.Namespace) -> int:
    if args.safety and args.understanding:
        raise CliError("--safety and --understanding are separate reports: give one")
    if args.understanding:
        return cmd_test_understanding(args)
    if args.min_accuracy is not None:
        raise CliError("--min-accuracy: only with --understanding")
    if args.safety:
        return cmd_test_safety(args)
    extra = [flag for flag, value in (("--locale", args.locale), ("--min-recall", args.min_recall),
                                      ("--max-false-alarms", args.max_false_alarms)) if value is not None]
    if extra:
        raise CliError(f"{', '.join(extra)}: only with --safety (conversation scripts set their own locale)")
    settings = _settings(args)
    paths = args.paths or [default_scripts()]
    try:
        scripts = load_scripts(paths)
    except ScriptFormatError as exc:
        raise CliError(str(exc)) from exc
    if not scripts:
        raise CliError(f"no conversation scripts found in {', '.join(map(str, paths))}")
    factory = engine_driver_factory(_knowledge(settings))
    passed = failed = 0
    for script in scripts:
        result = run_script(script, factory)
        if result.passed:
            passed += 1
        else:
            failed += 1
            print(result.report())
            print()
    print(f"{passed} passed, {failed} failed")
    return EXIT_OK if failed == 0 else EXIT_FAIL


#: Where ``mbcbot test`` looks without PATHS: the working directory's scripts, then the project's own
#: next to the code (a checkout or an editable install; the scripts are not in the wheel).
SCRIPTS = Path("tests") / "conversations"


def default_scripts() -> Path:
    """The first of ``./tests/conversations`` and the project's own that exists.

    Raises:
        CliError: neither does; says where it looked.
    """
    places = [Path.cwd() / SCRIPTS, Path(__file__).resolve().parents[1] / SCRIPTS]
    for place in places:
        if place.is_dir():
            return place
    raise CliError(f"no conversation scripts: looked in {' and '.join(map(str, places))}; "
                   "give script files or folders as arguments")


def cmd_test_understanding(args: argparse.Namespace) -> int:
    """``mbcbot test --understanding [PATHS]``: cross-validation, then each question file's table and failures."""
    from dialogue.understandingtest import aspect_cross_validation, load_questions, run_questions

    settings = _settings(args)
    knowledge = _knowledge(settings)
    cv = aspect_cross_validation(knowledge)
    print(f"aspect classifier, {cv.folds}-fold cross-validation over {cv.total} phrasings: "
          f"{cv.correct}/{cv.total} ({percent(cv.correct, cv.total)})")
    for label, (ok, n) in sorted(cv.per_label.items()):
        print(f"  {label:20s} {ok:3d}/{n:3d}")
    confusions = sorted(cv.confusions.items(), key=lambda item: (-len(item[1]), item[0]))[:10]
    if confusions:
        print("  most confused (expected -> guessed: phrasings):")
        for (expected, guessed), texts in confusions:
            print(f"    {expected} -> {guessed}: {len(texts)}, e.g. {texts[0]!r}")
    if not args.paths:
        return EXIT_OK
    try:
        questions = load_questions(args.paths)
    except ScriptFormatError as exc:
        raise CliError(str(exc)) from exc
    if not questions:
        raise CliError(f"no questions found in {', '.join(map(str, args.paths))}")
    options = build_engine(settings.with_overrides(consent_required=False)).options
    report = run_questions(knowledge, questions, options)
    print(f"\nquestions: {sum(report.passed.values())}/{sum(report.total.values())} ({percent(sum(report.passed.values()), sum(report.total.values()))})")
    for category in sorted(report.total):
        print(f"  {category:8s} {report.passed[category]:3d}/{report.total[category]:3d}")
    for question, kind, why in report.failures:
        print(f"- {question.id} [{question.audience}] {question.text!r}: {'; '.join(why)}")
    minimum = args.min_accuracy if args.min_accuracy is not None else 0.0
    return EXIT_OK if report.accuracy >= minimum else EXIT_FAIL


def cmd_test_safety(args: argparse.Namespace) -> int:
    """``mbcbot test --safety [PATHS]``: the per-category table, then ``N passed, N failed``."""
    min_recall = MIN_RECALL if args.min_recall is None else args.min_recall
    max_false = MAX_FALSE_ALARMS if args.max_false_alarms is None else args.max_false_alarms
    for flag, value in (("--min-recall", min_recall), ("--max-false-alarms", max_false)):
        if not 0.0 <= value <= 1.0:
            raise CliError(f"{flag} must be a share between 0 and 1 (0.95 for 95%), not {value:g}")
    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [BUNDLED_CORPUS]
    if not args.paths and not any(BUNDLED_CORPUS.glob("*.y*ml")):
        raise CliError(f"no safety corpus found: looked in {BUNDLED_CORPUS} (the corpus shipped with mbcbot); "
                       "give corpus files or folders as arguments")
    knowledge = _knowledge(settings)
    build_engine(settings, knowledge)  # an unknown --locale stops here, as for every command
    try:
        items = load_corpus(paths, {f.id for f in knowledge.red_flags}, set(knowledge.locales), settings.locale)
    except ScriptFormatError as exc:
        raise CliError("\nmbcbot: error: ".join(str(exc).splitlines())) from exc
    if not items:
        raise CliError(f"the safety corpus in {', '.join(map(str, paths))} has no emergencies and no near misses")
    report = run_corpus(knowledge, items)
    files = len({item.where.rsplit(":", 1)[0] for item in items})
    print(f"safety corpus: {len(report.emergencies)} emergencies, {len(report.near_misses)} near misses "
          f"({files} file(s) in {', '.join(map(str, paths))})")
    for line in report.lines():
        print(line)
    failing = []
    caught, alarmed = sum(o.caught for o in report.emergencies), sum(o.alarmed for o in report.near_misses)
    if report.recall < min_recall - 1e-12:
        failing.append(f"recall {percent(caught, len(report.emergencies))} is below --min-recall {min_recall:.1%}")
    if report.false_alarm_rate > max_false + 1e-12:
        failing.append(f"false alarms {percent(alarmed, len(report.near_misses))} are above --max-false-alarms {max_false:.1%}")
    for reason in failing:
        print(f"gate failed: {reason}")
    print(f"{report.passed} passed, {report.failed} failed")
    return EXIT_FAIL if failing else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from dialogue.unanswered import UnansweredLog, default_unanswered_path

    settings = _settings(args)
    path = Path(args.path or settings.unanswered_path or default_unanswered_path(settings.store))
    if not path.exists():
        raise CliError(f"no record of unanswered questions at {path} (set record_unanswered: true to keep one)")
    if args.limit < 1:
        raise CliError("--limit must be 1 or more")
    since = time.time() - args.days * 86400.0 if args.days is not None else None
    rows = UnansweredLog(path).top(args.limit, since)
    if not rows:
        print("no unanswered questions recorded")
        return EXIT_OK
    print(f"{'times':>5}  {'got':<17}  question")
    for row in rows:
        print(f"{row.count:>5}  {'+'.join(row.kinds):<17}  {row.text}")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    knowledge = _knowledge(_settings(args))
    ids = list(knowledge.topics) if args.topics == ["all"] else args.topics
    unknown = [t for t in ids if t not in knowledge.topics]
    if unknown:
        raise CliError(f"unknown topic(s): {', '.join(unknown)}")
    print("# Approvals: keep in your deployment's knowledge folder (mbcbot --knowledge DIR).")
    print("# Each approval holds only while the topic's content matches its content_hash.")
    print("reviews:")
    for tid in ids:
        topic = knowledge.topics[tid]
        print(f"  - topic: {tid}")
        print("    status: approved")
        print(f"    reviewed_on: {date.today().isoformat()}")
        print(f"    reviewed_by: {json.dumps(args.by)}")
        print(f"    content_hash: {topic.content_hash}")
    return EXIT_OK


def cmd_telegram(args: argparse.Namespace) -> int:
    if args.webhook and args.port is None:
        raise CliError("--webhook needs --port (the local port your HTTPS proxy forwards to)")
    settings = _settings(args)
    if settings.audience == "patient":
        settings = settings.with_overrides(consent_required=True)
    try:
        from .telegram import run as telegram_run
    except ImportError as exc:
        raise CliError("the Telegram bot needs python-telegram-bot: pip install 'mbcbot[telegram]'") from exc
    _configure_logging(settings)
    return telegram_run.main(args, settings)


def cmd_slack(args: argparse.Namespace) -> int:
    if args.action == "manifest":
        from .slack.manifest import http_manifest_text, manifest_text

        print(http_manifest_text(args.request_url) if args.request_url else manifest_text(), end="")
        return EXIT_OK
    if args.request_url:
        raise CliError("--request-url goes with 'mbcbot slack manifest'; the bot itself listens with --http --port")
    if args.http and args.port is None:
        raise CliError("--http needs --port (the local port your HTTPS proxy forwards Slack's requests to)")
    settings = _settings(args)
    try:
        from .slack import run as slack_run
    except ImportError as exc:
        raise CliError("the Slack bot needs slack-bolt: pip install 'mbcbot[slack]'") from exc
    _configure_logging(settings)
    return slack_run.main(args, settings)


COMMANDS = {"chat": cmd_chat, "ask": cmd_ask, "validate": cmd_validate, "test": cmd_test, "approve": cmd_approve,
            "report": cmd_report,
            "telegram": cmd_telegram, "slack": cmd_slack}


def main(argv: list[str] | None = None) -> int:
    args = _parse(_parser(), argv)
    try:
        return COMMANDS[args.command](args)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"mbcbot: the knowledge has {len(exc.problems)} problem(s); not starting (run 'mbcbot validate')", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, CliError, ValueError, DialogueError) as exc:
        print(f"mbcbot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
