"""Replies as plain text, for the console and ``mbcbot ask``."""

from __future__ import annotations

from dialogue.markup import to_plain
from dialogue.replies import Reply, ReplyKind

KIND_PREFIX = {ReplyKind.URGENT: "URGENT", ReplyKind.DISCLAIMER: "Note"}


def footer(reply: Reply) -> list[str]:
    """The sources and review lines a reader sees under an answer."""
    lines = []
    if reply.sources:
        lines.append("Sources:")
        for i, s in enumerate(reply.sources, 1):
            lines.append(f"  [{i}] {s.title}. {s.publisher}, {s.year}. {s.url}")
    if reply.review_note:
        lines.append(reply.review_note)
    return lines


def reply_text(reply: Reply, numbered_from: int | None = None) -> str:
    """One reply as the console shows it; buttons numbered when ``numbered_from`` is given."""
    body = to_plain(reply.text)
    prefix = KIND_PREFIX.get(reply.kind)
    if prefix:
        body = f"[{prefix}] {body}"
    lines = [body, *footer(reply)]
    if reply.buttons:
        if numbered_from is None:
            lines.append("Options: " + " | ".join(b.label for b in reply.buttons))
        else:
            lines += [f"  {numbered_from + i}. {b.label}" for i, b in enumerate(reply.buttons)]
    return "\n".join(lines)


def reading_text(replies: list[Reply]) -> str:
    """Everything the user would read, disclaimer aside: bodies plus footers."""
    parts = []
    for reply in replies:
        if reply.kind is ReplyKind.DISCLAIMER:
            continue
        parts.append("\n".join([to_plain(reply.text), *footer(reply)]))
    return "\n\n".join(parts)
