"""A store in this process's memory, for tests and one-shot use. Lost on exit."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ..state import ConversationState
from .base import DEFAULT_RETENTION_S, decode_state, encode_state


@dataclass
class _Entry:
    """One inbox entry."""

    conversation: str
    job: str | None
    owner: str
    lease_until: float
    expires_at: float
    answered: bool = False


class MemoryStore:
    """Conversations, claims and the inbox in this process's memory."""

    def __init__(self, retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.retention_s = retention_s
        self._data: dict[str, tuple[str, float]] = {}
        self._claims: dict[tuple[str, str], tuple[float, str]] = {}
        self._inbox: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def load(self, key: str, now: float) -> ConversationState | None:
        record = self._data.get(key)
        if record is None or now - record[1] > self.retention_s:
            return None
        return decode_state(key, record[0])

    def save(self, key: str, state: ConversationState, now: float) -> None:
        self._data[key] = (encode_state(state), now)

    def delete(self, key: str) -> bool:
        with self._guard:
            self._locks.pop(key, None)
            for claim in [c for c, (_, owner) in self._claims.items() if owner == key]:
                del self._claims[claim]
            for event in [k for k, e in self._inbox.items() if e.conversation == key]:
                del self._inbox[event]
        return self._data.pop(key, None) is not None

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool:
        with self._guard:
            existing = self._claims.get((namespace, key))
            if existing is not None and existing[0] > now:
                return False
            self._claims[(namespace, key)] = (now + ttl_s, owner)
            return True

    # --- the inbox (see base.EventInbox) ---------------------------------------------------
    def accept(self, key: str, job: str, conversation: str, owner: str, lease_s: float, ttl_s: float,
               now: float) -> bool:
        with self._guard:
            entry = self._inbox.get(key)
            if entry is None or entry.expires_at <= now:
                self._inbox[key] = _Entry(conversation, job, owner, now + lease_s, now + ttl_s)
                return True
            if entry.answered or (entry.owner != owner and entry.lease_until > now):
                return False
            entry.owner, entry.lease_until = owner, now + lease_s
            return True

    def renew(self, keys: Sequence[str], owner: str, lease_s: float, now: float) -> list[str]:
        held = []
        with self._guard:
            for key in keys:
                entry = self._inbox.get(key)
                if entry is not None and entry.owner == owner and not entry.answered:
                    entry.lease_until = now + lease_s
                    held.append(key)
        return held

    def answered(self, key: str, now: float) -> None:
        with self._guard:
            entry = self._inbox.get(key)
            if entry is not None:
                entry.answered, entry.job = True, None

    def take_expired(self, owner: str, lease_s: float, now: float, limit: int = 10,
                     prefix: str = "") -> list[tuple[str, str]]:
        taken: list[tuple[str, str]] = []
        with self._guard:
            for key, entry in self._inbox.items():
                if len(taken) >= limit:
                    break
                if (key.startswith(prefix) and not entry.answered and entry.job is not None
                        and entry.lease_until <= now < entry.expires_at):
                    entry.owner, entry.lease_until = owner, now + lease_s
                    taken.append((key, entry.job))
        return taken

    def purge(self, now: float) -> int:
        with self._guard:
            old = [k for k, (_, saved) in self._data.items() if now - saved > self.retention_s]
            for key in old:
                del self._data[key]
            self._claims = {c: v for c, v in self._claims.items() if v[0] > now}
            self._inbox = {k: e for k, e in self._inbox.items() if e.expires_at > now}
        return len(old)

    def conversations_like(self, prefix: str, suffix: str) -> list[str]:
        return sorted(k for k in list(self._data) if k.startswith(prefix) and k.endswith(suffix)
                      and len(k) >= len(prefix) + len(suffix))

    def close(self) -> None:
        self._data.clear()
