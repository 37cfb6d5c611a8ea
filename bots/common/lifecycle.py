"""What every adapter's ``main()`` does around serving, written once.

In this order: the chat library's loggers are quieted before any of its objects is built
(they log tokens and message bodies); the adapter's preflight checks its token, so that a bad
one is one clear error before a store is opened or a metrics port bound; the session is built
and SIGHUP reloads its knowledge; the adapter serves until it is interrupted; then its delivery
threads stop (they renew leases in the store) and only then does the store close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dialogue.config import Settings
from dialogue.runtime import build_session, install_reload_signal
from dialogue.session import Session

from .delivery import Delivery

T = TypeVar("T")


@dataclass
class Running:
    """The session an adapter serves, and the delivery threads to stop before its store closes."""

    session: Session
    deliveries: list[Delivery] = field(default_factory=list)

    def deliver(self, delivery: Delivery, *, start: bool = True) -> Delivery:
        """Stop ``delivery`` when serving ends; start it now unless ``start`` is False, for an adapter
        that can resume events only later (Telegram's application, once its event loop runs)."""
        self.deliveries.append(delivery)
        if start:
            delivery.start()
        return delivery


def run_adapter(settings: Settings, *, quiet_logs: Callable[[], None], preflight: Callable[[], T],
                serve: Callable[[T, Running], None]) -> int:
    """Run one adapter until ``serve`` returns: 0, its exit status.

    Args:
        quiet_logs: keeps the adapter's libraries from logging tokens and message text.
        preflight: checks what can be checked before anything is built (the token); its result goes to ``serve``.
        serve: builds the adapter around the session and serves until interrupted; hands its
            delivery to :meth:`Running.deliver`.

    Raises:
        ConfigError: from ``preflight`` or ``serve``, or a setting the session cannot use.
    """
    quiet_logs()
    checked = preflight()
    running = Running(build_session(settings))
    install_reload_signal(running.session, settings.knowledge)  # SIGHUP: reload the knowledge, keep it if broken
    try:
        serve(checked, running)
    finally:
        for delivery in running.deliveries:
            delivery.stop()
        running.session.store.close()
    return 0
