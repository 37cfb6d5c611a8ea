"""The mbcbot dialogue engine: knowledge in, platform-neutral replies out.

It never imports a chat platform's SDK. Adapters build a :class:`Session` (or use
:func:`build_session`) and call :meth:`Session.handle` with a conversation id and an
:class:`Incoming`; they render the :class:`Reply` values they get back.
"""

from .config import Settings
from .engine import Engine, EngineOptions
from .errors import ConfigError, DialogueError, KnowledgeError, Problem, StoreError
from .loader import load_knowledge
from .model import Audience, Knowledge
from .replies import Button, Incoming, Reply, ReplyKind, Turn, headline_kind
from .runtime import build_engine, build_session
from .session import Session
from .state import ConversationState
from .storage import ConversationStore, MemoryStore, SQLiteStore, open_store

__all__ = [
    "Audience",
    "Button",
    "ConfigError",
    "ConversationState",
    "ConversationStore",
    "DialogueError",
    "Engine",
    "EngineOptions",
    "Incoming",
    "Knowledge",
    "KnowledgeError",
    "MemoryStore",
    "Problem",
    "Reply",
    "ReplyKind",
    "SQLiteStore",
    "Session",
    "Settings",
    "StoreError",
    "Turn",
    "build_engine",
    "build_session",
    "headline_kind",
    "load_knowledge",
    "open_store",
]
