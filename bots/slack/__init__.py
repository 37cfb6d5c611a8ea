"""The Slack adapter: slack-bolt events in, engine replies out as Block Kit messages.

Needs the ``slack`` extra (``pip install 'mbcbot[slack]'``). The names below import
slack-bolt on first use, so ``bots.slack.manifest`` (``mbcbot slack manifest``) works
without it, and ``bots.cli`` imports nothing of Slack's for its other commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..common.lazy import lazy_attributes

if TYPE_CHECKING:
    from .app import SlackBot, build_app, register, web_client
    from .run import main

__all__ = ["SlackBot", "build_app", "main", "register", "web_client"]

__getattr__ = lazy_attributes(__name__, {**dict.fromkeys(("SlackBot", "build_app", "register", "web_client"), "bots.slack.app"),
                                         "main": "bots.slack.run"})
