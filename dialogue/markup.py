"""The small, neutral markup of reply texts, and helpers to render it.

The markup has three things only, so that every chat platform can render it:

- paragraphs, separated by a blank line;
- bullet points: lines that start with ``- ``;
- ``**bold**`` spans inside a line.

Knowledge authors write it; adapters turn it into Block Kit mrkdwn, Telegram HTML or
plain text with :func:`render`, escaping text for their platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_BOLD = re.compile(r"\*\*(.+?)\*\*")
#: A citation marker in an answer template: ``[[source_id]]`` (numbered by the engine).
CITATION = re.compile(r"\[\[([a-z][a-z0-9_]*)\]\]")


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (``bullets`` False: one item per line) or a bullet list."""

    bullets: bool
    items: tuple[tuple[Span, ...], ...]


def spans(line: str) -> tuple[Span, ...]:
    out: list[Span] = []
    last = 0
    for match in _BOLD.finditer(line):
        if match.start() > last:
            out.append(Span(line[last : match.start()]))
        out.append(Span(match.group(1), True))
        last = match.end()
    if last < len(line):
        out.append(Span(line[last:]))
    return tuple(out)


def parse(text: str) -> list[Block]:
    """Split reply text into paragraphs and bullet lists."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in chunk.splitlines() if line.strip()]
        group: list[str] = []
        group_bullets: bool | None = None
        for line in lines:
            is_bullet = line.startswith("- ")
            if group and is_bullet != group_bullets:
                blocks.append(_block(group, bool(group_bullets)))
                group = []
            group.append(line[2:] if is_bullet else line)
            group_bullets = is_bullet
        if group:
            blocks.append(_block(group, bool(group_bullets)))
    return blocks


def _block(lines: list[str], bullets: bool) -> Block:
    return Block(bullets, tuple(spans(line) for line in lines))


def render(
    text: str,
    *,
    escape: Callable[[str], str] = lambda s: s,
    bold: Callable[[str], str] = lambda s: s,
    bullet: str = "• ",
    paragraph_gap: str = "\n\n",
) -> str:
    """Render markup with a platform's escaping and bold syntax."""
    rendered = []
    for block in parse(text):
        lines = []
        for item in block.items:
            line = "".join(bold(escape(s.text)) if s.bold else escape(s.text) for s in item)
            lines.append(bullet + line if block.bullets else line)
        rendered.append("\n".join(lines))
    return paragraph_gap.join(rendered)


def to_plain(text: str) -> str:
    """Plain text: bold markers dropped, bullets as "• "."""
    return render(text)


def split_paragraphs(text: str, limit: int) -> list[str]:
    """Cut text into pieces of at most ``limit`` characters at paragraph boundaries.

    A single paragraph longer than the limit is cut at line, then word boundaries.
    """
    return _pack((part for para in text.split("\n\n") for part in _fit(para, limit)), "\n\n", limit)


def _pack(parts: Iterable[str], separator: str, limit: int) -> list[str]:
    """Join consecutive parts (each within the limit) into as few pieces as fit."""
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{separator}{part}" if current else part
        if len(candidate) <= limit:
            current = candidate
        else:
            if current:
                pieces.append(current)
            current = part
    if current:
        pieces.append(current)
    return pieces


def _fit(para: str, limit: int) -> list[str]:
    if len(para) <= limit:
        return [para]
    if "\n" in para:  # a bullet list: keep whole lines (bullets) together where they fit
        return _pack((piece for line in para.split("\n") for piece in _fit(line, limit)), "\n", limit)
    out, current = [], ""
    for word in re.split(r"(?<=\s)", para):
        while len(word) > limit:  # one enormous "word"
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        if len(current) + len(word) > limit:
            out.append(current.rstrip())
            current = word
        else:
            current += word
    if current.strip():
        out.append(current.rstrip())
    return out
