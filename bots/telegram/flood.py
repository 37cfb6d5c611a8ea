"""Flood control, per chat, so that one person flooding the bot never slows the others.

Two guards:

- :class:`FloodGate` limits *incoming* updates per chat (a token bucket). A chat over its
  limit is told once to slow down and the rest of the burst is dropped; its updates
  never pile up in the application's shared pool of concurrent update slots.
- :class:`ChatRateLimiter` paces *outgoing* Bot API calls per chat (Telegram allows about
  one message a second in a chat with short bursts, 20 a minute in a group, 30 a second
  overall) and retries a bounded number of times on ``RetryAfter``. Unlike
  python-telegram-bot's ``AIORateLimiter``, a 429 pauses only the chat it was about.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

#: Calls that must not wait behind a chat's messages (the user is looking at a spinner).
UNPACED = frozenset({"answerCallbackQuery", "sendChatAction", "getMe", "setMyCommands", "deleteWebhook", "setWebhook"})


class Admission(enum.Enum):
    ADMIT = "admit"
    NOTIFY = "notify"  # over the limit: say so once
    DROP = "drop"  # over the limit, already told


class FloodGate:
    """A token bucket per chat for incoming updates.

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
        self._buckets: OrderedDict[int, list[float]] = OrderedDict()  # chat -> [tokens, stamp, notified]

    def admit(self, chat_id: int) -> Admission:
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


class ChatRateLimiter(BaseRateLimiter[None]):
    """Paces Bot API calls per chat and overall; retries ``RetryAfter`` a bounded number of times.

    Args:
        overall_per_s: calls per second for the whole bot.
        chat_burst: messages a private chat may get at once, then one per ``chat_period_s``.
        group_per_minute: messages per minute in a group.
        max_retries: retries after ``RetryAfter`` (then the error is raised).
        max_retry_wait_s: a longer ``retry_after`` is not waited for (raised at once).
    """

    def __init__(self, overall_per_s: float = 30.0, chat_burst: int = 4, chat_period_s: float = 1.0,
                 group_per_minute: int = 20, max_retries: int = 2, max_retry_wait_s: float = 60.0,
                 max_chats: int = 10_000) -> None:
        self.overall_per_s = overall_per_s
        self.chat_burst = chat_burst
        self.chat_period_s = chat_period_s
        self.group_per_minute = group_per_minute
        self.max_retries = max_retries
        self.max_retry_wait_s = max_retry_wait_s
        self.max_chats = max_chats
        self._overall: AsyncLimiter | None = None
        self._chats: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._paused_until: dict[str | None, float] = {}

    async def initialize(self) -> None:
        self._overall = AsyncLimiter(self.overall_per_s, 1.0)

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
        paced = chat is not None and endpoint not in UNPACED
        attempt = 0
        while True:
            await self._wait_if_paused(chat)
            async with AsyncExitStack() as stack:
                if paced:
                    await stack.enter_async_context(self._chat_limiter(chat))  # type: ignore[arg-type]
                await stack.enter_async_context(self._overall)  # type: ignore[arg-type]
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as exc:
                    delay = retry_seconds(exc)
                    if attempt >= self.max_retries or delay > self.max_retry_wait_s:
                        raise
            attempt += 1
            log.warning("Telegram flood control on %s: retry %d in %.1f s", endpoint, attempt, delay)
            self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), time.monotonic() + delay)
