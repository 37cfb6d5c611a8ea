"""Build the engine and session a deployment's settings describe (shared by every adapter)."""

from __future__ import annotations

from .config import Settings
from .engine import Engine, EngineOptions
from .loader import load_knowledge
from .model import Knowledge
from .session import Session
from .stores import ConversationStore, open_store


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(
        audience=settings.audience,
        locale=settings.locale,
        disclaimer_interval_s=settings.disclaimer_interval_hours * 3600.0,
        consent_required=settings.consent_required,
        max_message_chars=settings.max_message_chars,
        preview=settings.preview,
    )


def build_engine(settings: Settings, knowledge: Knowledge | None = None) -> Engine:
    """Load the knowledge (bundled plus ``settings.knowledge``) and make an engine.

    Raises:
        KnowledgeError: the knowledge is broken.
        ValueError: the settings name a locale the knowledge lacks.
    """
    knowledge = knowledge or load_knowledge(settings.knowledge)
    return Engine(knowledge, engine_options(settings))


def build_session(settings: Settings, store: ConversationStore | None = None, knowledge: Knowledge | None = None) -> Session:
    engine = build_engine(settings, knowledge)
    return Session(engine, store or open_store(settings.store, settings.retention_days * 86400.0))
