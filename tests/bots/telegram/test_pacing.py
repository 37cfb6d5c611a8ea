"""Pacing as users feel it: "typing" only for slow turns, and signals never queued behind messages.

Telegram allows about 30 messages a second overall and about one a second in a chat (with
short bursts). Chat actions and button answers are not messages: they have a budget of
their own, so they never delay an answer, and answers never delay them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bots.telegram.flood import ChatRateLimiter
from dialogue.model import Knowledge
from dialogue.replies import Incoming, Reply
from dialogue.session import Session

from .conftest import make_session, running, texts
from .fake_bot_api import FakeBotAPI
from .updates import CHAT, text_update

SLOW_TURN_S = 0.8  # twice the typing threshold


class SlowSession(Session):
    """A session whose turns take ``SLOW_TURN_S`` when the message says "slowly"."""

    def handle(self, conversation_id: str, incoming: Incoming) -> list[Reply]:
        if "slowly" in (incoming.text or ""):
            time.sleep(SLOW_TURN_S)
        return super().handle(conversation_id, incoming)


async def test_typing_is_shown_for_a_slow_turn_only_and_before_its_answer(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    fast = make_session(knowledge, consent_required=False)
    session = SlowSession(fast.engine, fast.store)
    async with running(fake, session) as bot:
        calls = await bot.say("hello")
        assert texts(calls) and not [c for c in calls if c.method == "sendChatAction"]

        calls = await bot.say("hello, slowly")
        methods = [c.method for c in calls]
        assert methods[0] == "sendChatAction" and calls[0].params["action"] == "typing"
        assert methods.count("sendChatAction") == 1 and "sendMessage" in methods[1:]
        answer = next(c for c in calls if c.method == "sendMessage")
        assert answer.at - calls[0].at > SLOW_TURN_S / 3  # typing came while the engine worked, not with the answer


async def call_ok() -> bool:
    return True


async def through(limiter: ChatRateLimiter, endpoint: str, chat: Any) -> float:
    """Pass one call through the limiter; when it got through."""
    await limiter.process_request(call_ok, (), {}, endpoint, {"chat_id": chat}, None)
    return time.monotonic()


async def test_queued_button_answers_and_typing_never_delay_a_message() -> None:
    limiter = ChatRateLimiter()
    await limiter.initialize()
    signals = [asyncio.ensure_future(through(limiter, endpoint, chat))
               for chat in range(100) for endpoint in ("answerCallbackQuery", "sendChatAction")]
    await asyncio.sleep(0.05)  # 200 signals: their own budget of 30 a second is full for seconds
    started = time.monotonic()
    assert await through(limiter, "sendMessage", 500) - started < 0.1
    assert sum(s.done() for s in signals) < len(signals) / 2  # the signals were indeed still queued
    for signal in signals:
        signal.cancel()


async def test_a_full_message_budget_never_delays_a_button_answer() -> None:
    limiter = ChatRateLimiter()
    await limiter.initialize()
    messages = [asyncio.ensure_future(through(limiter, "sendMessage", chat)) for chat in range(60)]
    await asyncio.sleep(0.05)  # 30 sent, 30 waiting for the next second
    started = time.monotonic()
    assert await through(limiter, "answerCallbackQuery", None) - started < 0.1
    assert await through(limiter, "sendChatAction", 7) - started < 0.1
    assert sum(m.done() for m in messages) == 30
    for message in messages:
        message.cancel()


async def test_a_burst_keeps_within_telegrams_limits_overall_and_per_chat(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    """45 chats ask at once while one more sends six questions: the default pacing, end to end."""
    flooding = CHAT
    async with running(fake, make_session(knowledge, consent_required=False), rate_limiter=ChatRateLimiter()) as bot:
        since = len(fake.calls)
        ids = [await bot.push(text_update("thanks", flooding)) for _ in range(6)]
        ids += [await bot.push(text_update("hello", 1000 + n)) for n in range(45)]
        for update_id in ids:
            await bot.handled(update_id, timeout=15)
        sent = fake.sent(since=since)
        assert len(sent) >= 51 and all(c.ok for c in fake.calls[since:])
        assert fake.most_in_any(1.0, sent) <= 30  # overall, as the server counted
        mine = [c.at for c in fake.sent(flooding, since=since)]
        assert len(mine) >= 6
        assert all(later - first >= 0.95 for first, later in zip(mine, mine[4:]))  # a burst of 4, then one a second
        assert sent[-1].at - sent[0].at < 5  # paced, not stalled
