"""Webhook mode end to end: PTB's own webhook server, Telegram's secret header, redeliveries."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from telegram import Update
from telegram.ext import TypeHandler

from bots.telegram.app import build_application
from bots.telegram.flood import ChatRateLimiter
from dialogue.model import Knowledge

from .conftest import Harness, make_session, make_settings, texts
from .fake_bot_api import FakeBotAPI
from .updates import CHAT, TOKEN, text_update

SECRET = "s3cret_Token-for-tests"
HOOK_URL = "https://bot.example.org/tg-hook"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def post(http: aiohttp.ClientSession, url: str, update: dict[str, Any], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}  # exactly: PTB rejects a charset suffix
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with http.post(url, data=json.dumps(update), headers=headers) as response:
        return response.status


@asynccontextmanager
async def webhook(fake: FakeBotAPI, knowledge: Knowledge) -> AsyncIterator[tuple[Harness, str]]:
    """The real Application on PTB's webhook server (no consent step); yields the harness and the local URL."""
    session = make_session(knowledge, consent_required=False)
    application = build_application(session, make_settings(consent_required=False), TOKEN, base_url=fake.url,
                                    rate_limiter=ChatRateLimiter(chat_burst=1000))
    harness = Harness(fake, application, TOKEN)
    application.add_handler(TypeHandler(Update, harness.mark_done), group=99)
    port = free_port()
    async with application:
        await application.start()
        await application.updater.start_webhook(listen="127.0.0.1", port=port, url_path="tg-hook",
                                                webhook_url=HOOK_URL, secret_token=SECRET)
        try:
            yield harness, f"http://127.0.0.1:{port}/tg-hook"
        finally:
            await application.updater.stop()
            await application.stop()


async def test_webhook_answers_with_the_right_secret_only_and_once(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with webhook(fake, knowledge) as (harness, url):
        assert fake.webhook == {"url": HOOK_URL, "secret_token": SECRET}
        async with aiohttp.ClientSession() as http:
            forged = text_update("hello", CHAT)
            forged["update_id"] = fake.new_update_id()
            assert await post(http, url, forged, "wrong-secret") == 403
            assert await post(http, url, forged, None) == 403

            update = text_update("hello", CHAT)
            update["update_id"] = fake.new_update_id()
            assert await post(http, url, update, SECRET) == 200
            await harness.handled(update["update_id"])
            # Telegram redelivers when an answer is slow: the same update is not answered twice
            # (the inbox knows it: it is acknowledged, then dropped before the queue)
            assert await post(http, url, update, SECRET) == 200
            await asyncio.sleep(0.5)
            assert harness.application.update_queue.empty()
    shown = texts(fake.sent(CHAT))
    assert sum("glad you reached out" in t for t in shown) == 1
    assert len(shown) == 2  # the disclaimer and the welcome, once; nothing for the forged update
