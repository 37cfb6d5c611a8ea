"""Operations: the rate limit at the front door, knowledge reload, logs, metrics, the unanswered record."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import threading
import urllib.request
from pathlib import Path

import pytest

from dialogue.config import Settings
from dialogue.engine import Engine, EngineOptions
from dialogue.errors import ConfigError
from dialogue.ratelimit import SlidingWindowLimiter
from dialogue.replies import Incoming, ReplyKind
from dialogue.runtime import build_limiter, build_session, install_reload_signal
from dialogue.session import Session
from dialogue.storage import MemoryStore
from dialogue.unanswered import UnansweredLog

from ..conftest import CORE, FIXTURES, body, kinds

FEVER = "I have a fever of 39 and I'm on chemo"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def limited_session(knowledge, limit: int = 3, **kw) -> tuple[Session, Clock]:
    clock = Clock()
    session = Session(Engine(knowledge, EngineOptions(audience="patient", **kw)), MemoryStore(), clock=clock,
                      limiter=SlidingWindowLimiter(limit))
    return session, clock


# --- rate limit ------------------------------------------------------------------------------------
def test_the_limiter_is_a_sliding_window_per_key() -> None:
    limiter = SlidingWindowLimiter(2, window_s=60)
    assert limiter.allow("a", 0) and limiter.allow("a", 10)
    assert not limiter.allow("a", 20)  # third in a minute
    assert limiter.allow("b", 20)  # another conversation has its own count
    assert not limiter.allow("a", 59.9)
    assert limiter.allow("a", 60.0)  # the turn at 0 left the window
    assert not limiter.allow("a", 61)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0)


def test_idle_keys_are_forgotten() -> None:
    limiter = SlidingWindowLimiter(1, window_s=60)
    limiter._SWEEP_EVERY = 10
    for i in range(9):
        limiter.allow(f"user-{i}", 0)
    assert len(limiter) == 9
    limiter.allow("late", 500)  # the 10th call sweeps
    assert len(limiter) == 1


def test_over_the_limit_a_turn_gets_a_friendly_reply_and_is_not_processed(knowledge) -> None:
    session, clock = limited_session(knowledge, limit=3)
    for _ in range(3):
        session.handle("c", Incoming(text="letrozole side effects", audience="patient"))
    assert session.peek("c").turn == 3
    replies = session.handle("c", Incoming(text="letrozole side effects"))
    assert kinds(replies) == ["fallback"]
    assert replies[0].text == knowledge.messages["rate_limited"].render("patient", {})
    assert "wait a minute" in replies[0].text
    assert session.peek("c").turn == 3  # not processed, not stored
    # button presses count too, and another conversation is not affected
    assert kinds(session.handle("c", Incoming(payload="m:"))) == ["fallback"]
    assert kinds(body(session.handle("other", Incoming(text="letrozole side effects")))) == ["answer"]
    clock.now += 61  # the window slides: the user may talk again
    assert kinds(body(session.handle("c", Incoming(text="letrozole side effects")))) == ["answer"]
    assert session.peek("c").turn == 4


def test_a_red_flag_over_the_limit_still_gets_its_urgent_reply(knowledge) -> None:
    session, _ = limited_session(knowledge, limit=1)
    session.handle("c", Incoming(text="hello"))
    unlimited = Session(Engine(knowledge, EngineOptions(audience="patient")), MemoryStore())
    expected = [r.text for r in unlimited.handle("x", Incoming(text=FEVER)) if r.kind is ReplyKind.URGENT]
    replies = session.handle("c", Incoming(text=FEVER))
    assert kinds(replies) == ["urgent", "fallback"]
    assert replies[0].text == expected[0]  # the same urgent reply, first
    assert "wait a minute" in replies[1].text
    assert session.peek("c").turn == 1


def test_the_rate_limit_setting(monkeypatch) -> None:
    assert Settings().rate_limit_per_minute == 20
    assert build_limiter(Settings()).limit == 20
    assert build_limiter(Settings.load(env={"MBCBOT_RATE_LIMIT_PER_MINUTE": "5"})).limit == 5
    assert build_limiter(Settings.load(env={"MBCBOT_RATE_LIMIT_PER_MINUTE": "0"})) is None
    with pytest.raises(ConfigError, match="rate_limit_per_minute"):
        Settings.load(env={"MBCBOT_RATE_LIMIT_PER_MINUTE": "-1"})
    with pytest.raises(ConfigError, match="MBCBOT_RATE_LIMIT_PER_MINUTE"):
        Settings.load(env={"MBCBOT_RATE_LIMIT_PER_MINUTE": "lots"})


def test_build_session_applies_the_rate_limit(knowledge) -> None:
    session = build_session(Settings(rate_limit_per_minute=2), store=MemoryStore(), knowledge=knowledge)
    answers = [headline(session.handle("c", Incoming(text="letrozole side effects"))) for _ in range(3)]
    assert answers[:2] == ["answer", "answer"] and answers[2] == "fallback"
    assert build_session(Settings(rate_limit_per_minute=0), store=MemoryStore(), knowledge=knowledge).limiter is None


def headline(replies) -> str:
    from dialogue.replies import headline_kind

    return headline_kind(replies).value


# --- knowledge reload ------------------------------------------------------------------------------
FIXTURE_DIRS = [CORE, FIXTURES / "topics"]


def fixture_session(knowledge) -> Session:
    return Session(Engine(knowledge, EngineOptions()), MemoryStore())


def test_a_broken_directory_is_rejected_and_the_old_knowledge_keeps_answering(knowledge, tmp_path: Path, caplog) -> None:
    session = fixture_session(knowledge)
    before = session.handle("c", Incoming(text="femera side effects"))
    assert body(before)[0].topic == "fx_ai_side_effects"
    (tmp_path / "bad.yaml").write_text("topics:\n  - id: x1\n    title: t\n    family: nope\n")
    engine = session.engine
    with caplog.at_level(logging.ERROR, logger="dialogue.session"):
        result = session.reload([*FIXTURE_DIRS, tmp_path], include_bundled=False)
    assert not result.ok
    assert any(p.file.endswith("bad.yaml") and p.line == 4 and "unknown family 'nope'" in p.message for p in result.problems)
    assert "unknown family 'nope'" in caplog.text and "still serving the previous knowledge" in caplog.text
    assert session.engine is engine
    after = session.handle("c", Incoming(text="femera side effects"))
    assert [r.text for r in body(after)] == [r.text for r in body(before)]


def test_a_directory_that_does_not_parse_or_does_not_exist_is_rejected(knowledge, tmp_path: Path) -> None:
    session = Session(Engine(knowledge, EngineOptions(locale="uk")), MemoryStore())
    (tmp_path / "bad.yaml").write_text("sources: [1, 2\n")
    result = session.reload([*FIXTURE_DIRS, tmp_path], include_bundled=False)
    assert not result.ok and any("bad.yaml" in str(p) for p in result.problems)
    engine = session.engine
    result = session.reload([tmp_path / "nowhere"], include_bundled=False)
    assert not result.ok and result.problems and session.engine is engine


def test_a_good_directory_is_picked_up(knowledge) -> None:
    session = fixture_session(knowledge)
    before = body(session.handle("c", Incoming(text="what are the side effects of ibrance?")))
    assert before[0].topic != "palbociclib_side_effects"
    result = session.reload([])  # the bundled knowledge
    assert result.ok
    after = body(session.handle("c", Incoming(text="what are the side effects of ibrance?")))
    assert after[0].kind is ReplyKind.ANSWER and after[0].topic == "palbociclib_side_effects"
    assert session.peek("c").turn == 2  # the conversation carried on


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_in_the_background(knowledge, tmp_path: Path) -> None:
    session = fixture_session(knowledge)
    results = []
    done = threading.Event()
    previous = signal.getsignal(signal.SIGHUP)
    try:
        assert install_reload_signal(session, [*FIXTURE_DIRS, tmp_path], include_bundled=False,
                                     on_done=lambda r: (results.append(r), done.set()))
        (tmp_path / "bad.yaml").write_text("sources: [1, 2\n")
        old = session.engine
        os.kill(os.getpid(), signal.SIGHUP)
        assert done.wait(60)
        assert not results[-1].ok and session.engine is old
        (tmp_path / "bad.yaml").unlink()
        done.clear()
        os.kill(os.getpid(), signal.SIGHUP)
        assert done.wait(60)
        assert results[-1].ok and session.engine is not old
    finally:
        signal.signal(signal.SIGHUP, previous)


# --- logs ------------------------------------------------------------------------------------------
def test_json_logs_of_a_full_conversation_hold_kinds_topic_latency_and_nothing_personal(knowledge, tmp_path) -> None:
    from bots.cli import _JsonFormatter

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        session = Session(Engine(knowledge, EngineOptions(audience="patient", consent_required=True)), MemoryStore(),
                          limiter=SlidingWindowLimiter(8), unanswered=UnansweredLog(tmp_path / "unanswered.db"))
        conversation = "telegram:chat-Jane.Doe-55501"
        script = [
            "Hello, I'm Jane Doe", "I understand", "my mum Margaret is ER+ HER2- postmenopausal, first line treatment?",
            FEVER, "should I stop my letrozole", "what is the weather in Reykjavik", "side effects of letrozole and ibrance",
        ]
        for text in script:
            session.handle(conversation, Incoming(text=text))
        session.handle(conversation, Incoming(payload="t:fx_cdk_side_effects"))
        session.handle(conversation, Incoming(text="Margaret again, about fever"))  # the 9th turn: rate limited
        session.forget(conversation)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    records = [json.loads(line) for line in lines]  # one JSON object a line
    turns = [r for r in records if r["message"] in ("turn handled", "turn rate limited")]
    assert len(turns) == 9
    assert all({"kinds", "topic", "latency_ms"} <= set(t) for t in turns)
    assert any(t["topic"] == "fx_cdk_side_effects" for t in turns)
    assert any("urgent" in t["kinds"] for t in turns) and turns[-1]["message"] == "turn rate limited"
    logged = "\n".join(lines)
    for fragment in ["Jane", "Doe", "Margaret", "55501", "ER+", "HER2-", "postmenopausal", "fever", "letrozole",
                     "Reykjavik", "weather", "positive", "negative", "telegram:"]:
        assert fragment.lower() not in logged.lower(), fragment


# --- metrics ---------------------------------------------------------------------------------------
def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the metrics")


def test_metrics_count_turns_by_kind_fallbacks_urgent_replies_and_latency(knowledge) -> None:
    from dialogue.metrics import Metrics

    metrics = Metrics()
    port = metrics.serve(0)
    try:
        session = Session(Engine(knowledge, EngineOptions(audience="patient")), MemoryStore(),
                          limiter=SlidingWindowLimiter(4), metrics=metrics)
        for text in ["letrozole side effects", "what is the weather", FEVER, "hello", "letrozole side effects"]:
            session.handle("conv-XYZ", Incoming(text=text))
        text = scrape(port)
    finally:
        metrics.close()
    assert sample(text, 'mbcbot_turns_total{kind="answer"}') == 1
    assert sample(text, 'mbcbot_turns_total{kind="urgent"}') == 1
    assert sample(text, 'mbcbot_turns_total{kind="fallback"}') == 3  # weather, hello, and the rate-limited turn
    assert sample(text, 'mbcbot_turns_total{kind="refusal"}') == 0
    assert sample(text, "mbcbot_fallbacks_total") == 3
    assert sample(text, "mbcbot_urgent_replies_total") >= 1
    assert sample(text, "mbcbot_rate_limited_total") == 1
    assert sample(text, "mbcbot_turn_latency_seconds_count") == 5
    assert sample(text, "mbcbot_turn_latency_seconds_sum") > 0
    assert "conv-XYZ" not in text and "weather" not in text  # labels are kinds and buckets only


def test_metrics_are_off_by_default_and_on_with_the_port_setting(knowledge) -> None:
    import socket

    assert Settings().metrics_port == 0
    assert build_session(Settings(), store=MemoryStore(), knowledge=knowledge).metrics is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings.load(env={"MBCBOT_METRICS_PORT": str(port)})
    session = build_session(settings, store=MemoryStore(), knowledge=knowledge)
    try:
        session.handle("c", Incoming(text="letrozole side effects"))
        assert sample(scrape(port), 'mbcbot_turns_total{kind="answer"}') == 1
    finally:
        session.metrics.close()
    with pytest.raises(ConfigError, match="metrics_port"):
        Settings.load(env={"MBCBOT_METRICS_PORT": "70000"})


# --- unanswered questions --------------------------------------------------------------------------
def test_only_questions_without_an_answer_are_recorded_and_without_identifiers(knowledge, tmp_path: Path) -> None:
    record = UnansweredLog(tmp_path / "u.db")
    clock = Clock()
    session = Session(Engine(knowledge, EngineOptions()), MemoryStore(), clock=clock, unanswered=record)
    for text in ["What is the weather   in Paris", "letrozole side effects", FEVER, "hello",
                 "side effects of letrozole and ibrance", "what is the WEATHER in paris"]:
        session.handle("slack:T01:C02:U0SECRET", Incoming(text=text))
    session.handle("slack:T01:C02:U0SECRET", Incoming(payload="m:"))
    top = record.top()
    assert [(q.text.lower(), q.count, q.kinds) for q in top] == [
        ("what is the weather in paris", 2, ("fallback",)),
        ("side effects of letrozole and ibrance", 1, ("clarify",)),
    ]
    assert top[0].last_at == clock.now
    db = sqlite3.connect(tmp_path / "u.db")
    # the conversation only as a salted hash (for /forget), never its id
    assert [c[1] for c in db.execute("PRAGMA table_info(unanswered)")] == ["question", "folded", "kind", "at", "conversation"]
    dump = "\n".join(db.iterdump())
    assert "SECRET" not in dump and "slack" not in dump and "fever" not in dump and "letrozole side effects'" not in dump


def test_the_record_is_off_by_default_and_lives_next_to_the_store(knowledge, tmp_path: Path) -> None:
    assert build_session(Settings(), store=MemoryStore(), knowledge=knowledge).unanswered is None
    settings = Settings.load(env={"MBCBOT_RECORD_UNANSWERED": "true", "MBCBOT_STORE": f"sqlite://{tmp_path}/c.db"})
    session = build_session(settings, knowledge=knowledge)
    session.handle("c", Incoming(text="what is the weather"))
    assert (tmp_path / "unanswered.db").exists()
    assert UnansweredLog(tmp_path / "unanswered.db").top()[0].text == "what is the weather"


def test_a_failing_record_does_not_cost_the_answer(knowledge) -> None:
    class Broken:
        def record(self, text, kind, now):
            raise sqlite3.OperationalError("disk full")

    session = Session(Engine(knowledge, EngineOptions()), MemoryStore(), unanswered=Broken())
    replies = body(session.handle("c", Incoming(text="what is the weather")))
    assert kinds(replies) == ["fallback"] and replies[0].buttons


def test_forget_deletes_the_conversations_unanswered_questions_and_leaves_no_copy(knowledge, tmp_path: Path) -> None:
    path = tmp_path / "unanswered.db"
    session = Session(Engine(knowledge, EngineOptions()), MemoryStore(), unanswered=UnansweredLog(path))
    session.handle("mine", Incoming(text="is PRIVATEWORD good for dogs"))
    session.handle("other", Incoming(text="what is the weather"))
    assert len(UnansweredLog(path).top()) == 2
    session.forget("mine")
    assert [q.text for q in UnansweredLog(path).top()] == ["what is the weather"]
    for suffix in ("", "-wal"):
        file = Path(f"{path}{suffix}")
        assert not file.exists() or b"privateword" not in file.read_bytes().lower(), suffix


def test_the_unanswered_record_is_private_and_keeps_no_conversation_id(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        log = UnansweredLog(tmp_path / "state" / "unanswered.db")
        log.record("what is the weather", "fallback", 100.0, "slack:T1:C1:123.456")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    for file in (tmp_path / "state").iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
        assert b"C1:123.456" not in file.read_bytes()


def test_old_unanswered_questions_are_deleted_while_the_bot_runs(tmp_path: Path) -> None:
    import time

    log = UnansweredLog(tmp_path / "u.db", retention_s=60.0)
    log.record("an old question", "fallback", time.time() - 3600)
    log._next_purge = 0.0  # as if the purge interval had passed
    log.record("a new question", "fallback", time.time())
    assert [q.text for q in log.top()] == ["a new question"]
