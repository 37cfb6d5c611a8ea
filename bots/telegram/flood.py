"""Flood control, per chat, so that one person flooding the bot never slows the others.

Two guards:

- :class:`FloodGate` limits *incoming* updates per chat (a token bucket). A chat over its
  limit is told once to slow down and the rest of the burst is dropped; its updates
  never pile up in the application's shared pool of concurrent update slots.
- :class:`ChatRateLimiter` paces *outgoing* messages per chat and overall (Telegram allows
  about one message a second in a chat with short bursts, 20 a minute in a group, 30 a
  second overall) and retries a bounded number of times on ``RetryAfter``. Unlike
  python-telegram-bot's ``AIORateLimiter``, a 429 pauses only the chat it was about, and
  the "typing" indicator and button answers, which are not messages, neither wait behind
  messages nor take from their budget: they have a gentle budget of their own.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

#: Not messages, and the user is looking at a spinner: never behind messages, nor in their budget.
SIGNALS = frozenset({"answerCallbackQuery", "sendChatAction"})
#: Made a few times at start-up: not paced at all.
SETUP = frozenset({"getMe", "setMyCommands", "deleteWebhook", "setWebhook"})


class Admission(enum.Enum):
    ADMIT = "admit"
    NOTIFY = "notify"  # over the limit: say so once
    DROP = "drop"  # over the limit, already told


class FloodGate:
    """A token bucket per sender for incoming updates: a chat, or one member of a group
    (so one member cannot silence the bot for the rest of the group).

    Args:
        rate_per_s: sustained updates per second a chat may send.
        burst: how many may arrive at once.
        max_chats: buckets kept (least recently used are forgotten: a full bucket again).
        clock: monotonic seconds (injected by tests).
    """

    def __init__(self, rate_per_s: float = 0.5, burst: int = 8, max_chats: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_chats = max_chats
        self.clock = clock
        self._buckets: OrderedDict[Hashable, list[float]] = OrderedDict()  # sender -> [tokens, stamp, notified]

    def admit(self, chat_id: Hashable) -> Admission:
        now = self.clock()
        bucket = self._buckets.pop(chat_id, None) or [self.burst, now, 0.0]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        if tokens >= 1.0:
            result, bucket[:] = Admission.ADMIT, [tokens - 1.0, now, 0.0]
        elif not bucket[2]:
            result, bucket[:] = Admission.NOTIFY, [tokens, now, 1.0]
        else:
            result, bucket[:] = Admission.DROP, [tokens, now, 1.0]
        self._buckets[chat_id] = bucket
        while len(self._buckets) > self.max_chats:
            self._buckets.popitem(last=False)
        return result


def retry_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class SendBudget:
    """At most ``limit`` calls in any ``period_s`` seconds, counted as the server sees them.

    A call holds its slot from the moment it is sent until ``period_s`` after its answer
    came back, so network delays never squeeze more than ``limit`` into one period at the
    other end (a leaky bucket of ``limit`` would let a full burst and a period's leak through
    in one period). Waiting calls are served first come, first served.
    """

    def __init__(self, limit: int, period_s: float = 1.0) -> None:
        self.period_s = period_s
        self._slots = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._slots.acquire()
        try:
            yield
        finally:
            asyncio.get_running_loop().call_later(self.period_s, self._slots.release)


class ChatRateLimiter(BaseRateLimiter[None]):
    """Paces messages per chat and overall; retries ``RetryAfter`` a bounded number of times.

    Messages (every call other than the :data:`SIGNALS` and :data:`SETUP`) wait for a slot
    of the overall budget, then for their chat's pace: in that order, a message held up by
    the overall budget cannot leave in a clump with its chat's next ones. Chat actions and
    button answers only pass their own budget, so they never delay a message and messages
    never delay them.

    Args:
        overall_per_s: messages per second for the whole bot, in any one-second window.
        chat_burst: messages a private chat may get at once, then one per ``chat_period_s``.
        group_per_minute: messages per minute in a group.
        signals_per_s: chat actions and button answers per second for the whole bot.
        max_retries: retries after ``RetryAfter`` (then the error is raised).
        max_retry_wait_s: a longer ``retry_after`` is not waited for (raised at once).
    """

    def __init__(self, overall_per_s: float = 30.0, chat_burst: int = 4, chat_period_s: float = 1.0,
                 group_per_minute: int = 20, max_retries: int = 2, max_retry_wait_s: float = 60.0,
                 max_chats: int = 10_000, signals_per_s: float = 30.0) -> None:
        self.overall_per_s = overall_per_s
        self.signals_per_s = signals_per_s
        self.chat_burst = chat_burst
        self.chat_period_s = chat_period_s
        self.group_per_minute = group_per_minute
        self.max_retries = max_retries
        self.max_retry_wait_s = max_retry_wait_s
        self.max_chats = max_chats
        self._overall: SendBudget | None = None
        self._signals: AsyncLimiter | None = None
        self._chats: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._paused_until: dict[str | None, float] = {}

    async def initialize(self) -> None:
        self._overall = SendBudget(max(1, int(self.overall_per_s)))
        self._signals = AsyncLimiter(self.signals_per_s, 1.0)

    async def shutdown(self) -> None:
        self._chats.clear()
        self._paused_until.clear()

    def _chat_limiter(self, chat: str) -> AsyncLimiter:
        limiter = self._chats.pop(chat, None)
        if limiter is None:
            group = chat.startswith("-")  # groups and channels have negative ids
            limiter = (AsyncLimiter(self.group_per_minute, 60.0) if group
                       else AsyncLimiter(self.chat_burst, self.chat_burst * self.chat_period_s))
        self._chats[chat] = limiter
        while len(self._chats) > self.max_chats:
            self._chats.popitem(last=False)
        return limiter

    @asynccontextmanager
    async def _pace(self, endpoint: str, chat: str | None) -> AsyncIterator[None]:
        """Wait for the call's budget: none for set-up, the signals' own, or the chat's and the overall."""
        assert self._overall is not None and self._signals is not None
        if endpoint in SETUP:
            yield
        elif endpoint in SIGNALS:
            async with self._signals:
                yield
        else:
            async with self._overall.slot():
                if chat is not None:  # the chat's pace last, so it holds when the message leaves
                    await self._chat_limiter(chat).acquire()
                yield

    async def _wait_if_paused(self, key: str | None) -> None:
        for _ in range(self.max_retries + 2):  # bounded: each pause was set by a bounded retry
            delay = self._paused_until.get(key, 0.0) - time.monotonic()
            if delay <= 0:
                self._paused_until.pop(key, None)
                return
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if self._overall is None:
            await self.initialize()
        raw_chat = data.get("chat_id")
        chat = str(raw_chat) if raw_chat is not None else None
        attempt = 0
        while True:
            await self._wait_if_paused(chat)
            async with self._pace(endpoint, chat):
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as exc:
                    delay = retry_seconds(exc)
                    if attempt >= self.max_retries or delay > self.max_retry_wait_s:
                        raise
            attempt += 1
            log.warning("Telegram flood control on %s: retry %d in %.1f s", endpoint, attempt, delay)
            self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), time.monotonic() + delay)
