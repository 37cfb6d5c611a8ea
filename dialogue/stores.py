"""The stores under their earlier module name (kept so existing imports keep working).

New code imports from :mod:`dialogue.storage`.
"""

from .storage.base import DEFAULT_RETENTION_S, ConversationStore, EventClaims, EventInbox, _decode
from .storage.memory import MemoryStore
from .storage.sqlite import SQLiteStore
from .storage.url import default_sqlite_path, open_store

__all__ = [
    "DEFAULT_RETENTION_S",
    "ConversationStore",
    "EventClaims",
    "EventInbox",
    "MemoryStore",
    "SQLiteStore",
    "_decode",
    "default_sqlite_path",
    "open_store",
]
