"""A convtest driver that plays conversation scripts through Telegram: adapter, PTB, fake Bot API.

Each user turn becomes a Telegram update (a message, or a button press carrying the
payload) polled by a real Application from the fake server; what the fake received is
turned back into replies. Telegram shows no reply *kind*, topic or source ids, so those
come from the engine's own replies for the turn (recorded by the session); the text and
the buttons are what Telegram would show. Anything the user would have read differently
from the engine's text (lost, extra or altered) is recorded in ``mismatches``.

The driver is synchronous, as convtest wants: the fake and the bot run in an event loop
on a background thread.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from bots.telegram.render import footer_html, render_reply
from dialogue.config import Settings
from dialogue.convtest import Driver
from dialogue.engine import Engine, EngineOptions
from dialogue.markup import to_plain
from dialogue.model import Knowledge
from dialogue.replies import Button, Incoming, Reply
from dialogue.storage import MemoryStore

from ..adapter_support import RecordingSession
from .conftest import Harness, delivered, running
from .fake_bot_api import Call, FakeBotAPI, visible_text
from .updates import BOT_ID, callback_update, text_update

def _lines(text: str) -> list[str]:
    """The text's non-empty lines: a long reply split between two list items shows a blank line
    between its messages where the engine had a line break, and nothing is lost."""
    return [line for line in text.splitlines() if line.strip()]


T = TypeVar("T")


class TelegramDriverFactory:
    """``factory(options) -> driver``: one bot (its own token and chat) per script."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.mismatches: list[str] = []
        self._numbers = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="telegram-driver", daemon=True)
        self._thread.start()
        self.fake = FakeBotAPI()
        self._run(self.fake.start())
        self._bot: AsyncExitStack | None = None
        self._last_message: dict[int, int] = {}

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __call__(self, options: EngineOptions) -> Driver:
        self._stop_bot()
        number = next(self._numbers)
        session = RecordingSession(Engine(self.knowledge, options), MemoryStore())
        settings = Settings(audience=options.audience, locale=options.locale, consent_required=options.consent_required,
                            preview=options.preview, max_message_chars=options.max_message_chars, store="memory")
        self._bot = AsyncExitStack()
        harness = self._run(self._bot.enter_async_context(running(self.fake, session, settings, token=f"{BOT_ID}:script{number}")))
        return partial(self._turn, harness, session, 20_000 + number)

    def _turn(self, harness: Harness, session: RecordingSession, chat_id: int, conversation: str, incoming: Incoming) -> list[Reply]:
        before = len(session.turns)
        if incoming.payload is not None:
            update = callback_update(incoming.payload, chat_id, self._last_message.get(chat_id, 1))
        else:
            update = text_update(incoming.text or "", chat_id)
        calls = delivered(self._run(harness.run(update)))
        if calls and calls[-1].message_id:
            self._last_message[chat_id] = calls[-1].message_id
        engine = [reply for turn in session.turns[before:] for reply in turn]
        return self._as_shown(engine, calls)

    def _as_shown(self, engine: list[Reply], calls: list[Call]) -> list[Reply]:
        """The engine's replies with the text and buttons Telegram showed instead of their own."""
        shown: list[Reply] = []
        position = 0
        for reply in engine:
            count = len(render_reply(reply))
            messages, position = calls[position : position + count], position + count
            text = "\n\n".join(m.visible for m in messages)
            footer = visible_text(footer_html(reply), "HTML")
            if footer and text.endswith(footer):
                text = text[: -len(footer)].rstrip()
            if _lines(text) != _lines(to_plain(reply.text)):
                self.mismatches.append(f"shown {text[:80]!r}, engine said {to_plain(reply.text)[:80]!r}")
            buttons = tuple(Button(label, data) for label, data in messages[-1].buttons) if messages else ()
            shown.append(replace(reply, text=text, buttons=buttons))
        if position != len(calls):
            self.mismatches.append(f"{len(calls) - position} message(s) more than the engine's replies")
        return shown

    def _stop_bot(self) -> None:
        if self._bot is not None:
            self._run(self._bot.aclose())
            self._bot = None

    def close(self) -> None:
        self._stop_bot()
        self._run(self.fake.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
