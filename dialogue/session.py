"""A session ties the pure engine to a store: load, step, save, one conversation at a time.

Adapters call :meth:`Session.handle` with a conversation id of their choosing (a Slack
thread, a Telegram chat) and render the replies. If the store fails, the user still
gets any urgent reply (safety does not depend on the store) and a short apology, and
the stored conversation is left as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .engine import Engine
from .errors import StoreError
from .replies import Incoming, Reply, ReplyKind
from .state import ConversationState
from .stores import ConversationStore

log = logging.getLogger(__name__)

STORE_APOLOGY = "Sorry, something went wrong on my side and I couldn't finish that. Please try again in a moment."


class Session:
    """Handles messages for many conversations.

    Args:
        engine: the engine that answers.
        store: where conversations are kept.
        clock: returns the current time in seconds (injected by tests).
    """

    def __init__(self, engine: Engine, store: ConversationStore, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock

    def handle(self, conversation_id: str, incoming: Incoming) -> list[Reply]:
        """Answer one user action in a conversation; never raises."""
        now = self.clock()
        started = time.perf_counter()
        try:
            with self.store.locked(conversation_id):
                state = self.store.load(conversation_id, now)
                turn = self.engine.step(state, incoming, now)
                self.store.save(conversation_id, turn.state, now)
            # Kinds, topic and timing only: never message text, slots or user names.
            log.info(
                "turn handled",
                extra={
                    "kinds": [r.kind.value for r in turn.replies],
                    "topic": next((r.topic for r in turn.replies if r.topic), None),
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
            return turn.replies
        except StoreError as exc:
            log.error("conversation store unavailable: %s", type(exc.__cause__ or exc).__name__)
        except Exception:  # a bug must not silence the bot
            log.exception("turn failed")
        return self._degraded(incoming, now)

    def _degraded(self, incoming: Incoming, now: float) -> list[Reply]:
        """Without the store: still send any urgent reply, then apologise."""
        urgent: list[Reply] = []
        try:
            turn = self.engine.step(None, incoming, now)
            urgent = [r for r in turn.replies if r.kind is ReplyKind.URGENT]
        except Exception:
            log.exception("safety check failed")
        return urgent + [Reply(ReplyKind.FALLBACK, STORE_APOLOGY)]

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
        except StoreError as exc:
            log.error("forget failed: %s", type(exc.__cause__ or exc).__name__)
            return [Reply(ReplyKind.FALLBACK, STORE_APOLOGY)]
        return [self.engine.forget_reply(audience or self.engine.options.audience)]

    def purge_expired(self) -> int:
        """Apply the retention time now."""
        return self.store.purge(self.clock())
