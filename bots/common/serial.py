"""One conversation's work in order, without a worker ever waiting for another's.

A worker thread that finds its conversation busy leaves its job in that conversation's
queue and returns to the pool at once; the worker already serving the conversation runs the
queued jobs after its own, in arrival order. So a flood of messages in one Slack thread
occupies one worker, and everyone else's messages are answered by the others (no
head-of-line blocking), while each conversation still sees its answers in order.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class SerialQueues:
    """Per-key queues of jobs, each key's jobs run one at a time in arrival order."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._queues: dict[str, deque[Job]] = {}

    def run(self, key: str, job: Job) -> bool:
        """Run ``job`` now on this thread, or queue it behind the key's running job.

        Returns True if this thread ran it (and whatever queued up meanwhile), False if it was queued.
        """
        with self._guard:
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(job)
                return False
            self._queues[key] = deque()
        while True:
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the key's others
                log.error("a queued job failed: %s", type(exc).__name__)  # its type only: messages may hold health text
            with self._guard:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return True
                job = queue.popleft()

    def busy(self, key: str) -> bool:
        with self._guard:
            return key in self._queues

    def __len__(self) -> int:
        with self._guard:
            return len(self._queues)
