"""The console chat: talk to the engine in a terminal, no accounts needed.

Buttons are shown as numbered choices; typing the number presses the button.
"""

from __future__ import annotations

import sys
from typing import TextIO

from dialogue.replies import Incoming
from dialogue.session import Session

from .render_text import reply_text

BANNER = "mbcbot console ({audience}). Ask a question; type a number to choose an option, /reset to start over, /quit to leave."


def chat(session: Session, conversation_id: str, audience: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Run the chat loop until end of input or /quit."""
    print(BANNER.format(audience=audience), file=stdout)
    buttons: list = []
    interactive = stdin.isatty()
    while True:
        if interactive:
            print("\nyou> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        text = line.rstrip("\n")
        command = text.strip().lower()
        if command in ("/quit", "/exit"):
            break
        if command == "/reset":
            incoming = Incoming(payload="r:", audience=audience)
        elif command == "/forget":
            for reply in session.forget(conversation_id, audience):
                print(reply_text(reply), file=stdout)
            buttons = []
            continue
        elif command.isdigit() and 1 <= int(command) <= len(buttons):
            incoming = Incoming(payload=buttons[int(command) - 1].payload, audience=audience)
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
