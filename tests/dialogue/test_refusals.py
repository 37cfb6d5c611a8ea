"""Refusals, the scope rules and the in-domain gate, where a conversation script cannot show them.

The scripts in tests/conversations/refusals_and_scope.yaml cover the everyday wording; these
tests cover the gate as a reusable check, the knowledge that defines it, refusals that an
emergency reply would otherwise hide, and what may follow a refusal.
"""

from __future__ import annotations

import dataclasses

import pytest

from dialogue.engine import DOMAIN_RULE, Engine
from dialogue.model import Knowledge
from dialogue.replies import ReplyKind
from dialogue.understanding.reading import read_message

from ..conftest import Chat, body, kinds


def _in_domain(engine: Engine, text: str) -> bool:
    message = read_message(text, 20_000)
    return engine.in_domain(engine.k.lexicon.read(list(message.words)), message.folded)


# --- the in-domain gate ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "ibrnace",  # a brand name, misspelt
        "what is a CDK4/6 inhibitor",  # a class
        "ER+ HER2-",  # slot phrases
        "canser in her bones",  # a typo of a domain word
        "my mum's tumour",
        "mets to the liver",
        "is radiotherapy painful",
        "she is so tired all the time",
        "what does my oncologist mean",
        "the biopsy results",
    ],
)
def test_anything_of_the_subject_is_in_the_domain(knowledge: Knowledge, text: str) -> None:
    assert _in_domain(Engine(knowledge), text)


@pytest.mark.parametrize(
    "text",
    ["best stocks to buy", "how do I treat a cold", "what's the weather tomorrow", "recipe for lasagne", "book me a taxi"],
)
def test_messages_with_nothing_of_the_subject_are_outside_the_domain(knowledge: Knowledge, text: str) -> None:
    assert not _in_domain(Engine(knowledge), text)


def test_knowledge_without_the_gate_rule_answers_as_before(knowledge: Knowledge) -> None:
    """The domain is defined in the knowledge: without its rule, nothing is turned away."""
    ungated = dataclasses.replace(knowledge, out_of_scope=tuple(r for r in knowledge.out_of_scope if r.id != DOMAIN_RULE))
    assert _in_domain(Engine(ungated), "best stocks to buy")
    reply = body(Chat(ungated, audience="patient").say("best stocks to buy"))[0]
    assert reply.kind is ReplyKind.FALLBACK and "outside what I know" not in reply.text
    gated = body(Chat(knowledge, audience="patient").say("best stocks to buy"))[0]
    assert gated.kind is ReplyKind.FALLBACK and "outside what I know" in gated.text


def test_an_out_of_domain_message_while_a_question_is_pending_gets_the_pending_question_again(clinician: Chat) -> None:
    clinician.say("1L options MBC")  # asks for the subtype
    replies = body(clinician.say("what's the weather tomorrow"))
    assert kinds(replies) == ["fallback", "clarify"]
    assert "didn't understand" in replies[0].text and "Triple negative" in [b.label for b in replies[1].buttons]


def test_a_follow_up_without_domain_words_leans_on_the_last_answer(clinician: Chat) -> None:
    clinician.say("letrozole side effects")
    replies = body(clinician.say("what about for her?"))
    assert "outside what mbcbot covers" not in replies[0].text
    # with no answer to lean on, the same words get the scope reply
    fresh = body(Chat(clinician.session.engine.k, audience="clinician").say("what about for her?"))[0]
    assert "outside what mbcbot covers" in fresh.text


# --- what may follow a refusal -----------------------------------------------------------------------
def test_a_refusal_is_followed_by_information_about_the_drug_it_names(patient: Chat) -> None:
    replies = body(patient.say("can I take half my ibrance"))
    assert kinds(replies) == ["refusal", "fallback", "answer"]
    assert replies[2].topic == "fx_cdk_side_effects"


def test_a_refusal_naming_nothing_specific_is_not_followed_by_a_guess(patient: Chat) -> None:
    # "side effects" alone belongs to several topics: the CDK4/6 answer would be a guess
    replies = body(patient.say("should I take a break from treatment because of the side effects"))
    assert kinds(replies) == ["refusal"]


def test_a_refusal_about_an_unapproved_topic_shows_no_topic(knowledge: Knowledge) -> None:
    replies = body(Chat(knowledge, audience="patient").say("can I skip my bone strengthening drugs"))
    assert kinds(replies) == ["refusal"]
    assert "not approved" not in replies[0].text


# --- refusals an emergency reply would otherwise hide ----------------------------------------------------
@pytest.fixture
def no_red_flags(knowledge: Knowledge) -> Knowledge:
    """The knowledge without red flags: the refusals on their own, as when no emergency is read."""
    return dataclasses.replace(knowledge, red_flags=())


@pytest.mark.parametrize("locale, line", [("us", "Poison Help"), ("uk", "111")])
def test_doubling_up_after_a_missed_dose_is_refused_with_the_poison_line(no_red_flags: Knowledge, locale: str, line: str) -> None:
    replies = body(Chat(no_red_flags, audience="patient", locale=locale).say("should I double up tomorrow since I missed one"))
    assert kinds(replies) == ["refusal"]
    text = replies[0].text
    assert "If too much was taken, call your 24-hour line or poison help" in text and line in text and "now" in text
    assert "today" not in text  # an overdose cannot wait until later in the day


@pytest.mark.parametrize(
    "text",
    [
        "can I double my tamoxifen to make it work better",
        "should I double the dose tomorrow",
        "i accidentally took two tablets today",
    ],
)
def test_doubling_and_too_much_are_dosing_refusals(no_red_flags: Knowledge, text: str) -> None:
    reply = body(Chat(no_red_flags, audience="patient").say(text))[0]
    assert reply.kind is ReplyKind.REFUSAL and "can't advise on doses" in reply.text


def test_a_refusal_keeps_the_advice_of_an_emergency_the_message_asks_about(patient: Chat) -> None:
    # with information about the drug named
    replies = body(patient.say("should I stop my letrozole if I get a fever?"))
    assert kinds(replies) == ["refusal", "fallback", "answer"]
    assert replies[2].topic == "fx_ai_side_effects" and "100.4" in replies[2].text
    # or on its own
    replies = body(patient.say("should I stop Xeloda if I get a fever?"))
    assert kinds(replies) == ["refusal", "answer"] and "100.4" in replies[1].text


def test_a_deployment_topic_on_another_subject_is_not_turned_away(tmp_path) -> None:
    """Words that only one topic's examples use put a question in the domain when it matches that topic."""
    from dialogue.loader import load_knowledge

    from ..conftest import CORE, FIXTURES

    (tmp_path / "local.yaml").write_text(
        """
topics:
  - id: zz_visiting
    title: "Visiting hours on the oncology ward"
    family: support
    examples:
      - what are the visiting hours
      - when can relatives visit
      - visiting times at the weekend
      - how many visitors are allowed
      - can children come visiting
    sources: [fx_guideline]
    review: {status: approved, reviewed_on: 2026-11-01, reviewed_by: "ward manager"}
    answer:
      clinician: "Visiting: 10:00 to 20:00."
      patient: "Visitors are welcome from 10 in the morning to 8 in the evening."
""",
        encoding="utf-8",
    )
    local = load_knowledge([CORE, FIXTURES / "topics", tmp_path], include_bundled=False)
    reply = body(Chat(local, audience="patient").say("what are the visiting hours?"))[0]
    assert reply.kind is ReplyKind.ANSWER and reply.topic == "zz_visiting"
    assert "outside what I know" in body(Chat(local, audience="patient").say("what's the weather tomorrow"))[0].text
