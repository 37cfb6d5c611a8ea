"""Shared fixtures: the real core knowledge (safety, lexicon, flows) with small fixture topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.engine import Engine, EngineOptions
from dialogue.loader import bundled_knowledge_dir, load_knowledge
from dialogue.model import Knowledge
from dialogue.replies import Incoming, Reply
from dialogue.session import Session
from dialogue.storage import MemoryStore

from .redis_server import redis_server, redis_url  # noqa: F401 - fixtures for every test folder

FIXTURES = Path(__file__).parent / "fixtures"
CORE = bundled_knowledge_dir() / "core"


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge([CORE, FIXTURES / "topics"], include_bundled=False)


@pytest.fixture(scope="session")
def bundled() -> Knowledge:
    return load_knowledge()


class Chat:
    """A conversation driven through a real Session, with a controllable clock."""

    def __init__(self, knowledge: Knowledge, **options: object) -> None:
        self.now = 1_000_000.0
        self.session = Session(Engine(knowledge, EngineOptions(**options)), MemoryStore(), clock=lambda: self.now)
        self.last: list[Reply] = []

    def say(self, text: str) -> list[Reply]:
        self.last = self.session.handle("c1", Incoming(text=text))
        return self.last

    def press(self, label: str) -> list[Reply]:
        button = next(b for r in self.last for b in r.buttons if b.label == label)
        self.last = self.session.handle("c1", Incoming(payload=button.payload))
        return self.last

    def payload(self, payload: str) -> list[Reply]:
        self.last = self.session.handle("c1", Incoming(payload=payload))
        return self.last

    def state(self):
        return self.session.store.load("c1", self.now)


@pytest.fixture
def clinician(knowledge: Knowledge) -> Chat:
    return Chat(knowledge, audience="clinician")


@pytest.fixture
def patient(knowledge: Knowledge) -> Chat:
    return Chat(knowledge, audience="patient")


def kinds(replies: list[Reply]) -> list[str]:
    return [r.kind.value for r in replies]


def body(replies: list[Reply]) -> list[Reply]:
    """Replies other than the disclaimer."""
    return [r for r in replies if r.kind.value != "disclaimer"]
