"""Fixtures: the fake Bot API and the real PTB Application polling it through the adapter."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, BaseRateLimiter, ContextTypes, TypeHandler

from bots.telegram.app import build_application
from bots.telegram.flood import ChatRateLimiter, FloodGate
from dialogue.config import Settings
from dialogue.engine import Engine, EngineOptions
from dialogue.model import Knowledge
from dialogue.session import Session
from dialogue.storage import ConversationStore, MemoryStore

from .fake_bot_api import Call, FakeBotAPI
from .updates import CHAT, TOKEN, callback_update, text_update

# RetryAfter.retry_after as a timedelta: PTB 22 otherwise warns (and warnings are errors here).
os.environ.setdefault("PTB_TIMEDELTA", "1")

#: The patient bot as deployed: consent first. Tests use the stable fixture topics (approved).
PATIENT = {"audience": "patient", "consent_required": True}


def make_session(knowledge: Knowledge, store: ConversationStore | None = None, **options: Any) -> Session:
    return Session(Engine(knowledge, EngineOptions(**{**PATIENT, **options})), store or MemoryStore())


def make_settings(**options: Any) -> Settings:
    return Settings().with_overrides(store="memory", **{**PATIENT, **options})


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI()
    await api.start()
    yield api
    await api.close()


class Harness:
    """Talks to the running bot as Telegram would, and waits until each update is handled."""

    def __init__(self, fake: FakeBotAPI, application: Application[Any, Any, Any, Any, Any, Any], token: str) -> None:
        self.fake = fake
        self.application = application
        self.token = token
        self._done: dict[int, asyncio.Event] = {}

    async def mark_done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs after the adapter's handlers have finished with an update (a later handler group)."""
        self._done.setdefault(update.update_id, asyncio.Event()).set()

    async def push(self, update: dict[str, Any]) -> int:
        return await self.fake.push(update, self.token)

    async def handled(self, update_id: int, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._done.setdefault(update_id, asyncio.Event()).wait(), timeout)

    async def run(self, update: dict[str, Any], timeout: float = 10.0) -> list[Call]:
        """Deliver one update; the bot's calls while handling it (getUpdates aside)."""
        since = len(self.fake.calls)
        await self.handled(await self.push(update), timeout)
        return [c for c in self.fake.calls[since:] if c.token == self.token and c.method != "getUpdates"]

    async def say(self, text: str, chat_id: int = CHAT, **extra: Any) -> list[Call]:
        return await self.run(text_update(text, chat_id, **extra))

    async def press(self, calls: list[Call], label: str, chat_id: int = CHAT) -> list[Call]:
        """Press the button labelled ``label`` on the message that offered it."""
        for call in calls:
            for text, data in call.buttons:
                if text == label:
                    return await self.run(callback_update(data, chat_id, call.message_id or 1))
        offered = [text for call in calls for text, _ in call.buttons]
        raise AssertionError(f"no button {label!r} (offered: {offered})")


@asynccontextmanager
async def running(
    fake: FakeBotAPI, session: Session, settings: Settings | None = None, *, token: str = TOKEN,
    gate: FloodGate | None = None, rate_limiter: BaseRateLimiter[Any] | None = None,
) -> AsyncIterator[Harness]:
    """The real Application, polling the fake with the manual lifecycle (never run_polling in tests)."""
    # Pacing is tested on its own; elsewhere a generous limiter keeps the suite fast.
    rate_limiter = rate_limiter or ChatRateLimiter(chat_burst=1000)
    application = build_application(session, settings or make_settings(), token, base_url=fake.url,
                                    gate=gate, rate_limiter=rate_limiter)
    harness = Harness(fake, application, token)
    application.add_handler(TypeHandler(Update, harness.mark_done), group=99)
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield harness
        finally:
            await application.updater.stop()
            await application.stop()


def texts(calls: list[Call]) -> list[str]:
    """What the user read, message by message."""
    return [c.visible for c in calls if c.method == "sendMessage" and c.ok]


def delivered(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.method == "sendMessage" and c.ok]
