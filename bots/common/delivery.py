"""At-least-once answering: nothing a platform handed over is lost when a process dies.

Neither Slack nor Telegram redelivers what the bot has acknowledged. So an adapter
*accepts* an event into the store's inbox before it acknowledges it, holding a short lease;
this process renews the leases of everything it holds (one background thread), and marks
an event *answered* only after its reply was posted. When a process dies, its leases run
out and any instance sharing the store takes the events over (the same thread sweeps for
them) and answers them, with or without a redelivery from the platform. A duplicate reply is
possible only if a process dies between a successful post and marking the event answered.

A store without an inbox (a third-party one implementing only ``claim``) gets the earlier,
at-most-once behaviour: the event is claimed once and never taken over.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable

from dialogue.storage import EventInbox

log = logging.getLogger(__name__)

#: How long an accepted event is held without renewal before another instance may answer it.
LEASE_S = 15.0
#: How often this process looks for events whose lease ran out.
SWEEP_EVERY_S = 5.0
LEASE_ENV = "MBCBOT_LEASE_SECONDS"

Resume = Callable[[str, str], None]


def lease_from_env(default: float = LEASE_S) -> float:
    """``MBCBOT_LEASE_SECONDS`` (1-15 s), for deployments and tests that want a faster takeover."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{LEASE_ENV} must be a number of seconds, not {raw!r}") from None
    if not 1.0 <= value <= 15.0:
        raise ValueError(f"{LEASE_ENV} must be between 1 and 15 seconds, not {raw}")
    return value


class Delivery:
    """The inbox of one adapter process: accept, begin, answered, and takeover of dead leases.

    Args:
        store: the session's store (an :class:`~dialogue.storage.EventInbox` if it can be).
        namespace: keeps one platform's event keys apart from another's.
        ttl_s: how long an answered event's key is kept to drop redeliveries.
        resume: ``resume(key, job)`` answers an event taken over from a dead process; called
            on the delivery thread, so it should hand the work to the adapter's own workers.
    """

    def __init__(self, store: object, namespace: str, ttl_s: float, *, resume: Resume | None = None,
                 lease_s: float | None = None, sweep_every_s: float = SWEEP_EVERY_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.inbox: EventInbox | None = store if isinstance(store, EventInbox) else None
        self.namespace = namespace
        self.ttl_s = ttl_s
        self.lease_s = lease_s if lease_s is not None else lease_from_env()
        self.sweep_every_s = min(sweep_every_s, self.lease_s)
        self.resume = resume
        self.clock = clock
        self.owner = secrets.token_hex(8)  # this process, as the inbox knows it
        self._active: dict[str, bool] = {}  # key -> its answer has begun
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    # --- the path of one event ---------------------------------------------------------------
    def accept(self, key: str, job: str, conversation: str) -> bool:
        """Record an event before acknowledging it: True if this process should answer it.

        False for a redelivery of an event answered already or being answered (here or by a
        live instance). A store failure answers anyway: better twice than never.
        """
        with self._guard:
            if key in self._active:
                return False
        try:
            if self.inbox is not None:
                fresh = self.inbox.accept(self._key(key), job, conversation, self.owner, self.lease_s, self.ttl_s,
                                          self.clock())
            else:
                fresh = self.store.claim(self.namespace, key, self.ttl_s, self.clock(), conversation)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - the store is down: answer without the safety net
            log.error("could not record an event in the inbox: %s", type(exc).__name__)
            fresh = True
        if fresh:
            with self._guard:
                if key in self._active:
                    return False
                self._active[key] = False
        return fresh

    def started(self, key: str) -> bool | None:
        """Begin answering an accepted event: True once, False after; None if it was never accepted here."""
        with self._guard:
            begun = self._active.get(key)
            if begun is None:
                return None
            if begun:
                return False
            self._active[key] = True
            return True

    def begin(self, key: str, job: str, conversation: str) -> bool:
        """:meth:`started`, accepting the event first if the adapter had not (e.g. a host app's own queue)."""
        begun = self.started(key)
        if begun is None:
            begun = self.accept(key, job, conversation) and bool(self.started(key))
        return begun

    def holds(self, key: str) -> bool:
        with self._guard:
            return key in self._active

    def answered(self, key: str) -> None:
        """The reply was posted (or the event needs none): it will not be answered again."""
        with self._guard:
            if self._active.pop(key, None) is None:
                return
        if self.inbox is None:
            return
        try:
            self.inbox.answered(self._key(key), self.clock())
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the event may be answered twice
            log.error("could not mark an event answered: %s", type(exc).__name__)

    # --- the delivery thread ------------------------------------------------------------------
    def start(self) -> Delivery:
        """Start renewing leases and taking over dead ones (idempotent)."""
        if self.inbox is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"mbcbot-{self.namespace}-delivery", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        renew_every = self.lease_s / 3
        next_sweep = 0.0
        while not self._stop.wait(min(renew_every, self.sweep_every_s)):
            self.renew()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.sweep_every_s
                self.sweep()

    def renew(self) -> None:
        """Extend the leases of every event this process holds; forget those another took over."""
        assert self.inbox is not None
        with self._guard:
            keys = list(self._active)
        if not keys:
            return
        prefix = len(self.namespace) + 1
        try:
            held = {k[prefix:] for k in self.inbox.renew([self._key(k) for k in keys], self.owner, self.lease_s,
                                                          self.clock())}
        except Exception as exc:  # noqa: BLE001 - tried again at the next tick
            log.warning("could not renew event leases: %s", type(exc).__name__)
            return
        lost = [k for k in keys if k not in held]
        if lost:
            with self._guard:
                for key in lost:
                    if self._active.get(key) is False:  # not begun: the new owner answers it
                        del self._active[key]
            log.warning("%d event lease(s) were taken over by another instance", len(lost))

    def sweep(self) -> int:
        """Take over events whose lease ran out (their process died) and hand them to ``resume``."""
        if self.inbox is None or self.resume is None:
            return 0
        try:
            taken = self.inbox.take_expired(self.owner, self.lease_s, self.clock(), prefix=self.namespace + ":")
        except Exception as exc:  # noqa: BLE001 - tried again at the next sweep
            log.warning("could not look for abandoned events: %s", type(exc).__name__)
            return 0
        prefix = self.namespace + ":"
        resumed = 0
        for full_key, job in taken:
            key = full_key[len(prefix):]
            with self._guard:
                self._active[key] = False
            log.warning("answering an event abandoned by a stopped instance")
            try:
                self.resume(key, job)
                resumed += 1
            except Exception as exc:  # noqa: BLE001 - its lease runs out again and it is retried
                log.error("could not resume an event: %s", type(exc).__name__)
                with self._guard:
                    self._active.pop(key, None)
        return resumed
