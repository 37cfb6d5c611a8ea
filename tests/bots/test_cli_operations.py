"""Operations from the command line: SIGHUP reload in the console, ``mbcbot report unanswered``."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dialogue.unanswered import UnansweredLog

from .test_cli import ROOT, mbcbot


def test_report_unanswered_prints_the_most_frequent_questions(tmp_path: Path) -> None:
    record = UnansweredLog(tmp_path / "u.db")
    now = time.time()
    for text, kind in [("what is the weather", "fallback"), ("What is  the weather", "fallback"),
                       ("side effects of letrozole and ibrance", "clarify"), ("who won the match", "fallback"),
                       ("what is the weather", "fallback")]:
        record.record(text, kind, now)
    record.record("an old question", "fallback", now - 10 * 86400)
    out = mbcbot("report", "unanswered", "--path", str(tmp_path / "u.db"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split() == ["3", "fallback", "what", "is", "the", "weather"]
    assert len(lines) == 5 and "clarify" in out.stdout
    recent = mbcbot("report", "unanswered", "--path", str(tmp_path / "u.db"), "--days", "1", "--limit", "1", cwd=tmp_path)
    assert recent.stdout.splitlines()[1:] == [lines[1]]


def test_report_unanswered_finds_the_record_next_to_the_store_or_says_there_is_none(tmp_path: Path) -> None:
    env = {"MBCBOT_STORE": f"sqlite://{tmp_path}/c.db"}
    missing = mbcbot("report", "unanswered", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "record_unanswered" in missing.stderr and "Traceback" not in missing.stderr
    UnansweredLog(tmp_path / "unanswered.db").record("what is the weather", "fallback", time.time())
    out = mbcbot("report", "unanswered", env=env, cwd=tmp_path)
    assert out.returncode == 0 and "what is the weather" in out.stdout


def test_ask_records_nothing_and_chat_records_only_when_asked(tmp_path: Path) -> None:
    env = {"MBCBOT_STORE": f"sqlite://{tmp_path}/c.db"}
    mbcbot("chat", stdin="what is the weather in paris\n/quit\n", env=env, cwd=tmp_path)
    assert not (tmp_path / "unanswered.db").exists()
    mbcbot("chat", stdin="what is the weather in paris\n/quit\n", env={**env, "MBCBOT_RECORD_UNANSWERED": "1"}, cwd=tmp_path)
    out = mbcbot("report", "unanswered", env=env, cwd=tmp_path)
    assert "what is the weather in paris" in out.stdout


class Lines:
    """Lines of a child's stream, read by a thread (select() does not see what a text stream has buffered)."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line)
        self.queue.put("")

    def until(self, needle: str, timeout: float = 60.0) -> str:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{needle!r} not seen in time; saw: {seen}") from None
            assert line, f"stream closed; saw: {seen}"
            seen.append(line)
            if needle in line:
                return "".join(seen)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_the_console_chat_and_keeps_the_old_knowledge_when_the_new_is_broken(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    env = {**os.environ, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / ".state"), "PYTHONUNBUFFERED": "1"}
    env.pop("MBCBOT_CONFIG", None)
    chat = subprocess.Popen(
        [sys.executable, "-m", "bots", "chat", "--store", "memory", "--knowledge", str(extra)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, bufsize=1,
    )
    try:
        out, err = Lines(chat.stdout), Lines(chat.stderr)
        out.until("mbcbot console")  # the handler is installed before the banner
        (extra / "bad.yaml").write_text("topics:\n  - id: x1\n    title: t\n    family: nope\n")
        chat.send_signal(signal.SIGHUP)
        errors = err.until( "still using the previous knowledge")
        assert "bad.yaml:4: unknown family 'nope'" in errors
        chat.stdin.write("what are the side effects of ibrance?\n")
        chat.stdin.flush()
        assert "Sources" in out.until( "Sources")  # still answering
        (extra / "bad.yaml").unlink()
        chat.send_signal(signal.SIGHUP)
        err.until( "knowledge reloaded")
        chat.stdin.write("/quit\n")
        chat.stdin.flush()
        assert chat.wait(60) == 0
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
        for stream in (chat.stdin, chat.stdout, chat.stderr):
            stream.close()
