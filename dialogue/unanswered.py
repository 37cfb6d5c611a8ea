"""An opt-in record of questions the bot could not answer, for the knowledge authors.

With ``record_unanswered: true`` the session keeps each typed question that got the
"I don't know" fallback or a "which topic did you mean?" clarification, in a SQLite
file of its own (``unanswered_path``; by default ``unanswered.db`` next to the SQLite
conversation store). Only the question text, the time and the reply kind are kept:
no conversation id, user, chat or channel, so a row cannot be tied back to a person.
Emergencies (urgent replies) and answered questions are never recorded.
``mbcbot report unanswered`` shows the most frequent ones.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

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

    def __init__(self, path: str | Path, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db().executescript(
                """
                CREATE TABLE IF NOT EXISTS unanswered (
                    question TEXT NOT NULL, folded TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS unanswered_folded ON unanswered(folded);
                """
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the unanswered-questions record at {self.path}: {exc}") from exc

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_s)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    def record(self, text: str, kind: str, now: float) -> None:
        """Keep one question (text only, with the time and the reply kind)."""
        text = " ".join(text.split())[:MAX_TEXT_CHARS]
        if not text:
            return
        try:
            self._db().execute(
                "INSERT INTO unanswered (question, folded, kind, at) VALUES (?, ?, ?, ?)", (text, text.casefold(), kind, now)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"could not record an unanswered question: {exc}") from exc

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
        with sqlite3.connect(self.path, timeout=self.busy_timeout_s) as db:
            return db.execute("DELETE FROM unanswered WHERE at < ?", (before,)).rowcount

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
