"""The console chat: talk to the engine in a terminal, no accounts needed.

Buttons are shown as numbered choices; typing the number presses the button.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from dialogue.replies import Incoming
from dialogue.session import Session
from dialogue.text import small_number

from .render_text import reply_text

BANNER = "mbcbot console ({audience}). Ask a question; type a number to choose an option, /reset to start over, /quit to leave."
PROMPT = "you> "


class Prompt:
    """The ``you>`` prompt, and notices that arrive while it waits (a knowledge reload).

    A notice printed from another thread would land after the prompt, inside the line
    being typed; here it ends the prompt's line first and shows the prompt again after it.
    """

    def __init__(self, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> None:
        self.stdout, self.stderr = stdout, stderr
        self._lock = threading.Lock()
        self._shown = False

    def show(self) -> None:
        with self._lock:
            print("\n" + PROMPT, end="", file=self.stdout, flush=True)
            self._shown = True

    def answered(self) -> None:
        """The user pressed Enter: the prompt's line is finished."""
        with self._lock:
            self._shown = False

    def notice(self, text: str) -> None:
        """Print ``text`` on a line of its own on standard error, whatever the prompt is doing."""
        with self._lock:
            if self._shown:
                print(file=self.stdout, flush=True)
            print(text, file=self.stderr, flush=True)
            if self._shown:
                print(PROMPT, end="", file=self.stdout, flush=True)


class NoticeHandler(logging.Handler):
    """Log lines for the console: printed as :meth:`Prompt.notice`, off the prompt's line."""

    def __init__(self, prompt: Prompt) -> None:
        super().__init__()
        self.prompt = prompt

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.prompt.notice(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never stop the chat
            self.handleError(record)


def chat(session: Session, conversation_id: str, audience: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
         prompt: Prompt | None = None) -> int:
    """Run the chat loop until end of input or /quit."""
    print(BANNER.format(audience=audience), file=stdout)
    prompt = prompt or Prompt(stdout)
    buttons: list = []
    interactive = stdin.isatty()
    while True:
        if interactive:
            prompt.show()
        line = stdin.readline()
        prompt.answered()
        if not line:
            break
        text = line.rstrip("\n")
        command = text.strip().lower()
        choice = small_number(command)
        if command in ("/quit", "/exit"):
            break
        if command == "/reset":
            incoming = Incoming(payload="r:", audience=audience)
        elif command == "/forget":
            for reply in session.forget(conversation_id, audience):
                print(reply_text(reply), file=stdout)
            buttons = []
            continue
        elif choice is not None and 1 <= choice <= len(buttons):
            incoming = Incoming(payload=buttons[choice - 1].payload, audience=audience)
        else:
            incoming = Incoming(text=text, audience=audience)
        replies = session.handle(conversation_id, incoming)
        buttons = []
        print(file=stdout)
        for reply in replies:
            print(reply_text(reply, numbered_from=len(buttons) + 1), file=stdout)
            buttons.extend(reply.buttons)
            print(file=stdout)
        stdout.flush()
    return 0
