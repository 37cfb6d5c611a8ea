"""Engine replies as Slack messages: Block Kit blocks and a plain ``text`` fallback.

A turn's replies share one message when they fit: each reply's answer in section blocks,
its numbered sources and review line in a context block, the disclaimer (where the
engine includes it) as a context block, its buttons in an actions block whose values
are the engine's payloads. Blocks are slack_sdk model objects, so their own limits are
checked when they are serialised; the limits Slack checks per *message* (50 blocks,
a total size) are checked here, and a turn that does not fit is spread over several
messages, cut between blocks, never inside one.

Every piece of text is escaped for mrkdwn (``&``, ``<``, ``>``) and set ``verbatim``, so
nothing can turn into a ``<!channel>`` ping, a mention or a broken link; the only
``<...>`` tokens are the source links written here. Bold is ``*...*``, and only where
Slack would show it as bold (otherwise the asterisks would show). mrkdwn has no escape
for ``*``, ``_`` or ``~``: a literal pair of them around a word in the content shows as
formatting, so knowledge authors write bold as ``**...**`` and nothing else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from dialogue.markup import render, split_paragraphs
from dialogue.replies import Button, Reply, ReplyKind

log = logging.getLogger(__name__)

MAX_BLOCKS = 50  # per message
MAX_SECTION = 3000  # characters of a section's text
MAX_CONTEXT = 2000  # characters of one context element (Slack allows more; short reads better)
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS = 25  # buttons in one actions block
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
#: All the text of one message's blocks. Slack documents no total, but rejects messages
#: well under 50 full sections ("msg_blocks_too_long" near 13,000 characters).
MAX_MESSAGE_TEXT = 12_000
MAX_FALLBACK = 39_000  # Slack truncates ``text`` at 40,000
#: Our buttons' action ids start with this (the listener matches it; engine payloads are values).
ACTION_PREFIX = "mbcbot:"

_SLACK_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
_WORD_EDGE = re.compile(r"\w")


@dataclass(frozen=True)
class SlackMessage:
    """One Slack message: the ``text`` fallback (notifications, screen readers) and its blocks."""

    text: str
    blocks: tuple[Block, ...] = ()

    def __post_init__(self) -> None:
        if len(self.blocks) > MAX_BLOCKS:  # a bug in the packing below, never Slack's problem
            raise ValueError(f"a Slack message holds at most {MAX_BLOCKS} blocks, not {len(self.blocks)}")
        if not self.text.strip():
            raise ValueError("a Slack message needs a text fallback")

    def block_dicts(self) -> list[dict[str, Any]]:
        """The blocks as JSON (slack_sdk validates each block's own limits here)."""
        return [block.to_dict() for block in self.blocks]


def escape(text: str) -> str:
    """Escape text for mrkdwn: ``&``, ``<`` and ``>``, and nothing else (Slack's rule)."""
    for char, entity in _SLACK_ESCAPES:
        text = text.replace(char, entity)
    return text


# Bold spans are rendered between private markers first, then written as *...* only where
# Slack reads them as bold: not next to a letter or digit ("HER2**-low**" would show
# "HER2*-low*"), not next to another formatting character, not around an asterisk.
_OPEN, _CLOSE = "\x00", "\x01"
_MARKED = re.compile(f"{_OPEN}([^{_OPEN}{_CLOSE}]*){_CLOSE}")
_NOT_BEFORE_OR_AFTER = f"*~_`{_OPEN}{_CLOSE}"


def to_mrkdwn(markup: str) -> str:
    """The engine's neutral markup as escaped mrkdwn."""
    clean = markup.replace(_OPEN, "").replace(_CLOSE, "")
    return _unmark(render(clean, escape=escape, bold=lambda text: f"{_OPEN}{text}{_CLOSE}"))


def bold(text: str) -> str:
    """``*text*``, with surrounding spaces kept outside the asterisks (Slack ignores ``* text *``)."""
    core = text.strip()
    if not core or "*" in core:
        return text
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    return f"{lead}*{core}*{trail}"


def _unmark(rendered: str) -> str:
    def one(match: re.Match[str]) -> str:
        text = match.group(1)
        lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
        before = lead[-1:] or (rendered[match.start() - 1] if match.start() else " ")
        after = trail[:1] or (rendered[match.end()] if match.end() < len(rendered) else " ")
        if _WORD_EDGE.match(before) or _WORD_EDGE.match(after) or before in _NOT_BEFORE_OR_AFTER or after in _NOT_BEFORE_OR_AFTER:
            return text
        return bold(text)

    return _MARKED.sub(one, rendered)


def to_plain_text(markup: str) -> str:
    """The markup as escaped text without formatting (for the ``text`` fallback)."""
    return render(markup, escape=escape)


def clip(escaped: str, limit: int) -> str:
    """Escaped text cut to ``limit`` characters with an ellipsis, never inside an ``&...;`` escape."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _link(url: str, label: str) -> str:
    """A mrkdwn link; only web addresses become links, and the label is escaped."""
    if not url.startswith(("https://", "http://")):
        return escape(label)
    safe_url = escape(url).replace("|", "%7C").replace(" ", "%20")
    return f"<{safe_url}|{escape(label)}>"


@dataclass
class _Part:
    """A block with the plain text it stands for in the fallback, and its size."""

    block: Block
    plain: str = ""
    size: int = 0


@dataclass
class _Group:
    """The parts of one reply."""

    parts: list[_Part] = field(default_factory=list)
    disclaimer: bool = False


def split_text(markup: str, limit: int) -> list[str]:
    """Markup cut into pieces of at most ``limit`` characters at paragraph boundaries; a longer
    paragraph (often a long list) is cut between its lines, and only a line longer than
    ``limit`` between words."""
    units: list[str] = []
    for paragraph in markup.strip().split("\n\n"):
        group = ""
        for line in paragraph.split("\n") if len(paragraph) > limit else [paragraph]:
            if group and len(group) + 1 + len(line) > limit:
                units.append(group)
                group = line
            else:
                group = f"{group}\n{line}" if group else line
        units.append(group)
    return split_paragraphs("\n\n".join(units), limit)


def _pieces(markup: str, limit: int) -> list[tuple[str, str]]:
    """The markup cut at paragraph boundaries so that each rendered piece fits ``limit``:
    (mrkdwn, plain) pairs of the same paragraphs."""
    size = limit
    for _ in range(12):  # escaping can lengthen text ("&" is "&amp;"): cut smaller until it fits
        chunks = split_text(markup, size)
        pieces = [(to_mrkdwn(c), to_plain_text(c)) for c in chunks]
        if all(len(m) <= limit for m, _ in pieces):
            return [(m, p) for m, p in pieces if m.strip()]
        size = int(size * 0.8)
    raise ValueError("reply text cannot be split to fit a Slack block")  # pragma: no cover


def _block_id(index: int, role: str, number: int) -> str:
    """Unique in a message; the reply's position in its turn, for readers of the blocks."""
    return f"mbc-{index}-{role}-{number}"


def _text(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def source_lines(reply: Reply) -> list[tuple[str, str]]:
    """(mrkdwn, plain) lines under an answer: numbered sources as links, then the review line."""
    lines: list[tuple[str, str]] = []
    if reply.sources:
        lines.append(("*Sources*", "Sources:"))
        for number, source in enumerate(reply.sources, 1):
            details = ", ".join(d for d in (source.publisher, str(source.year) if source.year else "") if d)
            tail = f". {details}." if details else ""
            lines.append((f"[{number}] {_link(source.url, source.title)}{escape(tail)}",
                          escape(f"[{number}] {source.title}{tail}")))
    note = reply.review_note or (f"Last reviewed {reply.reviewed_on.isoformat()}" if reply.reviewed_on else "")
    if note:
        lines.append((escape(note) if "_" in note else f"_{escape(note)}_", escape(note)))
    return lines


def _context_parts(lines: Sequence[tuple[str, str]], index: int, role: str) -> list[_Part]:
    """Lines packed into context elements of at most ``MAX_CONTEXT`` characters, and those
    into context blocks of at most ``MAX_CONTEXT_ELEMENTS`` elements."""
    elements: list[tuple[str, str]] = []
    for mrkdwn, plain in lines:
        if elements and len(elements[-1][0]) + 1 + len(mrkdwn) <= MAX_CONTEXT:
            text, fallback = elements[-1]
            elements[-1] = (f"{text}\n{mrkdwn}", "\n".join(p for p in (fallback, plain) if p))
        else:
            elements.append((mrkdwn if len(mrkdwn) <= MAX_CONTEXT else clip(plain, MAX_CONTEXT), plain))
    parts = []
    for number, start in enumerate(range(0, len(elements), MAX_CONTEXT_ELEMENTS)):
        chunk = elements[start : start + MAX_CONTEXT_ELEMENTS]
        block = ContextBlock(block_id=_block_id(index, role, number), elements=[_text(text) for text, _ in chunk])
        parts.append(_Part(block, "\n".join(p for _, p in chunk if p), sum(len(t) for t, _ in chunk)))
    return parts


def button_element(button: Button, index: int, number: int) -> ButtonElement | None:
    """A button whose value is the engine's payload; None (logged) if Slack would reject it."""
    label = button.label.strip()
    if not label or not 1 <= len(button.payload) <= MAX_BUTTON_VALUE:
        log.warning("dropping a button Slack would reject (empty label, or a payload of %d characters)", len(button.payload))
        return None
    if len(label) > MAX_BUTTON_TEXT:
        label = label[: MAX_BUTTON_TEXT - 1].rstrip() + "…"
    return ButtonElement(text=PlainTextObject(text=label, emoji=True), value=button.payload,
                         action_id=f"{ACTION_PREFIX}{index}:{number}")


def _action_parts(buttons: Sequence[Button], index: int) -> list[_Part]:
    elements = [e for n, b in enumerate(buttons) if (e := button_element(b, index, n)) is not None]
    parts = []
    for number, start in enumerate(range(0, len(elements), MAX_ACTIONS)):
        chunk = elements[start : start + MAX_ACTIONS]
        size = sum(len(e.text.text) for e in chunk if e.text is not None)
        parts.append(_Part(ActionsBlock(block_id=_block_id(index, "act", number), elements=chunk), "", size))
    return parts


def reply_group(reply: Reply, index: int) -> _Group:
    """One reply as blocks: answer sections (or the disclaimer's context), sources, buttons."""
    group = _Group(disclaimer=reply.kind is ReplyKind.DISCLAIMER)
    if group.disclaimer:
        group.parts += _context_parts(_pieces(reply.text, MAX_CONTEXT), index, "note")
    else:
        for number, (text, plain) in enumerate(_pieces(reply.text, MAX_SECTION)):
            block = SectionBlock(block_id=_block_id(index, "body", number), text=_text(text))
            group.parts.append(_Part(block, plain, len(text)))
        group.parts += _context_parts(source_lines(reply), index, "src")
    group.parts += _action_parts(reply.buttons, index)
    return group


class _Packer:
    """Fills messages with reply groups, within the block and size limits."""

    def __init__(self) -> None:
        self.messages: list[SlackMessage] = []
        self.parts: list[_Part] = []
        self.labels: list[str] = []

    def add(self, group: _Group, divider: bool) -> None:
        parts = list(group.parts)
        size = sum(p.size for p in parts)
        if self.parts and (len(self.parts) + len(parts) + divider > MAX_BLOCKS or self._size() + size > MAX_MESSAGE_TEXT):
            self.flush()
        if self.parts and divider:
            self.parts.append(_Part(DividerBlock()))
        for part in parts:  # a reply larger than a message continues in the next one
            if self.parts and (len(self.parts) + 1 > MAX_BLOCKS or self._size() + part.size > MAX_MESSAGE_TEXT):
                self.flush()
            self.parts.append(part)
            if isinstance(part.block, ActionsBlock):
                self.labels += [e.text.text for e in part.block.elements if isinstance(e, ButtonElement) and e.text]

    def _size(self) -> int:
        return sum(p.size for p in self.parts)

    def flush(self) -> None:
        while self.parts and isinstance(self.parts[-1].block, DividerBlock):
            self.parts.pop()
        if not self.parts:
            return
        text = "\n\n".join(p.plain for p in self.parts if p.plain.strip())
        if not text.strip():  # only buttons: the fallback names them
            text = escape(" | ".join(self.labels)) or "…"
        if len(text) > MAX_FALLBACK:
            text = clip(text, MAX_FALLBACK)
        self.messages.append(SlackMessage(text, tuple(p.block for p in self.parts)))
        self.parts, self.labels = [], []


def render_replies(replies: Iterable[Reply]) -> list[SlackMessage]:
    """A turn's replies as Slack messages, in order (usually one message)."""
    packer = _Packer()
    previous_disclaimer = True  # a divider between replies, but not under a disclaimer (or at the top)
    for index, reply in enumerate(replies):
        group = reply_group(reply, index)
        if not group.parts:
            continue
        packer.add(group, divider=not previous_disclaimer)
        previous_disclaimer = group.disclaimer
    packer.flush()
    return packer.messages


def plain_message(text: str) -> SlackMessage:
    """A short message of the adapter's own (an apology): escaped text, no blocks."""
    return SlackMessage(escape(text))
