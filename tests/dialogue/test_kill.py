"""A process killed (SIGKILL) in the middle of turns leaves the SQLite store sound and the conversation resumable."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialogue.engine import Engine, EngineOptions
from dialogue.replies import Incoming, ReplyKind
from dialogue.session import Session
from dialogue.storage import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import sys
from dialogue.engine import Engine, EngineOptions
from dialogue.loader import bundled_knowledge_dir, load_knowledge
from dialogue.replies import Incoming
from dialogue.session import Session
from dialogue.storage import SQLiteStore
from pathlib import Path

fixtures = Path(sys.argv[2])
knowledge = load_knowledge([bundled_knowledge_dir() / "core", fixtures], include_bundled=False)
session = Session(Engine(knowledge, EngineOptions()), SQLiteStore(sys.argv[1]))
texts = ["letrozole side effects", "1L options MBC", "what is the weather", "ibrance side effects", "hello"]
i = 0
while True:
    session.handle("k", Incoming(text=texts[i % len(texts)]))
    session.handle(f"other-{i % 7}", Incoming(text="hello"))
    i += 1
    print(i, flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_kill_9_mid_turn_corrupts_nothing_and_the_conversation_continues(tmp_path: Path, knowledge) -> None:
    path = tmp_path / "c.db"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), str(ROOT / "tests" / "fixtures" / "topics")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        for _ in range(25):  # let it get going, then kill it wherever it is
            assert worker.stdout.readline(), worker.stderr.read()
        time.sleep(0.013)
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stdout.close()
        worker.stderr.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    store = SQLiteStore(path)
    state = store.load("k", time.time())
    assert state is not None and state.turn >= 25  # every committed turn is there
    session = Session(Engine(knowledge, EngineOptions()), store)
    replies = session.handle("k", Incoming(text="letrozole side effects"))
    assert any(r.kind is ReplyKind.ANSWER for r in replies)
    assert store.load("k", time.time()).turn == state.turn + 1
    store.close()
