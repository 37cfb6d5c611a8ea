"""A place the person names brings its emergency numbers; the deployment's locale stays the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.state import ConversationState

from ..conftest import Chat, body
from .test_loader import errors_of


def urgent_text(chat: Chat, text: str) -> str:
    replies = [r for r in body(chat.say(text)) if r.kind.value == "urgent"]
    assert replies, text
    return replies[0].text


def test_a_named_place_brings_its_emergency_number_and_keeps_it_for_the_conversation(knowledge) -> None:
    chat = Chat(knowledge, audience="patient", locale="us")
    assert "call 112 or 999" in urgent_text(chat, "We live in Dublin. My mum has a fever of 38.6 on chemo")
    assert "call 112 or 999" in urgent_text(chat, "now she is shaking and her temperature is 39")  # still Ireland
    sydney = Chat(knowledge, audience="patient", locale="us")
    assert "000" in urgent_text(sydney, "we're in sydney, he has a temp of 38.4 after chemo")
    assert "911" in urgent_text(Chat(knowledge, audience="patient", locale="us"), "fever of 38.6 on chemo")


def test_the_longest_place_wins(knowledge) -> None:
    chat = Chat(knowledge, audience="patient", locale="us")
    assert "call 999" in urgent_text(chat, "I'm in Belfast, Northern Ireland, temp 38.4 on chemo")


def test_a_place_never_brings_a_laxer_fever_threshold_than_the_deployment(knowledge) -> None:
    uk = Chat(knowledge, audience="patient", locale="uk")
    text = urgent_text(uk, "we're in Spain on holiday and her temperature is 37.8 on chemo")
    assert "37.5" in text and "112" in text


def test_the_numbers_topic_reads_the_locale(bundled) -> None:
    chat = Chat(bundled, audience="patient", locale="ca", preview=True)
    reply = next(r for r in body(chat.say("what number do I call in an emergency")) if r.kind.value == "answer")
    assert reply.topic == "emergency_numbers" and "911" in reply.text and "988" in reply.text


@pytest.mark.parametrize("question, line", [
    ("Sydney - is there a cancer nurse helpline i can ring?", "13 11 20"),
    ("we live in Cork, is there a cancer support line", "1800 200 700"),
    ("any cancer helpline in Toronto", "1-888-939-3333"),
    ("is there a cancer helpline", "1-800-227-2345"),  # the deployment's own locale
])
def test_the_numbers_card_names_the_places_cancer_support_line(bundled, question: str, line: str) -> None:
    chat = Chat(bundled, audience="patient", locale="us", preview=True)
    reply = next(r for r in body(chat.say(question)) if r.kind.value == "answer")
    assert reply.topic == "emergency_numbers" and line in reply.text


def test_a_card_names_the_emergency_number_of_the_place_the_person_lives(bundled) -> None:
    chat = Chat(bundled, audience="patient", locale="uk", preview=True)
    reply = next(r for r in body(chat.say("we live in Melbourne. what are the signs of spinal cord compression"))
                 if r.kind.value in ("answer", "urgent"))
    assert "000" in reply.text and "999" not in reply.text


def test_a_state_stored_before_places_were_read_loads_without_one() -> None:
    state = ConversationState(audience="patient")
    data = state.to_dict()
    data.pop("locale")
    assert ConversationState.from_dict(data).locale is None


def test_a_place_claimed_by_two_locales_is_an_error(tmp_path: Path) -> None:
    text = """
locales:
  - id: xx
    name: Somewhere
    emergency_number: "123"
    crisis_line: "a line"
    fever_c: 38.0
    fever_f: 100.4
    care_team_advice: "Call your team."
    sources: [fx_guideline]
    places: [dublin]
"""
    problems = errors_of(tmp_path, text)
    assert any("place 'dublin' already names locale" in p for p in problems), problems
