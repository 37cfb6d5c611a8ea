"""The engine's behaviour, turn by turn, as a user would notice it."""

from __future__ import annotations

import pytest

from dialogue.engine import Engine, EngineOptions
from dialogue.replies import Incoming, ReplyKind

from ..conftest import Chat, body, kinds


# --- first contact and disclaimers ----------------------------------------------------------
def test_first_contact_shows_the_disclaimer_before_the_answer(clinician: Chat) -> None:
    replies = clinician.say("ibrance side effects")
    assert kinds(replies) == ["disclaimer", "answer"]
    assert replies[1].topic == "fx_cdk_side_effects"


def test_disclaimer_is_shown_again_only_after_the_interval(knowledge) -> None:
    chat = Chat(knowledge, audience="clinician", disclaimer_interval_s=3600)
    chat.say("ibrance side effects")
    assert "disclaimer" not in kinds(chat.say("letrozole side effects"))
    chat.now += 3601
    assert kinds(chat.say("letrozole side effects"))[0] == "disclaimer"


def test_disclaimer_text_is_verbatim_from_the_knowledge(clinician: Chat, knowledge) -> None:
    replies = clinician.say("hello")
    assert replies[0].text == knowledge.disclaimers["clinician"]


# --- answers, citations and review -------------------------------------------------------------
def test_every_answer_cites_sources_and_shows_review_date(clinician: Chat) -> None:
    answer = body(clinician.say("letrozole side effects"))[0]
    assert answer.kind is ReplyKind.ANSWER
    assert [s.id for s in answer.sources] == ["fx_guideline"]
    assert answer.reviewed_on is not None and "2026-11-01" in answer.review_note


def test_patient_answers_end_with_a_nudge_to_the_care_team(patient: Chat) -> None:
    answer = body(patient.say("letrozole side effects"))[0]
    assert answer.text.rstrip().endswith("Your care team knows you best: ask them what this means for you.")


def test_unapproved_content_is_marked_for_clinicians_and_withheld_from_patients(knowledge) -> None:
    doc = Chat(knowledge, audience="clinician")
    answer = body(doc.say("how are bone metastases treated"))[0]
    assert answer.kind is ReplyKind.ANSWER and "Not yet clinically approved" in answer.text
    pat = Chat(knowledge, audience="patient")
    reply = body(pat.say("how are bone metastases treated"))[0]
    assert reply.kind is ReplyKind.FALLBACK and reply.topic is None
    assert "Medicines can make your bones stronger" not in reply.text


def test_preview_shows_unapproved_content_to_patients_with_the_banner(knowledge) -> None:
    pat = Chat(knowledge, audience="patient", preview=True)
    answer = body(pat.say("how are bone metastases treated"))[0]
    assert answer.topic == "fx_draft" and "Not yet clinically approved" in answer.text


# --- understanding -----------------------------------------------------------------------------
def test_brand_names_misspellings_shouting_and_emoji_are_understood(clinician: Chat) -> None:
    for text in ["IBRANCE SIDE EFFECTS!!!", "  palbocyclib   side effects 😟", "side affects of kisqali?", "femera side effects"]:
        reply = body(clinician.say(text))[0]
        assert reply.kind is ReplyKind.ANSWER, text
    assert body(clinician.say("femera side effects"))[0].topic == "fx_ai_side_effects"


def test_slots_stated_in_the_question_need_no_clarifying_question(clinician: Chat) -> None:
    replies = body(clinician.say("my mum is ER+ HER2- and postmenopausal, what is the first line treatment?"))
    assert kinds(replies) == ["answer"]
    assert "aromatase inhibitor plus CDK4/6" in replies[0].text


def test_a_missing_slot_gets_one_clarifying_question_with_buttons(clinician: Chat) -> None:
    replies = body(clinician.say("1L options MBC"))
    assert kinds(replies) == ["clarify"]
    assert "Triple negative" in [b.label for b in replies[0].buttons]
    answer = body(clinician.press("Triple negative"))
    assert kinds(answer) == ["answer"] and "Triple-negative first line" in answer[0].text


def test_a_clarifying_question_can_be_answered_in_free_text(clinician: Chat) -> None:
    clinician.say("1L options MBC")
    answer = body(clinician.say("she is HER2 positive and ER negative"))
    assert kinds(answer) == ["answer"] and "HER2-positive first line" in answer[0].text


def test_flow_can_go_through_a_second_state(clinician: Chat) -> None:
    clinician.say("first line treatment options stage 4")
    follow = body(clinician.press("Not sure"))
    assert kinds(follow) == ["clarify"] and "General information" in [b.label for b in follow[0].buttons]
    answer = body(clinician.press("General information"))
    assert "Subtype unknown" in answer[0].text


def test_a_new_question_abandons_the_pending_one(clinician: Chat) -> None:
    clinician.say("1L options MBC")
    answer = body(clinician.say("what are the side effects of letrozole"))
    assert answer[0].topic == "fx_ai_side_effects"
    assert clinician.state().pending is None


def test_an_unintelligible_answer_to_a_question_is_asked_again_once(clinician: Chat) -> None:
    clinician.say("1L options MBC")
    again = body(clinician.say("banana"))
    assert kinds(again) == ["fallback", "clarify"]


def test_nothing_fits_gets_a_fallback_that_says_what_the_bot_can_do(clinician: Chat) -> None:
    reply = body(clinician.say("what is the weather in paris tomorrow"))
    assert kinds(reply) == ["fallback"]
    assert "treatment options and side effects" in reply[0].text and reply[0].buttons


def test_two_close_topics_get_one_clarifying_question(clinician: Chat) -> None:
    replies = body(clinician.say("side effects of letrozole and ibrance"))
    assert kinds(replies) == ["clarify"]
    payloads = [b.payload for b in replies[0].buttons]
    assert "t:fx_cdk_side_effects" in payloads and "t:fx_ai_side_effects" in payloads


def test_of_two_close_topics_the_one_that_answers_the_likely_aspect_is_answered(bundled) -> None:
    """A menu only when the candidates answer equally likely aspects."""
    from dialogue.engine import answering_likeliest
    from dialogue.understanding.aspects import Guess

    close = ["palliative_care_and_stopping", "workup_at_diagnosis"]
    assert answering_likeliest(bundled, close, (Guess("testing", 0.5), Guess("first_line", 0.3), Guess("stopping", 0.1))) == "workup_at_diagnosis"
    assert answering_likeliest(bundled, close, (Guess("testing", 0.35), Guess("stopping", 0.3))) is None  # too close: ask
    assert answering_likeliest(bundled, close, (Guess("outlook", 0.9), Guess("testing", 0.05))) is None  # neither answers it


# --- context -------------------------------------------------------------------------------
def test_a_follow_up_uses_the_last_topic(clinician: Chat) -> None:
    clinician.say("letrozole side effects")
    again = body(clinician.say("and what about anastrozole?"))
    assert again[0].topic == "fx_ai_side_effects"


def test_a_slot_can_be_corrected_and_the_answer_changes(clinician: Chat) -> None:
    first = body(clinician.say("1L options for ER+ HER2- postmenopausal"))
    assert "HR-positive first line" in first[0].text
    corrected = body(clinician.say("actually it's HER2 positive"))
    assert "HER2-positive first line" in corrected[0].text


def test_what_if_changes_a_slot_of_the_last_topic(clinician: Chat) -> None:
    clinician.say("1L options for ER+ HER2- postmenopausal")
    pre = body(clinician.say("what about if she is premenopausal?"))
    assert "ovarian suppression" in pre[0].text


def test_start_over_clears_slots_and_context(clinician: Chat) -> None:
    clinician.say("1L options for ER+ HER2- postmenopausal")
    clinician.say("start over")
    state = clinician.state()
    assert state.slots == {} and state.last_topic is None
    assert kinds(body(clinician.say("1L options MBC"))) == ["clarify"]


# --- safety --------------------------------------------------------------------------------
def test_red_flag_gets_the_urgent_reply_before_anything_else(patient: Chat) -> None:
    replies = patient.say("my mum has a temperature of 38.4 after chemo, what are the side effects of ibrance?")
    assert replies[0].kind is ReplyKind.URGENT
    assert "911" in replies[0].text and replies[0].sources


def test_fever_threshold_follows_the_locale(knowledge) -> None:
    us = Chat(knowledge, audience="patient", locale="us")
    uk = Chat(knowledge, audience="patient", locale="uk")
    assert body(us.say("my temperature is 37.7"))[0].kind is not ReplyKind.URGENT
    urgent = uk.say("my temperature is 37.7")[0]
    assert urgent.kind is ReplyKind.URGENT and "999" in urgent.text and "37.5" in urgent.text


def test_red_flags_cover_breathing_weakness_and_self_harm(patient: Chat) -> None:
    for text in ["I can't breathe properly", "she suddenly has weakness in her left arm", "I want to end my life", "I have chest pain"]:
        assert patient.say(text)[0].kind is ReplyKind.URGENT, text


def test_a_negated_symptom_is_not_a_red_flag(patient: Chat) -> None:
    assert ReplyKind.URGENT not in [r.kind for r in patient.say("no fever today, what are the side effects of letrozole")]


def test_a_question_about_a_condition_is_answered_with_advice(patient: Chat) -> None:
    replies = body(patient.say("what is febrile neutropenia?"))
    assert kinds(replies) == ["answer"] and replies[0].topic == "febrile_neutropenia"
    assert "call your care team right away" in replies[0].text.lower()


def test_self_harm_reply_gives_the_crisis_line(patient: Chat) -> None:
    assert "988" in patient.say("i dont want to live anymore")[0].text


def test_patients_get_no_personal_dosing_but_general_information(patient: Chat) -> None:
    replies = body(patient.say("should I stop my letrozole? the side effects are bad"))
    assert replies[0].kind is ReplyKind.REFUSAL and "care team" in replies[0].text
    assert any(r.topic == "fx_ai_side_effects" for r in replies)


def test_clinicians_are_not_refused(clinician: Chat) -> None:
    assert ReplyKind.REFUSAL not in [r.kind for r in clinician.say("should I stop letrozole for arthralgia")]


def test_out_of_scope_questions_say_so(patient: Chat) -> None:
    reply = body(patient.say("what is the treatment for prostate cancer"))[0]
    assert reply.kind is ReplyKind.FALLBACK and "only know about stage 4 breast cancer" in reply.text


# --- consent -------------------------------------------------------------------------------
def test_consent_is_asked_before_the_first_answer_and_the_question_is_kept(knowledge) -> None:
    chat = Chat(knowledge, audience="patient", consent_required=True)
    replies = chat.say("letrozole side effects")
    assert kinds(replies) == ["disclaimer", "fallback"]
    assert replies[0].buttons[0].payload == "c:yes"
    after = chat.press("I understand")
    assert kinds(after) == ["answer"] and after[0].topic == "fx_ai_side_effects"


def test_a_greeting_before_consent_carries_the_consent_button(knowledge) -> None:
    chat = Chat(knowledge, audience="patient", consent_required=True)
    first = chat.say("hello")
    assert kinds(first) == ["fallback", "disclaimer"]  # the welcome, then the note and its button
    assert first[-1].buttons[0].payload == "c:yes"
    again = chat.say("hello")  # the disclaimer is not due again, but consent still is
    assert again[-1].kind is ReplyKind.DISCLAIMER and again[-1].buttons[0].payload == "c:yes"
    chat.press("I understand")
    assert chat.session.peek("c1").consented_at is not None


def test_red_flags_are_answered_even_before_consent(knowledge) -> None:
    chat = Chat(knowledge, audience="patient", consent_required=True)
    assert chat.say("I cant breathe")[0].kind is ReplyKind.URGENT


def test_consent_can_be_typed(knowledge) -> None:
    chat = Chat(knowledge, audience="patient", consent_required=True)
    chat.say("hello")
    chat.say("I understand")
    assert chat.state().consented_at is not None


# --- bad input never crashes and never corrupts state ---------------------------------------------
def test_bad_input_gets_a_clear_reply_and_keeps_state(clinician: Chat) -> None:
    clinician.say("1L options for ER+ HER2- postmenopausal")
    before = clinician.state().to_dict()
    for text in ["", "   ", "\x00\x01\x02", "\ud800 broken surrogate", "x" * 100_000]:
        replies = body(clinician.say(text))
        assert replies and replies[0].kind is ReplyKind.FALLBACK, repr(text[:20])
    after = clinician.state().to_dict()
    assert after["slots"] == before["slots"] and after["last_topic"] == before["last_topic"]


def test_a_long_message_names_the_limit(clinician: Chat) -> None:
    reply = body(clinician.say("side effects " * 300))[0]
    assert "2000" in reply.text


def test_a_red_flag_in_a_huge_message_is_still_caught(patient: Chat) -> None:
    assert patient.say("I can't breathe " + "x" * 50_000)[0].kind is ReplyKind.URGENT


def test_forged_and_stale_buttons_change_nothing(clinician: Chat) -> None:
    clinician.say("1L options MBC")
    pending = clinician.state().pending
    for payload in ["t:no_such_topic", "zz", "a:999:0", "a:x:y", "m:nope", "\ud800", "a:" + "9" * 500]:
        reply = body(clinician.payload(payload))[0]
        assert reply.kind is ReplyKind.FALLBACK, payload
    assert clinician.state().pending == pending


def test_forged_option_presses_with_digits_of_other_scripts_never_raise_and_press_nothing(knowledge) -> None:
    engine = Engine(knowledge, EngineOptions())
    asked = engine.step(None, Incoming(text="1L options MBC"), 0.0).state
    turn = asked.pending["turn"]
    odd = [f"a:{turn}:\u1369", "a:1:\u1369", "a:4:3\u1369", f"a:\u1369:0", f"a:{turn}:\u0663",
           f"a:{turn}:-1", f"a:{turn}:+1", f"a:{turn}: 1", f"a:{turn}:1_0", f"a:{turn}:0x1", f"a:{turn}:" + "9" * 40, "a:", "a::"]
    for payload in odd:
        result = engine.step(asked, Incoming(payload=payload), 1.0)
        assert [r.kind for r in result.replies if r.kind is not ReplyKind.DISCLAIMER] == [ReplyKind.FALLBACK], payload
        assert result.state.pending == asked.pending and result.state.slots == asked.slots, payload


def test_step_is_pure_and_does_not_change_the_given_state(knowledge) -> None:
    engine = Engine(knowledge, EngineOptions())
    first = engine.step(None, Incoming(text="1L options for ER+ HER2-"), 0.0).state
    snapshot = first.to_dict()
    engine.step(first, Incoming(text="actually HER2 positive"), 1.0)
    assert first.to_dict() == snapshot


def test_buttons_payloads_fit_telegram(clinician: Chat) -> None:
    for text in ["1L options MBC", "hello", "side effects of letrozole and ibrance"]:
        for reply in clinician.say(text):
            assert all(len(b.payload.encode()) <= 64 for b in reply.buttons)


def test_citation_markers_are_numbered_and_only_cited_sources_are_listed(tmp_path) -> None:
    from dialogue.engine import cite
    from dialogue.model import Source

    a = Source("a", "A", "P", 2020, "https://a", "trial")
    b = Source("b", "B", "P", 2021, "https://b", "trial")
    c = Source("c", "C", "P", 2022, "https://c", "trial")
    text, sources = cite("x [[b]] y [[a]] z [[b]]", (a, b, c))
    assert text == "x [1] y [2] z [1]" and sources == [b, a]
    assert cite("no markers", (a, b)) == ("no markers", [a, b])


def test_a_negated_slot_phrase_is_never_read_as_its_opposite(clinician: Chat) -> None:
    clinician.say("1L options for ER+ HER2- postmenopausal")
    pre = body(clinician.say("what if she hasn't been through menopause yet?"))
    assert "ovarian suppression" in pre[0].text
    assert clinician.state().slots["menopause"] == "pre"
    chat_slots = clinician.session.engine.k.lexicon.read(["she", "is", "not", "her2", "positive"]).sets
    assert "her2" not in chat_slots


def test_only_the_missing_part_of_the_subtype_is_offered(clinician: Chat) -> None:
    # HER2-positive first line hardly differs by hormone receptors: the answer comes first,
    # with the missing half of the subtype offered as buttons under it (never the known half)
    replies = body(clinician.say("1L options MBC, HER2 positive"))
    assert kinds(replies) == ["answer"]
    assert "pertuzumab, trastuzumab and a taxane" in replies[0].text
    labels = [b.label for b in replies[0].buttons]
    assert "HR-positive" in labels and "HR+ / HER2-" not in labels


def test_a_follow_up_on_a_new_aspect_moves_to_a_related_topic(clinician: Chat) -> None:
    clinician.say("1L options for ER+ HER2- postmenopausal")
    replies = body(clinician.say("and the side effects?"))
    # both drugs of that first line have side-effect topics: one question offers both, not the same answer again
    assert kinds(replies) == ["clarify"]
    assert [b.payload for b in replies[0].buttons] == ["t:fx_cdk_side_effects", "t:fx_ai_side_effects", "m:"]


@pytest.mark.parametrize("text", ["thank you, this helped", "thanks so much, that was really useful", "ok bye"])
def test_thanks_and_goodbyes_in_their_own_words_get_a_short_reply(patient: Chat, text: str) -> None:
    patient.say("what are the side effects of ibrance")
    replies = body(patient.say(text))
    assert len(replies) == 1 and "welcome" in replies[0].text.lower() and len(replies[0].text) < 80


def test_thanks_with_a_question_is_still_a_question(clinician: Chat) -> None:
    replies = body(clinician.say("thanks, and what about the dose?"))
    assert not (len(replies) == 1 and "welcome" in replies[0].text)
