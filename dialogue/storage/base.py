"""What a store is: the protocols the session and the adapters rely on, and the state codec.

Three jobs, one backend:

* :class:`ConversationStore`: each conversation's state between messages, one turn at a time;
* :class:`EventClaims`: short-lived deduplication marks (``claim``), the contract adapter
  authors already use;
* :class:`EventInbox`: platform events accepted but not yet answered. An adapter records an
  event *before* it acknowledges it to the platform, holding a short lease that it renews
  while the turn runs; it marks the event answered only after the reply was posted. An event
  whose lease runs out (the process died) is taken over by any instance sharing the store, so
  nothing acknowledged is lost. A duplicate reply is possible only if a process dies between a
  successful post and marking the event answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from ..state import ConversationState

log = logging.getLogger("dialogue.storage")

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
        """Remove everything stored about the conversation (its claims and inbox entries too)."""
        ...

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool:
        """Record ``key`` once; False if it was already recorded and has not expired."""
        ...

    def purge(self, now: float) -> int:
        """Delete conversations older than the retention time; returns how many."""
        ...

    def conversations_like(self, prefix: str, suffix: str) -> list[str]:
        """The stored conversations whose key starts with ``prefix`` and ends with ``suffix``
        (one person's conversations, when keys end with the person, for ``forget``)."""
        ...

    def close(self) -> None: ...


class EventClaims(Protocol):
    """Deduplication marks: ``claim`` is true once per key until it expires."""

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool: ...


@runtime_checkable
class EventInbox(Protocol):
    """Accepted events until they are answered (at-least-once delivery, see the module docstring).

    ``job`` is the adapter's own serialised event (enough to answer it from any instance);
    it is dropped as soon as the event is answered, and with the conversation on ``forget``.
    """

    def accept(self, key: str, job: str, conversation: str, owner: str, lease_s: float, ttl_s: float,
               now: float) -> bool:
        """Record an event under ``owner``'s lease: True if this owner should answer it now.

        False when it was answered already, or is being answered under another owner's live
        lease. True for a new event, for one whose lease ran out (its process died), and for
        one this owner already holds.
        """
        ...

    def renew(self, keys: Sequence[str], owner: str, lease_s: float, now: float) -> list[str]:
        """Extend the leases ``owner`` still holds among ``keys``; returns those."""
        ...

    def answered(self, key: str, now: float) -> None:
        """The reply was posted: forget the job, keep the key (deduplication) until it expires."""
        ...

    def take_expired(self, owner: str, lease_s: float, now: float, limit: int = 10,
                     prefix: str = "") -> list[tuple[str, str]]:
        """Take over up to ``limit`` unanswered events (keys starting ``prefix``) whose lease ran out: (key, job)."""
        ...


def encode_state(state: ConversationState) -> str:
    return json.dumps(state.to_dict())


def decode_state(key: str, raw: str | bytes) -> ConversationState | None:
    """The stored state, or None (logged without content) if it cannot be read."""
    try:
        return ConversationState.from_dict(json.loads(raw))
    except (ValueError, TypeError):
        log.warning("discarding an unreadable stored conversation (record length %d)", len(raw))
        return None

