"""The Redis store under its earlier module name (kept so existing imports keep working).

New code imports from :mod:`dialogue.storage.redis`.
"""

from .storage.redis import PREFIX, RedisStore

__all__ = ["PREFIX", "RedisStore"]
