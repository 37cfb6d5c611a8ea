"""An opt-in record of questions the bot could not answer, for the knowledge authors.

With ``record_unanswered: true`` the session keeps each typed question that got the
"I don't know" fallback or a "which topic did you mean?" clarification, in a SQLite
file of its own (``unanswered_path``; by default ``unanswered.db`` next to the SQLite
conversation store). Only the question text, the time, the reply kind and a salted hash of
the conversation are kept: no conversation id, user, chat or channel. The hash (its salt is
random per file) lets ``/forget`` delete that conversation's questions too; it cannot be
turned back into an id. Emergencies (urgent replies) and answered questions are never
recorded. The file is private to the bot's user, questions older than the retention time
are deleted while the bot runs, and ``mbcbot report unanswered`` shows the most frequent ones.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError
from .storage.sqlite import PURGE_EVERY_S, make_private

MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class UnansweredQuestion:
    """One question as reported: how often it was asked (case and spacing ignored) and when last."""

    text: str
    count: int
    kinds: tuple[str, ...]
    last_at: float


class UnansweredLog:
    """Questions in a SQLite file; safe across threads and processes."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 5.0, retention_s: float | None = None) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.retention_s = retention_s
        self._local = threading.local()
        self._next_purge = 0.0
        try:
            make_private(self.path)
            db = self._db()
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS unanswered (
                    question TEXT NOT NULL, folded TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS unanswered_folded ON unanswered(folded);
                CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                """
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(unanswered)")}
            if "conversation" not in columns:  # a record from before forget reached it
                db.execute("ALTER TABLE unanswered ADD COLUMN conversation TEXT NOT NULL DEFAULT ''")
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('salt', ?)", (secrets.token_hex(16),))
            self._salt = db.execute("SELECT value FROM meta WHERE name = 'salt'").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the unanswered-questions record at {self.path}: {exc}") from exc
        if retention_s is not None:  # at start-up, then every few minutes of recording
            self._purge_if_due(time.time())

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_s)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA secure_delete=ON")
            self._local.db = db
        return db

    def _hash(self, conversation: str) -> str:
        return hashlib.sha256(f"{self._salt}:{conversation}".encode()).hexdigest()[:32] if conversation else ""

    def record(self, text: str, kind: str, now: float, conversation: str = "") -> None:
        """Keep one question (text only, with the time, the reply kind and the conversation's hash)."""
        text = " ".join(text.split())[:MAX_TEXT_CHARS]
        if not text:
            return
        try:
            self._db().execute(
                "INSERT INTO unanswered (question, folded, kind, at, conversation) VALUES (?, ?, ?, ?, ?)",
                (text, text.casefold(), kind, now, self._hash(conversation)),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"could not record an unanswered question: {exc}") from exc
        if self.retention_s is not None:
            self._purge_if_due(now)

    def _purge_if_due(self, now: float) -> None:
        assert self.retention_s is not None
        if time.time() >= self._next_purge:
            self._next_purge = time.time() + PURGE_EVERY_S
            self.purge(now - self.retention_s)

    def forget(self, conversation: str) -> int:
        """Delete a conversation's questions, leaving no copy in the write-ahead log; how many."""
        if not conversation:
            return 0
        try:
            db = self._db()
            gone = db.execute("DELETE FROM unanswered WHERE conversation = ?", (self._hash(conversation),)).rowcount
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"could not delete unanswered questions: {exc}") from exc
        return gone

    def top(self, limit: int = 20, since: float | None = None) -> list[UnansweredQuestion]:
        """The most frequent questions (most asked first, then most recent)."""
        try:
            rows = self._db().execute(
                "SELECT folded, COUNT(*), GROUP_CONCAT(DISTINCT kind), MAX(at), "
                "(SELECT question FROM unanswered u2 WHERE u2.folded = u.folded ORDER BY at DESC LIMIT 1) "
                "FROM unanswered u WHERE at >= ? GROUP BY folded ORDER BY COUNT(*) DESC, MAX(at) DESC LIMIT ?",
                (since if since is not None else float("-inf"), limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"could not read the unanswered questions: {exc}") from exc
        return [UnansweredQuestion(text, count, tuple(sorted(kinds.split(","))), last) for _, count, kinds, last, text in rows]

    def purge(self, before: float) -> int:
        """Delete questions recorded before ``before``."""
        try:
            return self._db().execute("DELETE FROM unanswered WHERE at < ?", (before,)).rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"could not delete old unanswered questions: {exc}") from exc

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def default_unanswered_path(store_url: str) -> Path:
    """``unanswered.db`` next to the SQLite conversation store (the user state directory otherwise)."""
    from .storage import default_sqlite_path

    url = (store_url or "sqlite").strip()
    if url.startswith("sqlite://") and url not in ("sqlite://",):
        return Path(url[len("sqlite://"):]).parent / "unanswered.db"
    if url.startswith("sqlite:") and url not in ("sqlite:",):
        return Path(url[len("sqlite:"):]).parent / "unanswered.db"
    return default_sqlite_path().parent / "unanswered.db"
