"""The values that cross the engine's boundary: what comes in, what goes out.

Replies are platform-neutral. Their ``text`` uses a small markup (see
:mod:`dialogue.markup`) that every adapter knows how to render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from .model import Source


class ReplyKind(str, Enum):
    """What a reply is for. Adapters may style each kind differently."""

    URGENT = "urgent"
    REFUSAL = "refusal"
    ANSWER = "answer"
    CLARIFY = "clarify"
    FALLBACK = "fallback"
    DISCLAIMER = "disclaimer"


#: Most important first: a turn's headline kind is the first of these it contains.
KIND_PRIORITY: tuple[ReplyKind, ...] = (
    ReplyKind.URGENT, ReplyKind.REFUSAL, ReplyKind.ANSWER, ReplyKind.CLARIFY, ReplyKind.FALLBACK, ReplyKind.DISCLAIMER,
)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One user action: typed text, or a button press carrying its payload.

    Args:
        text: what the user typed (any string; the engine cleans it).
        payload: the payload of a pressed button (as the engine issued it).
        audience: the voice this conversation should use; ``None`` keeps the
            conversation's current audience (or the deployment default).
    """

    text: str | None = None
    payload: str | None = None
    audience: str | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the user. ``payload`` is at most 64 bytes."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One message from the bot."""

    kind: ReplyKind
    text: str
    buttons: tuple[Button, ...] = ()
    sources: tuple[Source, ...] = ()
    topic: str | None = None
    reviewed_on: date | None = None
    review_status: str | None = None
    review_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "text": self.text,
            "buttons": [{"label": b.label, "payload": b.payload} for b in self.buttons],
            "sources": [source_dict(s) for s in self.sources],
            "topic": self.topic,
            "reviewed_on": self.reviewed_on.isoformat() if self.reviewed_on else None,
            "review_status": self.review_status,
            "review_note": self.review_note,
        }


def source_dict(source: Source) -> dict[str, Any]:
    return {
        "id": source.id, "title": source.title, "publisher": source.publisher,
        "year": source.year, "url": source.url, "kind": source.kind,
    }


def headline_kind(replies: list[Reply]) -> ReplyKind:
    """The most important kind among a turn's replies."""
    kinds = {r.kind for r in replies}
    return next((k for k in KIND_PRIORITY if k in kinds), ReplyKind.FALLBACK)


@dataclass(slots=True)
class Turn:
    """The result of one step: the new state and the replies, in order.

    ``unanswered`` is ``"fallback"`` when the bot had no topic for a typed question, or
    ``"clarify"`` when it had to ask which topic was meant; else ``None``. ``question`` is
    then that question as the engine read it (sanitised), for the unanswered record.
    """

    state: Any
    replies: list[Reply] = field(default_factory=list)
    unanswered: str | None = None
    question: str | None = None
