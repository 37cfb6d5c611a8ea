"""A convtest driver that plays conversation scripts through Slack: adapter, Bolt, fake Slack.

Each user turn becomes a signed direct message (``message.im``) or, for a button press,
a signed ``block_actions`` request carrying the payload, sent over HTTP to the real Bolt
app; what the fake Slack received is turned back into replies. Slack shows no reply
*kind*, topic or source ids, so those come from the engine's own replies for the turn
(recorded by the session); the text and the buttons are what Slack would show, found
by the reply's position in the block ids. Anything the user would have read differently
from the engine's text (words lost, extra or altered; a section boundary may fall
between two lines of a long list), and any call the fake refused, is recorded in
``mismatches``.
"""

from __future__ import annotations

import itertools
import re
from contextlib import ExitStack
from dataclasses import replace
from functools import partial

from dialogue.config import Settings
from dialogue.convtest import Driver
from dialogue.engine import Engine, EngineOptions
from dialogue.markup import to_plain
from dialogue.model import Knowledge
from dialogue.replies import Button, Incoming, Reply
from dialogue.storage import MemoryStore

from ..adapter_support import RecordingSession
from . import payloads
from .conftest import Harness, posted, running
from .fake_slack import Call, FakeSlack, visible_text

_BLOCK_ID = re.compile(r"mbc-(\d+)-(body|note|src|act)-\d+")


class SlackDriverFactory:
    """``factory(options) -> driver``: one bot (and its own DM channel) per script."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.mismatches: list[str] = []
        self.fake = FakeSlack().start()
        self._numbers = itertools.count(1)
        self._bot: ExitStack | None = None
        self._last_ts: dict[str, str] = {}

    def __call__(self, options: EngineOptions) -> Driver:
        self._stop_bot()
        session = RecordingSession(Engine(self.knowledge, options), MemoryStore())
        settings = Settings(audience=options.audience, locale=options.locale, consent_required=options.consent_required,
                            preview=options.preview, max_message_chars=options.max_message_chars, store="memory")
        self._bot = ExitStack()
        harness = self._bot.enter_context(running(self.fake, session, settings))
        return partial(self._turn, harness, session, f"D0SCRIPT{next(self._numbers):04d}")

    def _turn(self, harness: Harness, session: RecordingSession, channel: str, conversation: str,
              incoming: Incoming) -> list[Reply]:
        before = len(session.turns)
        if incoming.payload is not None:
            body = payloads.block_action(incoming.payload, "mbcbot:0:0", channel=channel,
                                         message_ts=self._last_ts.get(channel, "1700000000.000001"))
        else:
            body = payloads.dm(incoming.text or "", channel)
        calls = harness.run(body)
        self.mismatches += [f"the fake Slack refused {c.method}: {c.problem}" for c in calls if not c.ok]
        messages = posted(calls)
        if messages and messages[-1].ts:
            self._last_ts[channel] = messages[-1].ts
        engine = [reply for turn in session.turns[before:] for reply in turn]
        return self._as_shown(engine, messages)

    def _as_shown(self, engine: list[Reply], messages: list[Call]) -> list[Reply]:
        """The engine's replies with the text and buttons Slack showed instead of their own."""
        texts: dict[int, list[str]] = {}
        buttons: dict[int, list[Button]] = {}
        for message in messages:
            for block in message.blocks:
                match = _BLOCK_ID.fullmatch(block.get("block_id") or "")
                if match is None:
                    continue
                index, role = int(match.group(1)), match.group(2)
                if index >= len(engine):
                    self.mismatches.append(f"a block for reply {index}, but the engine gave {len(engine)}")
                elif role == "body":
                    texts.setdefault(index, []).append(visible_text(block["text"]["text"]))
                elif role == "note":
                    texts.setdefault(index, []).extend(visible_text(e["text"]) for e in block["elements"])
                elif role == "act":
                    buttons.setdefault(index, []).extend(Button(e["text"]["text"], e["value"]) for e in block["elements"])
        shown = []
        for index, reply in enumerate(engine):
            text = "\n\n".join(texts.get(index, []))
            if text.split() != to_plain(reply.text).split():  # a long list may continue in the next block
                self.mismatches.append(f"shown {text[:80]!r}, engine said {to_plain(reply.text)[:80]!r}")
            shown.append(replace(reply, text=text, buttons=tuple(buttons.get(index, ()))))
        return shown

    def _stop_bot(self) -> None:
        if self._bot is not None:
            self._bot.close()
            self._bot = None

    def close(self) -> None:
        self._stop_bot()
        self.fake.close()
