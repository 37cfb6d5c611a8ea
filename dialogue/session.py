"""A session ties the pure engine to a store: load, step, save, one conversation at a time.

Adapters call :meth:`Session.handle` with a conversation id of their choosing (a Slack
thread, a Telegram chat) and render the replies. If the store fails, the user still
gets any urgent reply (safety does not depend on the store) and a short apology, and
the stored conversation is left as it was.

The front door also applies an optional per-conversation rate limit (see
:mod:`dialogue.ratelimit`): a turn over the limit is not processed and gets a friendly
reply, but the safety check still runs, so an emergency still gets its urgent reply.

:meth:`Session.reload` swaps in new knowledge while the bot runs; broken knowledge is
rejected and the last good engine keeps answering.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .engine import Engine
from .errors import KnowledgeError, Problem, StoreError
from .loader import load_knowledge
from .ratelimit import SlidingWindowLimiter
from .replies import Incoming, Reply, ReplyKind, Turn
from .state import ConversationState
from .storage import ConversationStore

log = logging.getLogger(__name__)

STORE_APOLOGY = "Sorry, something went wrong on my side and I couldn't finish that. Please try again in a moment."


class TurnMetrics(Protocol):
    """What the session reports to (see :class:`dialogue.metrics.Metrics`)."""

    def observe_turn(self, replies: list[Reply], latency_s: float) -> None: ...

    def rate_limited(self) -> None: ...

    def store_error(self) -> None: ...


class UnansweredRecorder(Protocol):
    """Where questions the bot could not answer are kept (see :class:`dialogue.unanswered.UnansweredLog`)."""

    def record(self, text: str, kind: str, now: float, conversation: str = "") -> None: ...

    def forget(self, conversation: str) -> int: ...


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of :meth:`Session.reload`.

    ``ok`` is False when the new knowledge was rejected (the previous one is still served);
    ``problems`` lists its errors then, or the new knowledge's warnings on success.
    """

    ok: bool
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Earlier:
    """Where an earlier version kept a conversation, and whether several people shared it."""

    conversation_id: str
    shared: bool = False


class Session:
    """Handles messages for many conversations.

    Args:
        engine: the engine that answers.
        store: where conversations are kept.
        clock: returns the current time in seconds (injected by tests).
        limiter: an optional per-conversation rate limit (``None``: no limit).
        metrics: optional turn metrics (``None``: none kept).
        unanswered: optional record of questions that got a fallback or a clarifying
            question (question text only, never the conversation id).
    """

    def __init__(
        self,
        engine: Engine,
        store: ConversationStore,
        clock: Callable[[], float] = time.time,
        limiter: SlidingWindowLimiter | None = None,
        metrics: TurnMetrics | None = None,
        unanswered: UnansweredRecorder | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.limiter = limiter
        self.metrics = metrics
        self.unanswered = unanswered
        self._reload_lock = threading.Lock()

    def handle(self, conversation_id: str, incoming: Incoming, *, person: str | None = None,
               earlier: Earlier | None = None) -> list[Reply]:
        """Answer one user action in a conversation; never raises.

        Args:
            person: who is asking, if a conversation can have several people or one person
                several conversations (the rate limit counts per person); the conversation otherwise.
            earlier: where an earlier version kept this conversation: read once, when this one
                has no state yet, so no stored conversation is dropped by a change of key.
        """
        now = self.clock()
        started = time.perf_counter()
        engine = self.engine  # one engine for the whole turn, even if a reload swaps it meanwhile
        if self.limiter is not None and not self.limiter.allow(person or conversation_id, now):
            replies = self._limited(engine, incoming)
            self._log_turn("turn rate limited", replies, started)
            self._observe(replies, started, limited=True)
            return replies
        try:
            with self.store.locked(conversation_id):
                state = self.store.load(conversation_id, now)
                if state is None and earlier is not None:
                    state = self._adopt(earlier, now)
                turn = engine.step(state, incoming, now)
                self.store.save(conversation_id, turn.state, now)
            self._log_turn("turn handled", turn.replies, started)
            self._record_unanswered(turn, incoming, now, engine, conversation_id)
            self._observe(turn.replies, started)
            return turn.replies
        except StoreError as exc:
            log.error("conversation store unavailable: %s", type(exc.__cause__ or exc).__name__)
            self._count_store_error()
        except Exception:  # a bug must not silence the bot
            log.exception("turn failed")
        replies = self._degraded(engine, incoming, now)
        self._observe(replies, started)
        return replies

    def _adopt(self, earlier: Earlier, now: float) -> ConversationState | None:
        """The state kept under an earlier key. A conversation several people shared gives only
        what is not about anyone (voice, disclaimer and consent times): never their facts."""
        old = self.store.load(earlier.conversation_id, now)
        if old is None:
            return None
        if not earlier.shared:
            self.store.delete(earlier.conversation_id)  # it is this conversation now
            return old
        return ConversationState(audience=old.audience, disclaimer_at=old.disclaimer_at, consented_at=old.consented_at,
                                 created_at=old.created_at, updated_at=old.updated_at)

    def _log_turn(self, what: str, replies: list[Reply], started: float) -> None:
        # Kinds, topic and timing only: never message text, slots, conversation ids or user names.
        log.info(
            what,
            extra={
                "kinds": [r.kind.value for r in replies],
                "topic": next((r.topic for r in replies if r.topic), None),
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )

    def _observe(self, replies: list[Reply], started: float, limited: bool = False) -> None:
        if self.metrics is None:
            return
        try:
            if limited:
                self.metrics.rate_limited()
            self.metrics.observe_turn(replies, time.perf_counter() - started)
        except Exception:  # metrics must never cost an answer
            log.exception("recording metrics failed")

    def _count_store_error(self) -> None:
        if self.metrics is not None:
            try:
                self.metrics.store_error()
            except Exception:
                log.exception("recording metrics failed")

    def _record_unanswered(self, turn: Turn, incoming: Incoming, now: float, engine: Engine,
                           conversation_id: str = "") -> None:
        kind = turn.unanswered
        if self.unanswered is None or kind is None or incoming.payload is not None or not turn.question:
            return
        try:
            # the question as the engine read it: not sanitised a second time
            text = " ".join(turn.question.split())[: engine.options.max_message_chars]
            if text:
                self.unanswered.record(text, kind, now, conversation_id)
        except Exception as exc:  # noqa: BLE001 - the record is a convenience for authors: never fail a turn for it
            log.warning("could not record an unanswered question: %s", type(exc.__cause__ or exc).__name__)

    def _limited(self, engine: Engine, incoming: Incoming) -> list[Reply]:
        """Over the rate limit: the turn is not processed, but an emergency still gets its urgent reply."""
        urgent: list[Reply] = []
        try:
            urgent = engine.urgent_replies(incoming)
        except Exception:
            log.exception("safety check failed")
        audience = incoming.audience if incoming.audience in ("clinician", "patient") else engine.options.audience
        try:
            notice = engine.notice("rate_limited", audience)
        except Exception:
            log.exception("rate limit reply failed")
            notice = Reply(ReplyKind.FALLBACK, STORE_APOLOGY)
        return urgent + [notice]

    def _degraded(self, engine: Engine, incoming: Incoming, now: float) -> list[Reply]:
        """Without the store: still send any urgent reply, then apologise."""
        urgent: list[Reply] = []
        try:
            urgent = engine.urgent_replies(incoming, incoming.audience)
        except Exception:
            log.exception("safety check failed")
        return urgent + [Reply(ReplyKind.FALLBACK, STORE_APOLOGY)]

    def reload(self, knowledge_dirs: Iterable[str | Path] = (), *, include_bundled: bool = True) -> ReloadResult:
        """Load the knowledge again and, if it is sound, answer from it from the next turn on.

        Broken knowledge (any :class:`KnowledgeError`, or a locale the deployment uses that
        it lacks) is rejected: its errors are logged and returned, and the last good engine
        keeps answering. On success the engine is swapped in one assignment; turns already
        under way finish with the engine they started with. Never raises for bad knowledge.
        """
        with self._reload_lock:
            options = self.engine.options
            try:
                knowledge = load_knowledge(list(knowledge_dirs), include_bundled=include_bundled)
                engine = Engine(knowledge, options)
            except KnowledgeError as exc:
                problems = tuple(exc.problems)
            except ValueError as exc:  # e.g. the configured locale is gone
                problems = (Problem("knowledge", 0, str(exc)),)
            except Exception as exc:  # noqa: BLE001 - an unreadable directory must not stop the bot
                problems = (Problem("knowledge", 0, f"cannot load the knowledge: {type(exc).__name__}: {exc}"),)
            else:
                self.engine = engine
                log.info("knowledge reloaded: %d topics, %d red flags", len(knowledge.topics), len(knowledge.red_flags))
                return ReloadResult(True, tuple(knowledge.warnings))
            for problem in problems:
                log.error("knowledge reload: %s", problem)
            log.error("knowledge reload rejected (%d problem(s)); still serving the previous knowledge", len(problems))
            return ReloadResult(False, problems)

    def peek(self, conversation_id: str) -> ConversationState | None:
        """The stored state of a conversation, read-only (None if none, expired or unreadable)."""
        try:
            return self.store.load(conversation_id, self.clock())
        except StoreError:
            return None

    def forget(self, conversation_id: str, audience: str | None = None) -> list[Reply]:
        """Delete everything stored about a conversation."""
        try:
            self.store.delete(conversation_id)
            if self.unanswered is not None:
                self.unanswered.forget(conversation_id)
        except StoreError as exc:
            log.error("forget failed: %s", type(exc.__cause__ or exc).__name__)
            return [Reply(ReplyKind.FALLBACK, STORE_APOLOGY)]
        return [self.engine.forget_reply(audience or self.engine.options.audience)]

    def forget_all(self, prefix: str, suffix: str) -> list[str]:
        """Delete every conversation whose key starts with ``prefix`` and ends with ``suffix``
        (with its claims, inbox entries and unanswered questions); the keys deleted.

        Raises:
            StoreError: the store failed (some may have been deleted already).
        """
        deleted = []
        for key in self.store.conversations_like(prefix, suffix):
            if self.store.delete(key):
                deleted.append(key)
            if self.unanswered is not None:
                self.unanswered.forget(key)
        return deleted

    def purge_expired(self) -> int:
        """Apply the retention time now."""
        return self.store.purge(self.clock())
