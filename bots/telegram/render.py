"""Engine replies as Telegram messages: HTML text and inline keyboards.

Telegram's HTML parse mode fails the whole message on one stray ``<`` or ``&``, so every
piece of text is escaped here and the only tags are the ones this module writes. Long
answers are split at paragraph boundaries *before* formatting, so a split never falls
inside a tag. Buttons carry the engine's payload as ``callback_data``; Telegram allows
64 bytes, and engine payloads are short ids, so a longer one is a bug: it is dropped
(and logged) rather than sent to fail the whole message.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from dialogue.markup import render, split_paragraphs
from dialogue.replies import Button, Reply, ReplyKind

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # visible characters (UTF-16 code units) after entity parsing
MAX_CALLBACK_BYTES = 64
MAX_PER_ROW = 8
ROW_LABEL_CHARS = 30  # short labels share a row; long ones get their own (readable on phones)
EMPTY_TEXT = "\u2b07\ufe0f"  # a message needs some text; only used for a reply that is all buttons

_TAG = re.compile(r"<[^>]*>")
_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.DOTALL)


class Outgoing(NamedTuple):
    """One Telegram message: HTML text and an optional inline keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None


def escape(text: str) -> str:
    """Escape text for Telegram HTML (``<``, ``>``, ``&``)."""
    return html.escape(text, quote=False)


def to_html(markup: str) -> str:
    """The engine's neutral markup as Telegram HTML: escaped text, ``**bold**`` as ``<b>``."""
    return render(markup, escape=escape, bold=lambda s: f"<b>{s}</b>")


def html_to_plain(text: str) -> str:
    """What a reader sees of our HTML: tags dropped (links keep their address), entities decoded."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(1) else m.group(2), text)
    return html.unescape(_TAG.sub("", text))


def visible_length(text: str) -> int:
    """Length as Telegram counts it: visible text, in UTF-16 code units."""
    plain = html.unescape(_TAG.sub("", text))
    return len(plain.encode("utf-16-le")) // 2


def footer_html(reply: Reply) -> str:
    """Numbered sources as links, then the review line: short, under the answer."""
    lines: list[str] = []
    if reply.sources:
        lines.append("<b>Sources</b>")
        for number, source in enumerate(reply.sources, 1):
            title = escape(source.title)
            if source.url.startswith(("https://", "http://")):
                title = f'<a href="{html.escape(source.url, quote=True)}">{title}</a>'
            year = f" ({source.year})" if source.year else ""
            lines.append(f"[{number}] {title}{year}")
    if reply.review_note:
        lines.append(f"<i>{escape(reply.review_note)}</i>")
    elif reply.reviewed_on:
        lines.append(f"<i>Last reviewed {reply.reviewed_on.isoformat()}</i>")
    return "\n".join(lines)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard; short labels share rows of at most ``MAX_PER_ROW``."""
    rows: list[list[InlineKeyboardButton]] = []
    width = 0
    for button in buttons:
        if not button.label.strip() or not 1 <= len(button.payload.encode("utf-8")) <= MAX_CALLBACK_BYTES:
            log.warning("dropping a button Telegram would reject (empty label, or a payload of %d bytes; 1-64 allowed)",
                        len(button.payload.encode("utf-8")))
            continue
        item = InlineKeyboardButton(button.label, callback_data=button.payload)
        long_label = len(button.label) > ROW_LABEL_CHARS // 2
        if rows and not long_label and len(rows[-1]) < MAX_PER_ROW and width + len(button.label) <= ROW_LABEL_CHARS:
            rows[-1].append(item)
            width += len(button.label)
        else:
            rows.append([item])
            width = ROW_LABEL_CHARS if long_label else len(button.label)
    return InlineKeyboardMarkup(rows) if rows else None


def _body_pieces(reply: Reply, limit: int) -> list[str]:
    """The reply's markup cut at paragraph boundaries so each rendered piece fits ``limit``."""
    wrap = "<i>{}</i>" if reply.kind is ReplyKind.DISCLAIMER else "{}"
    size = limit
    for _ in range(8):  # visible text never grows in rendering; the loop only guards UTF-16 pairs
        pieces = [wrap.format(to_html(p)) for p in split_paragraphs(reply.text.strip(), size)]
        if all(visible_length(p) <= limit for p in pieces):
            return [p for p in pieces if p.strip()]
        size = int(size * 0.8)
    raise ValueError("reply text cannot be split to fit a Telegram message")  # pragma: no cover


def render_reply(reply: Reply, limit: int = MAX_TEXT) -> list[Outgoing]:
    """One reply as one or more messages; the footer and keyboard go with the last one."""
    pieces = _body_pieces(reply, limit)
    footer = footer_html(reply)
    if footer:
        if pieces and visible_length(pieces[-1]) + 2 + visible_length(footer) <= limit:
            pieces[-1] = f"{pieces[-1]}\n\n{footer}"
        else:
            pieces.append(footer)
    markup = keyboard(reply.buttons)
    if not pieces:
        if markup is None:
            return []
        pieces = [EMPTY_TEXT]
    return [Outgoing(p, None) for p in pieces[:-1]] + [Outgoing(pieces[-1], markup)]


def render_replies(replies: Iterable[Reply], limit: int = MAX_TEXT) -> list[Outgoing]:
    """Every reply of a turn, in order."""
    return [out for reply in replies for out in render_reply(reply, limit)]


def plain_message(text: str, buttons: Sequence[Button] = ()) -> Outgoing:
    """A short message of the adapter's own (no markup), escaped like everything else."""
    return Outgoing(escape(text), keyboard(buttons))
