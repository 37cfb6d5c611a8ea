"""Conversation state: everything the engine remembers between two messages.

It is small and JSON-serialisable so that any store (memory, SQLite, Redis) can keep
it. :meth:`ConversationState.from_dict` validates strictly: a corrupted record is
refused rather than half-trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Version 2 adds what the last answer was about (``last_entity``, ``last_aspect``) so that
#: follow-ups keep their thread. Version 1 records are still read (see :meth:`from_dict`).
STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(slots=True)
class ConversationState:
    audience: str
    slots: dict[str, str] = field(default_factory=dict)
    last_topic: str | None = None
    pending: dict[str, Any] | None = None
    last_entity: str | None = None  # "drug:palbociclib": what the last answer was about
    last_aspect: str | None = None  # "side_effects": which aspect of it
    locale: str | None = None  # the locale of a place the person named ("I'm in Dublin"), else the deployment's
    disclaimer_at: float | None = None
    consented_at: float | None = None
    turn: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    def copy(self) -> ConversationState:
        return ConversationState(
            audience=self.audience,
            slots=dict(self.slots),
            last_topic=self.last_topic,
            pending=dict(self.pending) if self.pending else None,
            last_entity=self.last_entity,
            last_aspect=self.last_aspect,
            locale=self.locale,
            disclaimer_at=self.disclaimer_at,
            consented_at=self.consented_at,
            turn=self.turn,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "audience": self.audience,
            "slots": dict(self.slots),
            "last_topic": self.last_topic,
            "pending": self.pending,
            "last_entity": self.last_entity,
            "last_aspect": self.last_aspect,
            "locale": self.locale,
            "disclaimer_at": self.disclaimer_at,
            "consented_at": self.consented_at,
            "turn": self.turn,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ConversationState:
        """Rebuild a state; raises ValueError if the record is not a valid state."""
        if not isinstance(data, dict) or data.get("v") not in READABLE_VERSIONS:
            raise ValueError("not a conversation state of a version this release reads")
        slots = data.get("slots")
        if not isinstance(slots, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in slots.items()):
            raise ValueError("bad slots")
        pending = data.get("pending")
        if pending is not None and not isinstance(pending, dict):
            raise ValueError("bad pending question")

        def opt_float(key: str) -> float | None:
            value = data.get(key)
            if value is None:
                return None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"bad {key}")
            return float(value)

        audience, last_topic, turn = data.get("audience"), data.get("last_topic"), data.get("turn")
        if not isinstance(audience, str) or not (last_topic is None or isinstance(last_topic, str)):
            raise ValueError("bad audience or topic")
        if not isinstance(turn, int) or isinstance(turn, bool):
            raise ValueError("bad turn")
        last_entity, last_aspect = data.get("last_entity"), data.get("last_aspect")  # absent in version 1
        if not all(v is None or isinstance(v, str) for v in (last_entity, last_aspect)):
            raise ValueError("bad last entity or aspect")
        locale = data.get("locale")  # absent before places were read
        if locale is not None and not isinstance(locale, str):
            raise ValueError("bad locale")
        return cls(
            audience=audience,
            slots=dict(slots),
            last_topic=last_topic,
            pending=pending,
            last_entity=last_entity,
            last_aspect=last_aspect,
            locale=locale,
            disclaimer_at=opt_float("disclaimer_at"),
            consented_at=opt_float("consented_at"),
            turn=turn,
            created_at=opt_float("created_at") or 0.0,
            updated_at=opt_float("updated_at") or 0.0,
        )
