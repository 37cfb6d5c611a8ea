"""Where conversations, deduplication claims and accepted events live between messages.

:class:`MemoryStore` (tests, one-shot use), :class:`SQLiteStore` (the default; threads and
processes of one host) and ``RedisStore`` (any number of hosts; ``dialogue.storage.redis``,
needs the ``redis`` extra) implement the same protocols (:mod:`dialogue.storage.base`).
"""

from .base import DEFAULT_RETENTION_S, ConversationStore, EventClaims, EventInbox
from .memory import MemoryStore
from .sqlite import SQLiteStore
from .url import default_sqlite_path, open_store

__all__ = [
    "DEFAULT_RETENTION_S",
    "ConversationStore",
    "EventClaims",
    "EventInbox",
    "MemoryStore",
    "SQLiteStore",
    "default_sqlite_path",
    "open_store",
]
