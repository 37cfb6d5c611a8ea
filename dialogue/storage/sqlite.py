"""Conversations in a SQLite file, shared safely by threads and processes.

A turn runs inside ``BEGIN IMMEDIATE``, so two messages of one conversation are handled one
after the other and neither update is lost. The file holds three tables: ``conversations``,
``claims`` (deduplication marks) and ``inbox`` (events accepted but not yet answered, see
:mod:`dialogue.storage.base`).

Privacy at rest: the folder is made private to the bot's user (0700) and the database and
its ``-wal`` and ``-shm`` files are 0600, whatever the umask. ``secure_delete`` is on, and a
deleted conversation is checkpointed out of the write-ahead log at once, so nothing of it
stays readable in either file. Retention runs while the bot runs: expired conversations,
claims and inbox entries are purged every few minutes of activity, after the turn's commit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError
from ..state import ConversationState
from .base import DEFAULT_RETENTION_S, decode_state, encode_state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    key TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
CREATE TABLE IF NOT EXISTS claims (
    namespace TEXT NOT NULL, key TEXT NOT NULL, expires_at REAL NOT NULL, owner TEXT NOT NULL,
    PRIMARY KEY (namespace, key));
CREATE INDEX IF NOT EXISTS claims_owner ON claims(owner);
CREATE TABLE IF NOT EXISTS inbox (
    key TEXT PRIMARY KEY, conversation TEXT NOT NULL, job TEXT, owner TEXT NOT NULL,
    lease_until REAL NOT NULL, expires_at REAL NOT NULL, answered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS inbox_waiting ON inbox(answered, lease_until);
CREATE INDEX IF NOT EXISTS inbox_conversation ON inbox(conversation);
"""

PURGE_EVERY_S = 300.0  # how often a running store deletes what retention no longer allows
OPEN_RETRY_S = 10.0  # processes starting together on a new file wait this long for each other


def make_private(path: Path) -> None:
    """The file (with its -wal and -shm) 0600, created if missing; a folder created for it 0700.

    A folder that already exists keeps its mode: it is the deployment's (a shared data folder, a
    mounted volume), and narrowing it could lock out the other programs that use it.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.chmod(f"{path}{suffix}", 0o600)
        except FileNotFoundError:
            pass


class SQLiteStore:
    """Conversations, claims and the inbox in a SQLite file."""

    def __init__(self, path: str | Path, retention_s: float = DEFAULT_RETENTION_S, busy_timeout_s: float = 10.0,
                 purge_every_s: float = PURGE_EVERY_S) -> None:
        self.path = Path(path)
        self.retention_s = retention_s
        self.busy_timeout_ms = int(busy_timeout_s * 1000)
        self.purge_every_s = purge_every_s
        self._local = threading.local()
        self._next_purge = 0.0
        try:
            make_private(self.path)
            self._create_schema()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the conversation store at {self.path}: {exc}") from exc
        self.purge(time.time())
        self._next_purge = time.time() + purge_every_s

    def _create_schema(self) -> None:
        """Create the tables; several processes opening a new file at once take turns."""
        deadline = time.monotonic() + OPEN_RETRY_S
        while True:
            try:
                self._db().executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
            db.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            deadline = time.monotonic() + OPEN_RETRY_S
            while True:  # switching to WAL does not wait for a busy file by itself
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed: a deleted conversation is unreadable
            self._local.db = db
            self._local.depth = 0
        return db

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"conversation store failed to {what}: {exc}") from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, unless a turn's transaction is already open on this thread."""
        db = self._db()
        own = not self._local.depth
        with self._errors(what):
            if own:
                db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                if own:
                    db.execute("COMMIT")
            except BaseException:
                if own:
                    db.execute("ROLLBACK")
                raise

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        db = self._db()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._errors("lock a conversation"):
            db.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield
        except BaseException:
            self._local.depth = 0
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        self._local.depth = 0
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StoreError(f"conversation store failed to save: {exc}") from exc
        self._purge_if_due()

    def load(self, key: str, now: float) -> ConversationState | None:
        with self._errors("read"):
            row = self._db().execute("SELECT state, updated_at FROM conversations WHERE key = ?", (key,)).fetchone()
        if row is None or now - row[1] > self.retention_s:
            return None
        return decode_state(key, row[0])

    def save(self, key: str, state: ConversationState, now: float) -> None:
        with self._errors("save"):
            self._db().execute(
                "INSERT INTO conversations (key, state, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (key, encode_state(state), now),
            )
        if not self._local.depth:
            self._purge_if_due()

    def delete(self, key: str) -> bool:
        with self._errors("delete"), self.locked(key):
            db = self._db()
            gone = db.execute("DELETE FROM conversations WHERE key = ?", (key,)).rowcount
            db.execute("DELETE FROM claims WHERE owner = ?", (key,))
            db.execute("DELETE FROM inbox WHERE conversation = ?", (key,))
        self.checkpoint()
        return gone > 0

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the file and empty it (no old page versions stay behind).

        Best effort: a reader in another process can keep some frames until it finishes.
        """
        if self._local.depth:
            return
        with self._errors("checkpoint"):
            self._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool:
        with self._transaction("record an event") as db:
            row = db.execute("SELECT expires_at FROM claims WHERE namespace = ? AND key = ?", (namespace, key)).fetchone()
            fresh = row is None or row[0] <= now
            if fresh:
                db.execute("INSERT OR REPLACE INTO claims (namespace, key, expires_at, owner) VALUES (?, ?, ?, ?)",
                           (namespace, key, now + ttl_s, owner))
        return fresh

    # --- the inbox (see base.EventInbox) ---------------------------------------------------
    def accept(self, key: str, job: str, conversation: str, owner: str, lease_s: float, ttl_s: float,
               now: float) -> bool:
        with self._transaction("record an event") as db:
            row = db.execute("SELECT owner, lease_until, expires_at, answered FROM inbox WHERE key = ?",
                             (key,)).fetchone()
            if row is None or row[2] <= now:
                db.execute("INSERT OR REPLACE INTO inbox (key, conversation, job, owner, lease_until, expires_at, "
                           "answered) VALUES (?, ?, ?, ?, ?, ?, 0)", (key, conversation, job, owner, now + lease_s,
                                                                      now + ttl_s))
                return True
            held_elsewhere = row[0] != owner and row[1] > now
            if row[3] or held_elsewhere:
                return False
            db.execute("UPDATE inbox SET owner = ?, lease_until = ? WHERE key = ?", (owner, now + lease_s, key))
            return True

    def renew(self, keys: Sequence[str], owner: str, lease_s: float, now: float) -> list[str]:
        held: list[str] = []
        with self._transaction("renew a lease") as db:
            for key in keys:
                if db.execute("UPDATE inbox SET lease_until = ? WHERE key = ? AND owner = ? AND answered = 0",
                              (now + lease_s, key, owner)).rowcount:
                    held.append(key)
        return held

    def answered(self, key: str, now: float) -> None:
        with self._transaction("mark an event answered") as db:
            db.execute("UPDATE inbox SET answered = 1, job = NULL WHERE key = ?", (key,))

    def take_expired(self, owner: str, lease_s: float, now: float, limit: int = 10,
                     prefix: str = "") -> list[tuple[str, str]]:
        with self._transaction("take over an event") as db:
            rows = db.execute("SELECT key, job FROM inbox WHERE answered = 0 AND lease_until <= ? AND expires_at > ? "
                              "AND job IS NOT NULL AND substr(key, 1, ?) = ? ORDER BY lease_until LIMIT ?",
                              (now, now, len(prefix), prefix, limit)).fetchall()
            for key, _ in rows:
                db.execute("UPDATE inbox SET owner = ?, lease_until = ? WHERE key = ?", (owner, now + lease_s, key))
        return [(key, job) for key, job in rows]

    def conversations_like(self, prefix: str, suffix: str) -> list[str]:
        with self._errors("read"):  # a range on the key: the primary key's index finds the prefix
            rows = self._db().execute("SELECT key FROM conversations WHERE key >= ? AND key < ? ORDER BY key",
                                      (prefix, prefix + "\U0010ffff")).fetchall()
        return [key for (key,) in rows if key.endswith(suffix) and len(key) >= len(prefix) + len(suffix)]

    # --- retention -------------------------------------------------------------------------
    def _purge_if_due(self) -> None:
        now = time.time()
        if now >= self._next_purge:
            self._next_purge = now + self.purge_every_s
            try:
                self.purge(now)
            except StoreError:
                pass  # retried at the next interval; a turn never fails for it

    def purge(self, now: float) -> int:
        with self._transaction("purge") as db:
            gone = db.execute("DELETE FROM conversations WHERE updated_at < ?", (now - self.retention_s,)).rowcount
            db.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM inbox WHERE expires_at <= ?", (now,))
        return gone

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
