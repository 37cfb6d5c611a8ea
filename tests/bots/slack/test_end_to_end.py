"""The real Bolt app, in HTTP mode on 127.0.0.1, receives signed Slack requests and answers
through the fake Slack Web API, end to end."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from bots.slack.app import CLAIM_TTL_S
from bots.slack.inbound import person_of, person_salt, person_thread_id
from dialogue.loader import load_knowledge
from dialogue.model import Knowledge
from dialogue.replies import Incoming, Reply
from dialogue.session import STORE_APOLOGY
from dialogue.storage import SQLiteStore
from tests.conftest import CORE, FIXTURES

from ..adapter_support import long_topic_yaml
from . import payloads
from .conftest import make_session, make_settings, posted, running, shown
from .fake_slack import FakeSlack, visible_text
from .payloads import BOT_TOKEN, CHANNEL, DM, SECRET, TEAM

CLINICIAN_DISCLAIMER = "does not replace clinical judgement"
PAD = "This sentence pads the paragraph to a realistic length for testing purposes. " * 6
#: About 14,000 characters in 28 paragraphs, full of characters that are special in mrkdwn.
LONG_ANSWER = "\n\n".join(f"**Part {n}** of the handbook: a < b & c > d, <!channel> <@U0X> *x* ({n}). {PAD}" for n in range(1, 29))
LONG_TOPIC = long_topic_yaml(LONG_ANSWER, "clinician")


def with_long_topic(overlay: Path) -> Knowledge:
    (overlay / "long.yaml").write_text(LONG_TOPIC)
    return load_knowledge([CORE, FIXTURES / "topics", overlay], include_bundled=False)


def thread_key(root: str, user: str = payloads.USER) -> str:
    """The conversation of one person in a thread, as the bot keys it."""
    return person_thread_id(TEAM, CHANNEL, root, person_of(TEAM, user, person_salt(BOT_TOKEN)))


def block_types(call: Any) -> list[str]:
    return [b["type"] for b in call.blocks]


def test_a_mention_is_answered_in_its_thread_in_valid_blocks_with_a_fallback(fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        question = payloads.mention("what are the side effects of ibrance?")
        calls = bot.run(question)
    [answer] = posted(calls)
    assert all(c.ok for c in calls)  # the fake validated the blocks (models, limits, escaping)
    assert answer.method == "chat.postMessage" and answer.channel == CHANNEL
    assert answer.thread_ts == question["event"]["ts"]  # in the thread, never in the channel itself
    assert answer.params["unfurl_links"] is False and answer.params["unfurl_media"] is False
    assert block_types(answer) == ["context", "section", "context"]  # disclaimer, answer, sources
    assert CLINICIAN_DISCLAIMER in visible_text(answer.blocks[0]["elements"][0]["text"])  # first contact
    assert "neutropenia" in answer.texts("section")[0]
    assert answer.blocks[2]["elements"][0]["text"].startswith("*Sources*\n[1] <https://example.org/guideline|")
    assert "Last reviewed 2026-11-01" in answer.texts("context")[-1]
    assert "neutropenia" in answer.text and "Sources:" in answer.text  # the fallback says it all too


def test_follow_ups_in_a_thread_keep_its_context_and_another_thread_starts_afresh(
    fake: FakeSlack, knowledge: Knowledge
) -> None:
    session = make_session(knowledge)
    with running(fake, session) as bot:
        first = payloads.mention("what treatment will she get first")
        clarify = posted(bot.run(first))[-1]
        assert "Which subtype" in clarify.visible and ("HR+ / HER2-", "a:1:0") in clarify.buttons
        root = first["event"]["ts"]
        follow = posted(bot.mention("HR+ HER2- postmenopausal", thread_ts=root))
        assert [c.thread_ts for c in follow] == [root]
        assert "HR-positive first line" in follow[0].visible
        assert CLINICIAN_DISCLAIMER not in follow[0].visible  # shown once per conversation
        other = posted(bot.mention("HR+ HER2- postmenopausal"))
        assert "HR-positive first line" not in other[0].visible  # no context carried over
        state = session.store.load(thread_key(root), session.clock())
        assert state is not None and state.last_topic == "fx_first_line"


def test_a_button_press_feeds_its_payload_back_and_answers_in_the_same_thread(
    fake: FakeSlack, knowledge: Knowledge
) -> None:
    session = make_session(knowledge)
    with running(fake, session) as bot:
        first = payloads.mention("what treatment will she get first")
        root = first["event"]["ts"]
        clarify = bot.run(first)
        pressed = bot.press(clarify, "HR+ / HER2-")
        [answer] = posted(pressed)
        assert answer.thread_ts == root and "aromatase inhibitor plus CDK4/6 inhibitor" in answer.visible
        assert answer.buttons == [("Side effects of CDK4/6 inhibitors", "t:fx_cdk_side_effects")]
        related = posted(bot.press(pressed, "Side effects of CDK4/6 inhibitors"))
        assert related[0].thread_ts == root and "neutropenia" in related[0].visible
        state = session.store.load(thread_key(root), session.clock())
        assert state is not None and state.last_topic == "fx_cdk_side_effects"


def test_a_direct_message_is_one_conversation_answered_at_the_top_level(fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        first = posted(bot.dm("what treatment will she get first"))
        assert [(c.channel, c.thread_ts) for c in first] == [(DM, None)]
        assert CLINICIAN_DISCLAIMER in first[0].visible
        second = posted(bot.dm("HR+ HER2-"))
        assert "HR-positive first line" in second[0].visible and CLINICIAN_DISCLAIMER not in second[0].visible
        threaded = posted(bot.dm("letrozole side effects", thread_ts=first[0].ts))
        assert threaded[0].thread_ts == first[0].ts and "arthralgia" in threaded[0].visible


def test_the_slash_command_answers_only_the_caller_and_its_buttons_too(fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        calls = bot.command("what treatment will she get first")
        assert not fake.of("chat.postMessage")
        [private] = posted(calls)
        assert private.method == "response_url"
        assert private.params["response_type"] == "ephemeral" and private.params["replace_original"] is False
        assert "Which subtype" in private.visible
        [answer] = posted(bot.press(calls, "HR+ / HER2-"))
        assert answer.method == "response_url" and answer.params["response_type"] == "ephemeral"
        assert "HR-positive first line" in answer.visible
        [help_reply] = posted(bot.command(""))  # a bare /mbc explains itself
        assert "shorthand" in help_reply.visible
    assert not fake.of("chat.postMessage")


def test_a_red_flag_is_answered_first(fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        [answer] = posted(bot.dm("patient on chemo with a fever of 39 and rigors"))
    assert answer.blocks[0]["type"] == "section"
    assert answer.texts("section")[0].startswith("Red flag: possible neutropenic sepsis.")
    disclaimer = next(i for i, b in enumerate(answer.blocks) if CLINICIAN_DISCLAIMER in json.dumps(b))
    assert block_types(answer)[disclaimer - 1] == "divider"  # then, set apart, the disclaimer
    assert answer.text.startswith("Red flag: possible neutropenic sepsis.")  # the notification too


def test_a_retry_of_an_answered_event_is_dropped_but_a_retry_whose_original_was_lost_is_answered(
    fake: FakeSlack, knowledge: Knowledge
) -> None:
    with running(fake, make_session(knowledge)) as bot:
        question = payloads.dm("ibrance side effects")
        assert len(posted(bot.run(question))) == 1
        assert posted(bot.run(question, retry=1)) == []  # Slack timed out waiting for us: same event_id
        lost = payloads.dm("letrozole side effects")  # its first delivery never reached us
        assert "arthralgia" in shown(bot.run(lost, retry=2))[0]
        renamed = payloads.envelope(dict(question["event"]))  # the same message under a new event_id
        assert posted(bot.run(renamed)) == []
        as_mention = payloads.envelope({**question["event"], "type": "app_mention"})  # and as a mention
        assert posted(bot.run(as_mention)) == []
    assert len(fake.posted()) == 2


def test_two_instances_sharing_a_store_answer_an_event_once(fake: FakeSlack, knowledge: Knowledge, tmp_path: Path) -> None:
    database = tmp_path / "conversations.db"
    one, two = SQLiteStore(database), SQLiteStore(database)  # as two processes would open it
    with running(fake, make_session(knowledge, store=one)) as first, running(fake, make_session(knowledge, store=two)) as second:
        question = payloads.mention("ibrance side effects")
        first.run(question)
        second.run(question, retry=1)  # the retry reaches the other instance
        assert len(fake.posted()) == 1
        later = payloads.mention("letrozole side effects", thread_ts=question["event"]["ts"])
        assert "arthralgia" in shown(second.run(later))[0]  # the conversation itself is shared
    one.close()
    two.close()
    assert CLAIM_TTL_S >= 3600  # Slack's retries come within minutes


@pytest.mark.parametrize(
    "tamper",
    [
        {"secret": "not-the-signing-secret"},
        {"timestamp": int(time.time()) - 600},  # stale: a replayed request
        {"headers": {"X-Slack-Signature": "v0=" + "0" * 64}},
    ],
    ids=["wrong secret", "stale timestamp", "forged signature"],
)
def test_a_bad_or_stale_signature_is_rejected_with_401(fake: FakeSlack, knowledge: Knowledge, tamper: dict) -> None:
    with running(fake, make_session(knowledge)) as bot:
        for body in (payloads.dm("ibrance side effects"), payloads.command("ibrance side effects", "http://x/r")):
            status, _ = bot.send(body, **tamper)
            assert status == 401
        bot.executor.wait_idle()
    assert fake.posted() == []


def test_a_request_without_signature_headers_is_rejected(fake: FakeSlack, knowledge: Knowledge) -> None:
    from .conftest import post

    with running(fake, make_session(knowledge)) as bot:
        raw, content_type = payloads.encode(payloads.dm("ibrance side effects"))
        assert post(bot.url, raw, {"Content-Type": content_type})[0] == 401
        challenge = {"type": "url_verification", "token": "t", "challenge": "abc123"}  # Slack's set-up check
        status, body = bot.send(challenge)
        assert status == 200 and json.loads(body) == {"challenge": "abc123"}


def test_pings_and_mentions_in_user_text_and_specials_in_content_are_never_sent_raw(
    fake: FakeSlack, tmp_path: Path
) -> None:
    with running(fake, make_session(with_long_topic(tmp_path))) as bot:
        for text in ("<!channel> <!here> <@U0BOSS> ibrance side effects & more", "a < b && c > d <https://evil.example|x>"):
            assert all(c.ok for c in bot.dm(text, raw=True))  # the fake refuses any unescaped ping, mention or &
        calls = bot.dm("show me the zebrafish handbook")
    parts = posted(calls)
    assert len(parts) == 2 and all(c.ok for c in calls)  # about 14,000 characters: two messages
    sections = [s for c in parts for s in c.texts("section")]
    assert all(len(s) <= 3000 for c in parts for s in (b["text"]["text"] for b in c.blocks if b["type"] == "section"))
    for number in range(1, 29):  # every paragraph whole, in one section, in order
        assert sum(f"Part {number} of the handbook" in s for s in sections) == 1
    raw = "\n".join(c.mrkdwn for c in parts)
    assert "&lt;!channel&gt; &lt;@U0X&gt;" in raw and "a &lt; b &amp; c &gt; d" in raw
    assert "<https://example.org/handbook?part=1&amp;lang=en|Handbook &lt;draft&gt; &amp; notes>" in raw
    assert "a < b & c > d, <!channel> <@U0X>" in "\n".join(sections)  # shown as typed, pinging nobody
    assert [bool(c.buttons) for c in parts] == [False, True] and "Sources" in parts[-1].visible


def test_a_rate_limit_is_waited_out_and_the_answer_still_posted(fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        fake.fail("chat.postMessage", error="ratelimited", retry_after=1)
        started = time.monotonic()
        calls = [c for c in bot.dm("ibrance side effects") if c.method == "chat.postMessage"]
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].params == calls[1].params  # the same message, once delivered
    assert time.monotonic() - started >= 1.0  # Retry-After respected


def test_blocks_slack_rejects_are_resent_as_plain_text(fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        fake.fail("chat.postMessage", error="invalid_blocks")
        calls = bot.dm("ibrance side effects")
        fake.fail("response_url", error="invalid_blocks")
        private = bot.command("letrozole side effects")
    first, second = [c for c in calls if c.method == "chat.postMessage"]
    assert not first.ok and second.ok and "blocks" not in second.params
    assert second.text == first.text and "neutropenia" in second.visible
    rejected, resent = private
    assert rejected.status == 400 and resent.ok and resent.params.get("blocks") is None
    assert resent.params["response_type"] == "ephemeral" and "arthralgia" in resent.visible


def test_failures_are_logged_without_content_and_the_user_gets_an_apology(
    fake: FakeSlack, knowledge: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    session = make_session(knowledge)
    secret = "Jane Doe, 52, liver metastases: ibrance side effects?"
    caplog.set_level(logging.DEBUG)

    def broken(conversation_id: str, incoming: Incoming, **context: Any) -> list[Reply]:
        raise RuntimeError(f"boom: {secret}")

    with running(fake, session) as bot:
        fake.fail("chat.postMessage", error="internal_error", status=500)  # not retried: it may have been posted
        calls = bot.dm(secret)
        assert [c.status for c in calls] == [500, 200] and calls[1].visible == STORE_APOLOGY
        session.handle = broken  # type: ignore[method-assign]
        assert shown(bot.mention(secret)) == [STORE_APOLOGY]
        del session.handle
        assert "neutropenia" in shown(bot.dm("ibrance side effects"))[0]  # and it keeps going
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "SlackApiError 500 internal_error" in logged and "RuntimeError" in logged
    for private in ("Jane", "liver", "neutropenia", BOT_TOKEN, SECRET):
        assert private not in logged


@pytest.mark.parametrize(
    "body",
    [payloads.dm_edit("edited: fever of 39 on chemo"), payloads.dm_join(), payloads.dm_file_share(),
     payloads.dm_from_bot(), payloads.dm_from_other_bot_user(), payloads.dm_from_self()],
    ids=["edit", "join", "file share", "other bot", "other bot user", "itself"],
)
def test_edits_joins_files_and_bots_are_ignored_without_errors(
    fake: FakeSlack, knowledge: Knowledge, body: dict, caplog: pytest.LogCaptureFixture
) -> None:
    with running(fake, make_session(knowledge)) as bot:
        assert bot.run(body) == []  # acknowledged (200: Slack must not retry), not answered
        assert shown(bot.dm("ibrance side effects"))  # still working
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_slack_is_acknowledged_at_once_and_answered_afterwards(fake: FakeSlack, knowledge: Knowledge) -> None:
    session = make_session(knowledge)
    handle = session.handle

    def slow(conversation_id: str, incoming: Incoming, **context: Any) -> list[Reply]:
        time.sleep(1.0)
        return handle(conversation_id, incoming, **context)

    session.handle = slow  # type: ignore[method-assign]
    with running(fake, session) as bot:
        for body in (payloads.dm("ibrance side effects"), payloads.command("letrozole side effects", fake.response_url("r1"))):
            started = time.monotonic()
            assert bot.send(body)[0] == 200
            assert time.monotonic() - started < 0.5 and len(fake.posted()) < 2  # acked before the answer
        bot.executor.wait_idle()
    assert len(fake.posted()) == 2


def test_the_audience_is_set_per_channel(fake: FakeSlack, knowledge: Knowledge) -> None:
    settings = make_settings(channels={"C0FAMILIES": "patient"})
    with running(fake, make_session(knowledge), settings) as bot:
        patient = shown(bot.mention("ibrance side effects", channel="C0FAMILIES"))[0]
        clinician = shown(bot.mention("ibrance side effects"))[0]
    assert "white blood cells" in patient and "neutropenia" not in patient
    assert "neutropenia" in clinician


def test_stale_and_forged_button_payloads_get_the_engines_answer(fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        for value in ("a:99:0", "t:no_such_topic", "r:"):
            press = payloads.block_action(value, "mbcbot:0:0", channel=DM, message_ts="1700000000.000001")
            calls = bot.run(press)
            assert len(posted(calls)) == 1 and all(c.ok for c in calls)


def test_a_flood_in_one_thread_does_not_delay_another_users_direct_message(fake: FakeSlack, knowledge: Knowledge) -> None:
    fake.post_latency_s = 0.3  # a slow Slack: 30 answers in one thread take about 9 s
    session = make_session(knowledge)
    with running(fake, session) as bot:  # 4 workers
        root = payloads.mention("letrozole side effects")
        assert bot.send(root)[0] == 200
        for _ in range(30):
            assert bot.send(payloads.mention("ibrance side effects", thread_ts=root["event"]["ts"]))[0] == 200
        started = time.monotonic()
        assert bot.send(payloads.dm("what is febrile neutropenia", user="U0OTHER01"))[0] == 200
        fake.wait_for(lambda c: c.posted and c.channel == DM, timeout=5)
        waited = time.monotonic() - started
        in_thread = len([c for c in fake.posted() if c.thread_ts == root["event"]["ts"]])
        bot.executor.wait_idle(timeout=30)
    assert waited < 1.5, waited  # one post's latency or so, not the flood's 9 s
    assert in_thread < 31  # the flood was still being answered meanwhile
    assert len([c for c in fake.posted() if c.thread_ts == root["event"]["ts"]]) == 31  # every one answered


def test_in_a_shared_thread_one_persons_patient_facts_do_not_shape_anothers_answer(
        fake: FakeSlack, knowledge: Knowledge) -> None:
    with running(fake, make_session(knowledge)) as bot:
        alice = payloads.mention("what treatment will she get first", user="U0ALICE01")
        root = alice["event"]["ts"]
        assert "Which subtype" in posted(bot.run(alice))[-1].visible
        assert "HR-positive first line" in posted(bot.mention("HR+ HER2- postmenopausal", thread_ts=root,
                                                             user="U0ALICE01"))[0].visible
        bob = posted(bot.mention("what treatment will she get first", thread_ts=root, user="U0BOB0001"))
        assert "HR-positive first line" not in bob[-1].visible and "Which subtype" in bob[-1].visible
        assert CLINICIAN_DISCLAIMER in bob[0].visible  # Bob's first contact: his own disclaimer
        again = posted(bot.mention("what about second line", thread_ts=root, user="U0ALICE01"))
        assert "Which subtype" not in again[-1].visible  # Alice's own context is kept


def test_the_rate_limit_counts_per_person_not_per_thread(fake: FakeSlack, knowledge: Knowledge) -> None:
    from dialogue.ratelimit import SlidingWindowLimiter

    session = make_session(knowledge)
    session.limiter = SlidingWindowLimiter(5, window_s=60)
    with running(fake, session) as bot:
        answers = [" ".join(shown(bot.mention("letrozole side effects"))) for _ in range(8)]  # 8 new threads
        other = " ".join(shown(bot.mention("letrozole side effects", user="U0OTHER01")))
    limited = [a for a in answers if "faster than I can" in a]
    assert len(limited) == 3  # new threads do not reset one person's count
    assert "faster than I can" not in other  # and someone else is not held back by it


def test_conversations_stored_by_an_earlier_version_are_not_dropped(fake: FakeSlack, knowledge: Knowledge) -> None:
    from dialogue.state import ConversationState

    session = make_session(knowledge)
    now = session.clock()
    old = ConversationState(audience="clinician", slots={"subtype": "hr_pos_her2_neg"}, disclaimer_at=now,
                            consented_at=now, turn=3, created_at=now, updated_at=now)
    session.store.save(f"slack:{TEAM}:{DM}", old, now)  # a DM, keyed by its channel before
    session.store.save(f"slack:{TEAM}:{CHANNEL}:9.0", old, now)  # a whole thread, keyed by it before
    with running(fake, session) as bot:
        dm = posted(bot.dm("ibrance side effects"))
        in_thread = posted(bot.mention("ibrance side effects", thread_ts="9.0"))
    assert CLINICIAN_DISCLAIMER not in dm[0].visible  # the DM went on where it was
    assert session.store.load(f"slack:{TEAM}:{DM}", now) is None  # moved under the person's key
    state = session.store.load(thread_key("9.0"), session.clock())
    assert state is not None and state.slots == {}  # a shared thread passes on nobody's facts
    assert CLINICIAN_DISCLAIMER not in in_thread[0].visible  # but its disclaimer time carries over


def test_mbc_forget_deletes_everything_about_the_caller_after_a_confirmation(
        fake: FakeSlack, knowledge: Knowledge, tmp_path: Path) -> None:
    from dialogue.unanswered import UnansweredLog

    session = make_session(knowledge, store=SQLiteStore(tmp_path / "c.db"))
    session.unanswered = UnansweredLog(tmp_path / "unanswered.db")
    with running(fake, session) as bot:
        bot.dm("ibrance side effects")
        bot.dm("does MYSECRETWORD help the dog")  # unanswered: recorded
        bot.mention("letrozole side effects")
        bot.command("what is febrile neutropenia")
        bot.mention("letrozole side effects", user="U0OTHER01")  # someone else's
        before = session.store.conversations_like("slack:", "")
        assert len(before) == 4 and len(session.unanswered.top()) == 1

        kept = bot.press(bot.command("forget"), "No, keep it")
        assert shown(kept) == ["OK, nothing was deleted."]
        assert len(session.store.conversations_like("slack:", "")) == 4

        asked = bot.command("forget")
        assert all(c.params.get("response_type") == "ephemeral" for c in posted(asked))  # only the caller sees it
        assert "Delete everything stored about you" in shown(asked)[0]
        done = shown(bot.press(asked, "Yes, delete"))
    assert done == ["Deleted 1 direct-message conversation, 1 thread conversation and 1 /mbc conversation, "
                    "with any questions kept from them. Nothing else is stored about you."]
    assert session.store.conversations_like("slack:", "") == [thread_key(
        next(k for k in before if k.endswith(person_of(TEAM, "U0OTHER01", person_salt(BOT_TOKEN)))).split(":")[3],
        "U0OTHER01")]  # only the other person's conversation is left
    assert session.unanswered.top() == []
    for suffix in ("", "-wal"):
        file = tmp_path / f"unanswered.db{suffix}"
        assert not file.exists() or b"mysecretword" not in file.read_bytes().lower()
