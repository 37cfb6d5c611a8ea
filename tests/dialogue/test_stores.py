"""Stores keep conversations safely: round trips, retention, forget, claims, processes racing."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from dialogue.engine import Engine, EngineOptions
from dialogue.errors import ConfigError, StoreError
from dialogue.replies import Incoming, ReplyKind
from dialogue.session import Session
from dialogue.state import ConversationState
from dialogue.storage import MemoryStore, SQLiteStore, open_store

from ..conftest import CORE, FIXTURES


def make_state(turn: int = 1) -> ConversationState:
    return ConversationState(audience="patient", slots={"hr": "positive"}, last_topic="t", turn=turn, updated_at=100.0)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path: Path):
    s = MemoryStore(retention_s=1000) if request.param == "memory" else SQLiteStore(tmp_path / "c.db", retention_s=1000)
    yield s
    s.close()


def test_a_saved_conversation_comes_back_unchanged(store) -> None:
    state = make_state()
    store.save("k", state, 100.0)
    assert store.load("k", 101.0) == state


def test_conversations_expire_after_the_retention_time(store) -> None:
    store.save("k", make_state(), 100.0)
    assert store.load("k", 1101.0) is None
    store.save("old", make_state(), 100.0)
    store.save("new", make_state(), 900.0)
    store.purge(1500.0)
    assert store.load("new", 1500.0) is not None


def test_forget_removes_the_conversation_and_its_claims(store) -> None:
    store.save("k", make_state(), 100.0)
    assert store.claim("slack-event", "Ev1", 60, 100.0, owner="k")
    assert store.delete("k") is True
    assert store.load("k", 100.0) is None
    assert store.claim("slack-event", "Ev1", 60, 100.0, owner="k")  # the claim went too
    assert store.delete("k") is False


def test_a_claim_is_granted_once_until_it_expires(store) -> None:
    assert store.claim("ns", "e1", 10, 0.0)
    assert not store.claim("ns", "e1", 10, 5.0)
    assert store.claim("ns", "e1", 10, 11.0)


def test_a_corrupted_record_is_discarded_not_trusted(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    db = sqlite3.connect(tmp_path / "c.db")
    db.execute("INSERT INTO conversations VALUES ('k', '{\"v\": 1, \"slots\": 5}', 1e12)")
    db.commit()
    assert store.load("k", 1e12) is None


def test_open_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    assert isinstance(open_store(f"sqlite://{tmp_path}/a.db"), SQLiteStore)
    assert (tmp_path / "a.db").exists()
    with pytest.raises(ConfigError, match="unknown store"):
        open_store("mongodb://x")


def test_an_unwritable_sqlite_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError):
        SQLiteStore(tmp_path / "file" / "c.db")


def _race(path: str, count: int) -> None:
    from dialogue.loader import load_knowledge

    knowledge = load_knowledge([CORE, FIXTURES / "topics"], include_bundled=False)
    session = Session(Engine(knowledge, EngineOptions()), SQLiteStore(path))
    for i in range(count):
        session.handle("shared", Incoming(text="letrozole side effects" if i % 2 else "ibrance side effects"))
        session.handle(f"own-{multiprocessing.current_process().pid}-{i}", Incoming(text="hello"))


def test_two_processes_on_one_conversation_lose_no_update(tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_race, args=(path, 40)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    state = SQLiteStore(path).load("shared", __import__("time").time())
    assert state is not None and state.turn == 80
    count = sqlite3.connect(path).execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
    assert count == 81


class BrokenStore(MemoryStore):
    def load(self, key, now):
        raise StoreError("disk I/O error")


def test_a_failing_store_still_gets_urgent_replies_out_and_apologises(knowledge) -> None:
    session = Session(Engine(knowledge, EngineOptions(audience="patient")), BrokenStore())
    replies = session.handle("k", Incoming(text="I have a fever of 39"))
    assert [r.kind for r in replies] == [ReplyKind.URGENT, ReplyKind.FALLBACK]
    assert "try again" in replies[-1].text
    calm = session.handle("k", Incoming(text="letrozole side effects"))
    assert [r.kind for r in calm] == [ReplyKind.FALLBACK]


def test_sqlite_locked_by_another_writer_times_out_into_an_apology(tmp_path: Path, knowledge) -> None:
    path = tmp_path / "c.db"
    store = SQLiteStore(path, busy_timeout_s=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        session = Session(Engine(knowledge, EngineOptions()), store)
        replies = session.handle("k", Incoming(text="letrozole side effects"))
        assert replies[-1].kind is ReplyKind.FALLBACK and "try again" in replies[-1].text
    finally:
        blocker.execute("ROLLBACK")
    replies = session.handle("k", Incoming(text="letrozole side effects"))
    assert any(r.kind is ReplyKind.ANSWER for r in replies)


def test_logs_of_a_conversation_hold_no_message_text_or_slots(knowledge, caplog) -> None:
    import logging

    session = Session(Engine(knowledge, EngineOptions(audience="patient")), MemoryStore())
    secret = "my mum Jane Doe is ER+ HER2- postmenopausal, what first line treatment"
    with caplog.at_level(logging.DEBUG):
        for text in [secret, "I have a fever of 39", "should I stop my letrozole"]:
            session.handle("conversation-42", Incoming(text=text))
    logged = " ".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert caplog.records
    for fragment in ["Jane", "ER+", "postmenopausal", "fever", "letrozole", "positive"]:
        assert fragment not in logged


class FullDiskStore(SQLiteStore):
    """SQLite as on a full disk: no page may be added past the current size."""

    full = False

    def _db(self):  # noqa: ANN202
        db = super()._db()
        if self.full:
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
        else:
            db.execute("PRAGMA max_page_count = 1073741823")
        return db


def test_a_full_disk_gets_an_apology_and_keeps_the_conversation_intact(tmp_path: Path, knowledge) -> None:
    import time

    store = FullDiskStore(tmp_path / "c.db")
    session = Session(Engine(knowledge, EngineOptions(audience="patient", consent_required=True)), store)
    session.handle("k", Incoming(text="hello"))
    before = store.load("k", time.time()).to_dict()
    store.full = True
    # New conversations that each keep a long question (asked before consent) fill the pages.
    apologies = 0
    for i in range(60):
        replies = session.handle(f"new-{i}", Incoming(text="what are the side effects " + "y" * 1900))
        apologies += "try again" in replies[-1].text
        if apologies:
            break
    assert apologies, "the store never reported a full disk"
    urgent = session.handle("new-urgent", Incoming(text="I have a fever of 39"))
    assert urgent[0].kind is ReplyKind.URGENT
    assert store.load("k", time.time()).to_dict() == before
    store.full = False
    session.handle("k", Incoming(text="I understand"))
    assert store.load("k", time.time()).turn == before["turn"] + 1


OPENER = """
import sys
from dialogue.storage import SQLiteStore
sys.stdin.readline()  # wait for the starting gun, so every process opens the new file together
SQLiteStore(sys.argv[1]).close()
print("ok")
"""


def test_several_processes_opening_a_new_file_at_once_never_fail(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.db"
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path)], cwd=root, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=60) for proc in procs]
        assert [out.strip() for out, _ in results] == ["ok"] * 8, [err for _, err in results if err][:1]


def test_the_earlier_module_names_still_give_the_same_stores() -> None:
    """Deployments that import from dialogue.stores keep working for a release (README, migration note)."""
    import dialogue.storage as storage
    import dialogue.stores as stores

    assert stores.__all__ == storage.__all__
    assert all(getattr(stores, name) is getattr(storage, name) for name in storage.__all__)
