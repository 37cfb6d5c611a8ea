"""Which store a deployment uses: ``MBCBOT_STORE`` (or ``store:``) as a URL."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .base import DEFAULT_RETENTION_S, ConversationStore
from .memory import MemoryStore
from .sqlite import SQLiteStore


def default_sqlite_path() -> Path:
    """The conversation store's file when none is named (the user's state folder)."""
    import platformdirs

    return Path(platformdirs.user_state_dir("mbcbot")) / "conversations.db"


def store_problem(url: str | None) -> str | None:
    """What is wrong with a store URL (one :func:`open_store` would refuse), or None."""
    url = (url or "sqlite").strip()
    if url in ("memory", "memory://", "sqlite") or url.startswith(("sqlite:", "redis://", "rediss://")):
        return None
    return f"unknown store '{url}' (use memory, sqlite, sqlite:///path/to/file.db or redis://host:6379/0)"


def open_store(url: str | None, retention_s: float = DEFAULT_RETENTION_S) -> ConversationStore:
    """Open a store from a URL: ``memory``, ``sqlite`` (default file), ``sqlite:///PATH``,
    ``redis://host:6379/0`` or ``rediss://...`` (needs the ``redis`` extra).

    Raises:
        ConfigError: the URL names no known store, or redis-py is not installed.
        StoreError: the store cannot be opened.
    """
    problem = store_problem(url)
    if problem:
        raise ConfigError(problem)
    url = (url or "sqlite").strip()
    if url in ("memory", "memory://"):
        return MemoryStore(retention_s)
    if url in ("sqlite", "sqlite://"):
        return SQLiteStore(default_sqlite_path(), retention_s)
    if url.startswith("sqlite://"):  # sqlite:///abs/path.db
        return SQLiteStore(url[len("sqlite://"):], retention_s)
    if url.startswith("sqlite:"):  # sqlite:relative/path.db
        return SQLiteStore(url[len("sqlite:"):], retention_s)
    try:  # redis:// or rediss://, the only schemes left
        from .redis import RedisStore
    except ImportError as exc:
        raise ConfigError(f"a Redis store needs redis-py: pip install 'mbcbot[redis]' ({exc})") from exc
    return RedisStore(url, retention_s)
