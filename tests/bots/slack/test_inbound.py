"""Slack payloads as engine input: conversation ids, cleaned text, what is ignored."""

from __future__ import annotations

import pytest

from bots.slack.inbound import (
    EVENT_NAMESPACE,
    MESSAGE_NAMESPACE,
    action_target,
    clean_text,
    command_incoming,
    command_target,
    dm_target,
    event_keys,
    from_person,
    interaction_keys,
    mention_target,
    person_of,
    pressed_payload,
    text_incoming,
)
from dialogue.replies import Incoming

from . import payloads
from .payloads import BOT_USER, CHANNEL, DM, TEAM, USER


def test_a_mention_starts_a_thread_on_its_message_and_follow_ups_stay_in_it() -> None:
    first = payloads.mention("2L options HR+ HER2- PIK3CA-mutant?")
    where = mention_target(first, first["event"])
    ts = first["event"]["ts"]
    assert where is not None and where.thread_ts == ts and not where.ephemeral
    assert where.conversation_id == f"slack:{TEAM}:{CHANNEL}:{ts}:{person_of(TEAM, USER)}"
    assert USER not in where.conversation_id  # a salted hash of the person, never their id
    follow_up = payloads.mention("and if HER2 positive?", thread_ts=ts)
    again = mention_target(follow_up, follow_up["event"])
    assert again is not None and again.conversation_id == where.conversation_id and again.thread_ts == ts


def test_a_dm_is_one_conversation_answered_where_it_was_written() -> None:
    top = payloads.dm("hello")
    where = dm_target(top, top["event"])
    assert where is not None and where.conversation_id == f"slack:{TEAM}:dm:{person_of(TEAM, USER)}"
    assert where.thread_ts is None and where.legacy_id == f"slack:{TEAM}:{DM}" and not where.legacy_shared
    threaded = payloads.dm("and letrozole?", thread_ts="1700000000.000001")
    inside = dm_target(threaded, threaded["event"])
    assert inside is not None and inside.conversation_id == where.conversation_id
    assert inside.thread_ts == "1700000000.000001"
    mentioned_in_dm = payloads.mention("hello", channel=DM)
    assert mention_target(mentioned_in_dm, mentioned_in_dm["event"]) == where


def test_a_slash_command_is_one_conversation_per_person_and_channel_answered_privately() -> None:
    where = command_target(payloads.command("ibrance side effects", "https://hooks.example/r1"))
    assert where is not None and where.ephemeral and where.response_url == "https://hooks.example/r1"
    assert where.conversation_id == f"slack:{TEAM}:{CHANNEL}:user:{person_of(TEAM, USER)}"
    assert command_incoming(payloads.command("", "https://hooks.example/r1")) == Incoming(text="help")
    assert command_target({"channel_id": CHANNEL, "user_id": USER}) is None  # no response URL: cannot answer


def test_each_person_in_a_thread_has_a_conversation_of_their_own() -> None:
    alice = payloads.mention("she is postmenopausal, HR+ HER2-", ts="5.0", user="U0ALICE01")
    bob = payloads.mention("first line treatment options", thread_ts="5.0", user="U0BOB0001")
    mine, his = mention_target(alice, alice["event"], "salt"), mention_target(bob, bob["event"], "salt")
    assert mine is not None and his is not None and mine.thread_ts == his.thread_ts == "5.0"
    assert mine.conversation_id != his.conversation_id and mine.person != his.person
    assert mine.legacy_id == his.legacy_id == f"slack:{TEAM}:{CHANNEL}:5.0" and mine.legacy_shared
    assert person_of(TEAM, "U0ALICE01", "salt") != person_of(TEAM, "U0ALICE01", "other salt")


def test_a_button_press_continues_the_conversation_of_its_message() -> None:
    in_thread = payloads.block_action("t:x", "mbcbot:0:0", channel=CHANNEL, message_ts="2.0", thread_ts="1.0")
    root = payloads.mention("first question", ts="1.0")
    assert action_target(in_thread) == mention_target(root, root["event"])
    in_dm = payloads.block_action("t:x", "mbcbot:0:0", channel=DM, message_ts="2.0")
    question = payloads.dm("first question")
    assert action_target(in_dm) == dm_target(question, question["event"])
    private = payloads.block_action("t:x", "mbcbot:0:0", channel=CHANNEL, message_ts=None, ephemeral=True,
                                    response_url="https://hooks.example/r2")
    where = action_target(private)
    assert where is not None and where.response_url == "https://hooks.example/r2"
    assert where.conversation_id == f"slack:{TEAM}:{CHANNEL}:user:{person_of(TEAM, USER)}"
    assert pressed_payload(in_dm, "mbcbot:") == "t:x"
    assert pressed_payload(in_dm, "other:") is None  # another app's buttons are not ours
    assert action_target({"type": "block_actions", "actions": []}) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (payloads.dm("hello"), True),
        (payloads.dm_edit("edited: fever 39"), False),
        (payloads.dm_join(), False),
        (payloads.dm_file_share(), False),
        (payloads.dm_from_bot(), False),
        (payloads.dm_from_other_bot_user(), False),
        (payloads.dm_from_self(), False),
    ],
    ids=["person", "edit", "join", "file share", "bot message", "bot user", "itself"],
)
def test_only_new_messages_typed_by_people_are_answered(body: dict, expected: bool) -> None:
    assert from_person(body["event"], BOT_USER) is expected


def test_text_loses_the_bot_mention_and_slack_tokens_become_words() -> None:
    raw = f"<@{BOT_USER}> dose &amp; timing &lt;3 days&gt; <!channel> <!here> <@U0OTHER|pat> <#C0X|tumour-board> <https://x.org/a|the guide> <https://y.org>"
    assert clean_text(raw, BOT_USER) == "dose & timing <3 days> @channel @here @someone #tumour-board the guide https://y.org"
    assert text_incoming(payloads.mention("ibrance   side effects")["event"], BOT_USER) == Incoming(text="ibrance side effects")


def test_a_message_is_claimed_under_its_event_id_and_its_own_identity() -> None:
    body = payloads.dm("hello")
    where = dm_target(body, body["event"])
    assert where is not None
    keys = event_keys(body, body["event"], where)
    assert keys == ((EVENT_NAMESPACE, body["event_id"]), (MESSAGE_NAMESPACE, f"{TEAM}:{DM}:{body['event']['ts']}"))


def test_an_interaction_without_a_trigger_id_is_still_deduplicated_by_its_response_url() -> None:
    command = payloads.command("letrozole side effects", "https://hooks.example/r9")
    del command["trigger_id"]
    keys = interaction_keys(command)
    assert keys and keys == interaction_keys(dict(command))  # a replay has the same identity
    other = dict(command, response_url="https://hooks.example/r10")
    assert interaction_keys(other) != keys
    assert "hooks.example" not in keys[0][1]  # the URL itself is not stored
