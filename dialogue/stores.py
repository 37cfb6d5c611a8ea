"""Where conversations are kept between messages.

Every store implements :class:`ConversationStore`. :class:`MemoryStore` is for tests and
one-shot use; :class:`SQLiteStore` is the default and is safe across threads and
processes: a turn runs inside ``BEGIN IMMEDIATE``, so two messages of one conversation
are handled one after the other and neither update is lost. A Redis store implements
the same interface.

Stores also keep short-lived *claims* (``claim``): an adapter records a platform event
id there so a redelivered event is not answered twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from .errors import ConfigError, StoreError
from .state import ConversationState

log = logging.getLogger(__name__)

DEFAULT_RETENTION_S = 30 * 24 * 3600.0


class ConversationStore(Protocol):
    """What the session needs from a store."""

    retention_s: float

    def locked(self, key: str) -> Iterator[None]:
        """Context manager: hold the conversation while a turn is handled."""
        ...

    def load(self, key: str, now: float) -> ConversationState | None: ...

    def save(self, key: str, state: ConversationState, now: float) -> None: ...

    def delete(self, key: str) -> bool:
        """Remove everything stored about the conversation (and its claims)."""
        ...

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool:
        """Record ``key`` once; False if it was already recorded and has not expired."""
        ...

    def purge(self, now: float) -> int:
        """Delete conversations older than the retention time; returns how many."""
        ...

    def close(self) -> None: ...


def _decode(key: str, raw: str | bytes) -> ConversationState | None:
    try:
        return ConversationState.from_dict(json.loads(raw))
    except (ValueError, TypeError):
        log.warning("discarding an unreadable stored conversation (record length %d)", len(raw))
        return None


class MemoryStore:
    """A store in this process's memory. Lost on exit."""

    def __init__(self, retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.retention_s = retention_s
        self._data: dict[str, tuple[str, float]] = {}
        self._claims: dict[tuple[str, str], tuple[float, str]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def load(self, key: str, now: float) -> ConversationState | None:
        record = self._data.get(key)
        if record is None or now - record[1] > self.retention_s:
            return None
        return _decode(key, record[0])

    def save(self, key: str, state: ConversationState, now: float) -> None:
        self._data[key] = (json.dumps(state.to_dict()), now)

    def delete(self, key: str) -> bool:
        with self._guard:
            self._locks.pop(key, None)
            for claim in [c for c, (_, owner) in self._claims.items() if owner == key]:
                del self._claims[claim]
        return self._data.pop(key, None) is not None

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool:
        with self._guard:
            existing = self._claims.get((namespace, key))
            if existing is not None and existing[0] > now:
                return False
            self._claims[(namespace, key)] = (now + ttl_s, owner)
            return True

    def purge(self, now: float) -> int:
        with self._guard:
            old = [k for k, (_, saved) in self._data.items() if now - saved > self.retention_s]
            for key in old:
                del self._data[key]
            self._claims = {c: v for c, v in self._claims.items() if v[0] > now}
        return len(old)

    def close(self) -> None:
        self._data.clear()


class SQLiteStore:
    """Conversations in a SQLite file, shared safely by threads and processes."""

    _SWEEP_EVERY = 500

    def __init__(self, path: str | Path, retention_s: float = DEFAULT_RETENTION_S, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.retention_s = retention_s
        self.busy_timeout_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()
        self._saves = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._db()
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS conversations (
                    key TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
                CREATE TABLE IF NOT EXISTS claims (
                    namespace TEXT NOT NULL, key TEXT NOT NULL, expires_at REAL NOT NULL, owner TEXT NOT NULL,
                    PRIMARY KEY (namespace, key));
                CREATE INDEX IF NOT EXISTS claims_owner ON claims(owner);
                """
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the conversation store at {self.path}: {exc}") from exc
        self.purge(time.time())

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
            db.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
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

    def load(self, key: str, now: float) -> ConversationState | None:
        with self._errors("read"):
            row = self._db().execute("SELECT state, updated_at FROM conversations WHERE key = ?", (key,)).fetchone()
        if row is None or now - row[1] > self.retention_s:
            return None
        return _decode(key, row[0])

    def save(self, key: str, state: ConversationState, now: float) -> None:
        with self._errors("save"):
            self._db().execute(
                "INSERT INTO conversations (key, state, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (key, json.dumps(state.to_dict()), now),
            )
        self._saves += 1
        if self._saves % self._SWEEP_EVERY == 0 and not self._local.depth:
            self.purge(now)

    def delete(self, key: str) -> bool:
        with self._errors("delete"), self.locked(key):
            db = self._db()
            gone = db.execute("DELETE FROM conversations WHERE key = ?", (key,)).rowcount
            db.execute("DELETE FROM claims WHERE owner = ?", (key,))
        return gone > 0

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool:
        with self._errors("record an event"):
            db = self._db()
            own_tx = not self._local.depth
            if own_tx:
                db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT expires_at FROM claims WHERE namespace = ? AND key = ?", (namespace, key)).fetchone()
                fresh = row is None or row[0] <= now
                if fresh:
                    db.execute(
                        "INSERT OR REPLACE INTO claims (namespace, key, expires_at, owner) VALUES (?, ?, ?, ?)",
                        (namespace, key, now + ttl_s, owner),
                    )
                if own_tx:
                    db.execute("COMMIT")
            except BaseException:
                if own_tx:
                    db.execute("ROLLBACK")
                raise
        return fresh

    def purge(self, now: float) -> int:
        with self._errors("purge"):
            db = self._db()
            gone = db.execute("DELETE FROM conversations WHERE updated_at < ?", (now - self.retention_s,)).rowcount
            db.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
        return gone

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def default_sqlite_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("mbcbot")) / "conversations.db"


def open_store(url: str | None, retention_s: float = DEFAULT_RETENTION_S) -> ConversationStore:
    """Open a store from a URL: ``memory``, ``sqlite`` (default file), ``sqlite:///PATH``,
    ``redis://host:6379/0`` or ``rediss://...`` (needs the ``redis`` extra).

    Raises:
        ConfigError: the URL names no known store, or redis-py is not installed.
        StoreError: the store cannot be opened.
    """
    url = (url or "sqlite").strip()
    if url in ("memory", "memory://"):
        return MemoryStore(retention_s)
    if url in ("sqlite", "sqlite://"):
        return SQLiteStore(default_sqlite_path(), retention_s)
    if url.startswith("sqlite://"):  # sqlite:///abs/path.db
        return SQLiteStore(url[len("sqlite://"):], retention_s)
    if url.startswith("sqlite:"):  # sqlite:relative/path.db
        return SQLiteStore(url[len("sqlite:"):], retention_s)
    if url.startswith(("redis://", "rediss://")):
        try:
            from .stores_redis import RedisStore
        except ImportError as exc:
            raise ConfigError(
                f"MBCBOT_STORE: a Redis store needs redis-py: pip install 'mbcbot[redis]' ({exc})"
            ) from exc
        return RedisStore(url, retention_s)
    raise ConfigError(
        f"MBCBOT_STORE: unknown store '{url}' (use memory, sqlite, sqlite:///path/to/file.db or redis://host:6379/0)"
    )
