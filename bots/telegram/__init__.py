"""The Telegram adapter: python-telegram-bot updates in, engine replies out as HTML messages.

Needs the ``telegram`` extra (``pip install 'mbcbot[telegram]'``). ``bots.cli`` imports it
only for ``mbcbot telegram``, so the other commands run without it.
"""

from .app import add_handlers, build_application, register_commands
from .run import main

__all__ = ["add_handlers", "build_application", "main", "register_commands"]
