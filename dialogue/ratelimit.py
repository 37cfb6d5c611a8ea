"""A per-conversation rate limit for the engine's front door.

:class:`SlidingWindowLimiter` counts the turns of each conversation over the last
minute, in this process's memory. It is **per process**: with several processes behind
a load balancer each keeps its own count, so a user may get up to ``limit`` turns a
minute from each of them. That is enough to stop a runaway client or a user pasting in a
loop; it is not an accounting tool.
"""

from __future__ import annotations

import threading
from collections import deque

WINDOW_S = 60.0


class SlidingWindowLimiter:
    """Allows at most ``limit`` turns per key in any ``window_s`` seconds.

    Args:
        limit: turns allowed per window (more than 0).
        window_s: the length of the sliding window in seconds.
    """

    _SWEEP_EVERY = 1000

    def __init__(self, limit: int, window_s: float = WINDOW_S) -> None:
        if limit <= 0:
            raise ValueError("limit must be more than 0 (use no limiter to disable the limit)")
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def allow(self, key: str, now: float) -> bool:
        """Record a turn of ``key`` at ``now``; False if it is over the limit (refused turns do not count)."""
        with self._lock:
            self._calls += 1
            if self._calls % self._SWEEP_EVERY == 0:
                self._sweep(now)
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            while hits and now - hits[0] >= self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def _sweep(self, now: float) -> None:
        """Forget keys with no turn in the window, so memory follows the active users only."""
        idle = [k for k, hits in self._hits.items() if not hits or now - hits[-1] >= self.window_s]
        for key in idle:
            del self._hits[key]

    def __len__(self) -> int:
        return len(self._hits)
