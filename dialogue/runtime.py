"""Build the engine and session a deployment's settings describe (shared by every adapter)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .config import Settings
from .engine import Engine, EngineOptions
from .loader import load_knowledge
from .model import Knowledge
from .ratelimit import SlidingWindowLimiter
from .session import ReloadResult, Session
from .storage import ConversationStore, open_store

log = logging.getLogger(__name__)


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


def build_limiter(settings: Settings) -> SlidingWindowLimiter | None:
    """The per-conversation rate limit (in this process), or None when ``rate_limit_per_minute`` is 0."""
    return SlidingWindowLimiter(settings.rate_limit_per_minute) if settings.rate_limit_per_minute > 0 else None


def build_session(settings: Settings, store: ConversationStore | None = None, knowledge: Knowledge | None = None) -> Session:
    """The session the settings describe: engine, store, rate limit, and metrics and the
    unanswered-questions record when they are switched on (``metrics_port`` starts a server).

    Raises:
        KnowledgeError, ValueError: as :func:`build_engine`.
        ConfigError, StoreError: the store, metrics or record cannot be set up.
    """
    engine = build_engine(settings, knowledge)
    store = store or open_store(settings.store, settings.retention_days * 86400.0)
    metrics = None
    if settings.metrics_port:
        from .metrics import start_metrics

        metrics = start_metrics(settings.metrics_port, settings.metrics_listen)
    unanswered = None
    if settings.record_unanswered:
        from .unanswered import UnansweredLog, default_unanswered_path

        unanswered = UnansweredLog(settings.unanswered_path or default_unanswered_path(settings.store),
                                   retention_s=settings.retention_days * 86400.0)  # purges at once, then while running
    return Session(engine, store, limiter=build_limiter(settings), metrics=metrics, unanswered=unanswered)


def install_reload_signal(
    session: Session,
    knowledge_dirs: Iterable[str | Path] = (),
    *,
    include_bundled: bool = True,
    on_done: Callable[[ReloadResult], Any] | None = None,
) -> bool:
    """Reload the session's knowledge on ``SIGHUP`` (where the platform has it).

    The reload runs in a thread of its own (a signal handler must stay short), and keeps
    the last good knowledge if the new one is broken (see :meth:`Session.reload`). Check a
    directory first with ``mbcbot validate --knowledge DIR``. Adapters call this once
    after building their session; it only works from the main thread. Returns whether the
    handler was installed.
    """
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return False
    dirs = list(knowledge_dirs)

    def run() -> None:
        result = session.reload(dirs, include_bundled=include_bundled)
        if on_done is not None:
            on_done(result)

    def handler(signum: int, frame: Any) -> None:
        threading.Thread(target=run, name="mbcbot-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, handler)
    return True
