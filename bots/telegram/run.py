"""``mbcbot telegram``: the environment, the token and webhook checks, and ``main()``.

The handlers themselves live in :mod:`bots.telegram.app`; this module only reads the token,
checks it, and runs an application built there (long polling, or a webhook) until the process
is interrupted. What both adapters do around serving (the session, SIGHUP, closing the store)
is :func:`bots.common.lifecycle.run_adapter`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlparse

from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, TelegramError

from dialogue.config import Settings
from dialogue.errors import ConfigError

from ..common.env import optional_env, require_env
from ..common.lifecycle import Running, run_adapter
from .app import api_urls, build_application_and_bot, quiet_library_logs

#: Only these updates are asked for; anything else is ignored anyway.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
TOKEN_REFUSED = "TELEGRAM_BOT_TOKEN was not accepted by Telegram (check the token @BotFather gave you)"
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class TelegramEnv:
    """What ``mbcbot telegram`` reads from the environment (tokens never come from files)."""

    token: str
    api_url: str | None
    webhook_secret: str | None


def read_env(env: Mapping[str, str], webhook: bool) -> TelegramEnv:
    """Raises: ConfigError: one line naming the variable at fault."""
    token = require_env(env, "TELEGRAM_BOT_TOKEN", "the token @BotFather gave you for the bot")
    secret = None
    if webhook:
        secret = optional_env(env, "TELEGRAM_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
        if not SECRET_PATTERN.fullmatch(secret):
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    return TelegramEnv(token, optional_env(env, "TELEGRAM_API_URL"), secret)


def check_token(token: str, api_url: str | None) -> None:
    """Fail fast, in one line, on a token Telegram refuses or a Bot API we cannot reach.

    Never quotes the token (python-telegram-bot's ``InvalidToken`` message does).

    Raises:
        ConfigError: what is wrong.
    """
    api, files = api_urls(api_url) if api_url else (None, None)
    where = api_url or "https://api.telegram.org"

    async def get_me() -> None:
        bot = Bot(token, base_url=api, base_file_url=files) if api else Bot(token)
        try:
            await bot.initialize()  # getMe
        finally:
            with suppress(Exception):
                await bot.shutdown()

    try:
        asyncio.run(get_me())
    except InvalidToken:
        raise ConfigError(TOKEN_REFUSED) from None
    except (NetworkError, OSError) as exc:
        raise ConfigError(f"cannot reach the Telegram Bot API at {where} ({type(exc).__name__})") from None
    except TelegramError as exc:
        raise ConfigError(f"the Telegram Bot API at {where} refused getMe ({type(exc).__name__})") from None


def check_webhook_url(url: str) -> None:
    """Raises: ConfigError: Telegram only posts to an https:// address with a host."""
    parts = urlparse(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"--webhook must be a public https:// address (Telegram posts only over HTTPS), not '{url}'")


def main(args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None) -> int:
    """Run the bot until interrupted: long polling, or a webhook with ``args.webhook``.

    Raises:
        ConfigError: a missing or invalid setting (one line).
    """
    if args.webhook:
        check_webhook_url(args.webhook)
    config = read_env(os.environ if env is None else env, bool(args.webhook))
    os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter as a timedelta, without deprecation warnings

    def serve(checked: None, running: Running) -> None:
        application, bot = build_application_and_bot(running.session, settings, config.token, config.api_url)
        running.deliver(bot.delivery, start=False)  # started by post_init, once the application's loop runs
        try:
            if args.webhook:
                application.run_webhook(
                    listen=args.listen, port=args.port, url_path=urlparse(args.webhook).path.lstrip("/"),
                    webhook_url=args.webhook, secret_token=config.webhook_secret, allowed_updates=ALLOWED_UPDATES,
                )
            else:
                application.run_polling(allowed_updates=ALLOWED_UPDATES)
        except InvalidToken:  # revoked since check_token; its message quotes the token
            raise ConfigError(TOKEN_REFUSED) from None
        except TelegramError as exc:  # e.g. setWebhook refused: Telegram's reason, which holds no token
            raise ConfigError(f"Telegram refused to start the bot ({type(exc).__name__}: {exc.message})") from None

    return run_adapter(settings, quiet_logs=quiet_library_logs,
                       preflight=lambda: check_token(config.token, config.api_url), serve=serve)
