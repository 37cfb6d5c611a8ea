"""The Slack adapter: slack-bolt events in, engine replies out as Block Kit messages.

Needs the ``slack`` extra (``pip install 'mbcbot[slack]'``). The names below import
slack-bolt on first use, so ``bots.slack.manifest`` (``mbcbot slack manifest``) works
without it, and ``bots.cli`` imports nothing of Slack's for its other commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import SlackBot, build_app, main, register, web_client

__all__ = ["SlackBot", "build_app", "main", "register", "web_client"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
