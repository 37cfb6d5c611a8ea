"""Property-based: any text or payload, over many turns, never crashes and keeps state sound."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogue.engine import Engine, EngineOptions
from dialogue.replies import Incoming, Reply, ReplyKind
from dialogue.state import ConversationState

WORDS = ["letrozole", "ibrance", "er+", "her2-", "fever", "39", "side", "effects", "start over", "1l", "options",
         "premenopausal", "what", "about", "and", "no", "I", "can't", "breathe", "should", "stop", "😢", "<!channel>",
         "<b>", "&amp;", "\x00", "\ud800", "triple negative", "I understand", "menu", "a:1:0", "t:fx_first_line"]

texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
payloads = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["t:fx_first_line", "t:nope", "a:1:0", "a:2:1", "a:0:9", "c:yes", "m:", "m:treatment", "r:", "m:zz"]),
    # option presses with any decimal digit of any script ("\u1369" passes isdigit() but not int())
    st.tuples(st.text(st.characters(categories=["Nd"]) | st.sampled_from("0123456789"), min_size=1, max_size=3),
              st.text(st.characters(categories=["Nd", "No"]) | st.sampled_from("0123456789"), min_size=1, max_size=3))
    .map(lambda parts: f"a:{parts[0]}:{parts[1]}"),
)
actions = st.one_of(texts.map(lambda t: Incoming(text=t)), payloads.map(lambda p: Incoming(payload=p)))


def well_formed(reply: Reply) -> bool:
    return (
        isinstance(reply.kind, ReplyKind)
        and isinstance(reply.text, str)
        and bool(reply.text.strip())
        and all(b.label and len(b.payload.encode("utf-8", "surrogatepass")) <= 64 for b in reply.buttons)
        and (reply.kind is not ReplyKind.ANSWER or bool(reply.sources))
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation=st.lists(actions, min_size=1, max_size=8), audience=st.sampled_from(["clinician", "patient"]),
       consent=st.booleans())
def test_any_conversation_is_handled(knowledge, conversation, audience, consent) -> None:
    engine = Engine(knowledge, EngineOptions(audience=audience, consent_required=consent))
    state = None
    for i, incoming in enumerate(conversation):
        turn = engine.step(state, incoming, float(i))
        assert turn.replies and all(well_formed(r) for r in turn.replies)
        urgent = [r.kind is ReplyKind.URGENT for r in turn.replies]
        assert urgent == sorted(urgent, reverse=True)  # urgent replies come first
        round_trip = ConversationState.from_dict(json.loads(json.dumps(turn.state.to_dict())))
        assert round_trip == turn.state
        state = turn.state


#: Questions that land on each kind of card (drug, class, site, feeling, regimen, concept), then
#: follow-ups that name nothing of their own and lean on the last answer.
OPENERS = [
    "with liver secondaries can she stay on hormone pills", "what is ibrance", "kisqali side effects",
    "how is enhertu given", "HR+ HER2- first line options", "her2 positive later lines", "it has spread to her bones",
    "brain mets treatment", "fluid on the lung", "I feel so low since the diagnosis", "scared of every scan",
    "what does stage 4 mean", "clinical trials for MBC", "hospice at home", "male breast cancer", "ESR1 mutation",
    "pd-l1 test", "had letrozole, ribociclib, fulvestrant and capecitabine; anything left?",
    "abemaciclib with clarithromycin, any CYP3A4 issue?", "cold cap on paclitaxel", "travel insurance on chemo",
    "what is a DNR", "tamoxifen hot flushes", "is it bone cancer now", "my mum is 88 and frail",
]
FOLLOW_UPS = [
    "how long can my mum live with this", "and the side effects?", "what about if she is premenopausal?",
    "actually it's HER2 positive", "what comes after that?", "thanks", "how is it given?", "is it safe?", "why?",
    "what else", "and for men?", "ok",
]


@pytest.mark.parametrize("audience", ["clinician", "patient"])
def test_follow_ups_that_name_nothing_are_handled(bundled, audience) -> None:
    """A follow-up leaning on any card's answer gets well-formed replies (a site's only card once raised here)."""
    engine = Engine(bundled, EngineOptions(audience=audience, preview=True))
    for opener in OPENERS:
        first = engine.step(None, Incoming(text=opener), 0.0)
        for follow_up in FOLLOW_UPS:
            turn = engine.step(first.state, Incoming(text=follow_up), 1.0)
            assert turn.replies and all(well_formed(r) for r in turn.replies), (opener, follow_up)
