"""Flood control units: the per-chat gate and the limiter's bounded, per-chat retries."""

from __future__ import annotations

import time
from typing import Any

import pytest
from telegram.error import RetryAfter

from bots.telegram.flood import Admission, ChatRateLimiter, FloodGate


def test_the_gate_admits_a_burst_then_notifies_once_then_refills() -> None:
    now = [0.0]
    gate = FloodGate(rate_per_s=0.5, burst=3, clock=lambda: now[0])
    assert [gate.admit(1) for _ in range(6)] == [Admission.ADMIT] * 3 + [Admission.NOTIFY] + [Admission.DROP] * 2
    assert gate.admit(2) is Admission.ADMIT  # another chat is not affected
    now[0] = 2.0  # one token back
    assert gate.admit(1) is Admission.ADMIT
    assert gate.admit(1) is Admission.NOTIFY  # a new episode is announced again


def test_the_gate_forgets_old_chats() -> None:
    gate = FloodGate(max_chats=10)
    for chat in range(100):
        gate.admit(chat)
    assert len(gate._buckets) == 10


class Flaky:
    """A Bot API call that answers 429 a number of times first."""

    def __init__(self, failures: int, retry_after: int = 0) -> None:
        self.failures = failures
        self.retry_after = retry_after
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        if self.calls <= self.failures:
            raise RetryAfter(self.retry_after)
        return True


async def send(limiter: ChatRateLimiter, call: Flaky, chat: Any = 42, endpoint: str = "sendMessage") -> Any:
    return await limiter.process_request(call, (), {}, endpoint, {"chat_id": chat}, None)


async def test_retry_after_is_retried_a_bounded_number_of_times() -> None:
    limiter = ChatRateLimiter(max_retries=2)
    await limiter.initialize()
    assert await send(limiter, Flaky(2)) is True
    hopeless = Flaky(10)
    with pytest.raises(RetryAfter):
        await send(limiter, hopeless)
    assert hopeless.calls == 3


async def test_a_retry_after_longer_than_we_wait_is_raised_at_once() -> None:
    limiter = ChatRateLimiter(max_retry_wait_s=5)
    call = Flaky(1, retry_after=3600)
    with pytest.raises(RetryAfter):
        await send(limiter, call)
    assert call.calls == 1


async def test_a_pause_holds_only_its_own_chat() -> None:
    limiter = ChatRateLimiter()
    await limiter.initialize()
    limiter._paused_until["42"] = time.monotonic() + 30
    started = time.monotonic()
    assert await send(limiter, Flaky(0), chat=43) is True
    assert await send(limiter, Flaky(0), chat=None, endpoint="answerCallbackQuery") is True
    assert time.monotonic() - started < 1
