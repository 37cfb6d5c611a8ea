"""Optional Prometheus metrics (the ``metrics`` extra: prometheus-client), off by default.

With ``metrics_port`` set, :func:`start_metrics` serves ``/metrics`` on that port:

=================================  =========  ==========================================
metric                             type       meaning
=================================  =========  ==========================================
``mbcbot_turns_total{kind}``       counter    turns, by their headline reply kind
``mbcbot_fallbacks_total``         counter    turns whose headline kind is ``fallback``
``mbcbot_urgent_replies_total``    counter    urgent (red-flag) replies sent
``mbcbot_rate_limited_total``      counter    turns refused by the rate limit
``mbcbot_store_errors_total``      counter    turns the store failed (apology sent)
``mbcbot_turn_latency_seconds``    histogram  time to handle a turn
=================================  =========  ==========================================

No label ever carries a conversation id, a user or message text.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError
from .replies import Reply, ReplyKind, headline_kind

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The session's metrics, in a registry of their own (so several sessions or tests never collide)."""

    def __init__(self) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram
        except ImportError as exc:
            raise ConfigError("metrics_port needs prometheus-client: pip install 'mbcbot[metrics]'") from exc
        self.registry = CollectorRegistry()
        self.turns = Counter("mbcbot_turns", "Turns handled, by headline reply kind", ["kind"], registry=self.registry)
        for kind in ReplyKind:
            self.turns.labels(kind=kind.value)  # every kind shows, even at 0
        self.fallbacks = Counter("mbcbot_fallbacks", "Turns whose headline reply is a fallback", registry=self.registry)
        self.urgent = Counter("mbcbot_urgent_replies", "Urgent (red flag) replies sent", registry=self.registry)
        self.limited = Counter("mbcbot_rate_limited", "Turns refused by the rate limit", registry=self.registry)
        self.store_errors = Counter("mbcbot_store_errors", "Turns the conversation store failed", registry=self.registry)
        self.latency = Histogram("mbcbot_turn_latency_seconds", "Time to handle a turn", buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self._server: Any = None

    def observe_turn(self, replies: list[Reply], latency_s: float) -> None:
        kind = headline_kind(replies)
        self.turns.labels(kind=kind.value).inc()
        if kind is ReplyKind.FALLBACK:
            self.fallbacks.inc()
        urgent = sum(1 for r in replies if r.kind is ReplyKind.URGENT)
        if urgent:
            self.urgent.inc(urgent)
        self.latency.observe(latency_s)

    def rate_limited(self) -> None:
        self.limited.inc()

    def store_error(self) -> None:
        self.store_errors.inc()

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` over HTTP in a background thread; returns the port (useful with 0)."""
        from prometheus_client import start_http_server

        try:
            server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"metrics_port: cannot listen on {addr}:{port} ({exc.strerror or exc})") from exc
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def start_metrics(port: int, addr: str = "127.0.0.1") -> Metrics:
    """Metrics served on ``addr:port``.

    Raises:
        ConfigError: prometheus-client is missing or the port cannot be opened.
    """
    metrics = Metrics()
    metrics.serve(port, addr)
    return metrics
