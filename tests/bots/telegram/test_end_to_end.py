"""The real python-telegram-bot Application polls the fake Bot API through the adapter, end to end."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from telegram.ext import Application, ApplicationBuilder, CommandHandler

from bots.telegram.app import FORGET_CONFIRM, SLOW_DOWN, UNSUPPORTED, add_handlers, register_commands
from bots.telegram.flood import ChatRateLimiter, FloodGate
from dialogue.loader import load_knowledge
from dialogue.model import Knowledge
from dialogue.session import STORE_APOLOGY
from dialogue.storage import SQLiteStore
from tests.conftest import CORE, FIXTURES

from ..adapter_support import long_topic_yaml
from .conftest import Harness, delivered, make_session, make_settings, running, texts
from .fake_bot_api import FakeBotAPI, check_html
from .updates import (
    CHAT,
    GROUP,
    TOKEN,
    callback_update,
    edited_update,
    mention_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

PAD = "This sentence pads the paragraph to a realistic length for testing. " * 6
#: About 5,000 characters in ten paragraphs, full of characters that are special in HTML.
LONG_ANSWER = "\n\n".join(
    f'**Part {n}** of the handbook: a < b & c > d, "quoted" <script>x({n})</script>. {PAD}' for n in range(1, 11)
)
LONG_TOPIC = long_topic_yaml(LONG_ANSWER, "patient")


def with_long_topic(overlay: Path) -> Knowledge:
    """The test knowledge plus an overlay folder holding the long topic."""
    (overlay / "long.yaml").write_text(LONG_TOPIC)
    return load_knowledge([CORE, FIXTURES / "topics", overlay], include_bundled=False)


async def consent(bot: Harness, chat_id: int = CHAT) -> None:
    """Read the disclaimer and press "I understand"."""
    calls = await bot.say("/start", chat_id)
    await bot.press(calls, "I understand", chat_id)


def answered_queries(calls: list) -> list[str]:
    return [c.params["callback_query_id"] for c in calls if c.method == "answerCallbackQuery" and c.ok]


async def test_consent_comes_before_any_answer(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge)) as bot:
        start = await bot.say("/start")
        shown = texts(start)
        assert "glad you reached out" in shown[0]  # the welcome
        disclaimer = next(c for c in delivered(start) if ("I understand", "c:yes") in c.buttons)
        assert "not a doctor" in disclaimer.visible and "emergency" in disclaimer.visible

        early = texts(await bot.say("what are the side effects of ibrance?"))
        assert not any("white blood cells" in t for t in early)  # no answer before the acknowledgement
        assert any('press "I understand"' in t for t in early)

        pressed = await bot.press(start, "I understand")
        assert len(answered_queries(pressed)) == 1
        assert any("white blood cells" in t for t in texts(pressed))  # the question asked earlier is answered now


async def test_a_topic_answer_has_sources_buttons_and_the_buttons_work(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    session = make_session(knowledge)
    async with running(fake, session) as bot:
        await consent(bot)
        clarify = await bot.say("what treatment will she get first")
        assert "HR+ / HER2-" in [label for label, _ in delivered(clarify)[-1].buttons]

        calls = await bot.press(clarify, "HR+ / HER2-")
        answer = delivered(calls)[-1]
        assert "hormone pills" in answer.visible
        assert "<b>Sources</b>" in answer.text and '[1] <a href="https://example.org/guideline">' in answer.text
        assert "Last reviewed 2026-11-01" in answer.visible
        assert answer.params["link_preview_options"] == {"is_disabled": True}
        assert answer.buttons == [("Side effects of CDK4/6 inhibitors", "t:fx_cdk_side_effects")]

        press = callback_update("t:fx_cdk_side_effects", CHAT, answer.message_id or 0)
        pressed = await bot.run(press)
        assert answered_queries(pressed) == [press["callback_query"]["id"]]
        assert "white blood cells" in texts(pressed)[0]
        state = session.store.load(f"telegram:{CHAT}", session.clock())
        assert state is not None and state.last_topic == "fx_cdk_side_effects"


async def test_a_red_flag_is_answered_before_anything_else(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge)) as bot:
        calls = await bot.say("I have a fever of 39 on chemo")  # first contact, no consent yet
        shown = texts(calls)
        assert "emergency" in shown[0].lower() and "911" in shown[0]
        assert calls[0].method == "sendMessage"  # first, and no "typing" before an answer this fast
        assert all(c.ok for c in calls)


async def test_html_in_user_text_and_in_content_never_breaks_formatting(
    fake: FakeBotAPI, knowledge: Knowledge, tmp_path: Path
) -> None:
    async with running(fake, make_session(with_long_topic(tmp_path))) as bot:
        await consent(bot)
        for text in ("<b>letrozole</b> side effects & <script>alert(1)</script>", "a < b && c > d </i>", "<a href='x'>hi"):
            calls = await bot.say(text)
            assert delivered(calls) and all(c.ok for c in calls)  # the fake rejects invalid HTML with a 400
        calls = await bot.say("zebrafish handbook")  # content full of < > & " and a URL with &
        assert all(c.ok for c in calls)
        for call in delivered(calls):
            check_html(call.text)
            assert "<script>" not in call.text
        joined = "\n".join(c.text for c in delivered(calls))
        assert "a &lt; b &amp; c &gt; d" in joined and "&lt;script&gt;" in joined
        assert 'href="https://example.org/handbook?part=1&amp;lang=en"' in joined
        assert "Handbook &lt;draft&gt; &amp; notes" in joined
        assert "a < b & c > d" in "\n".join(texts(calls))


async def test_an_answer_over_4096_characters_is_split_at_paragraphs(fake: FakeBotAPI, tmp_path: Path) -> None:
    async with running(fake, make_session(with_long_topic(tmp_path))) as bot:
        await consent(bot)
        calls = delivered(await bot.say("show me the zebrafish handbook"))
        parts = [c for c in calls if "of the handbook" in c.visible]
        assert len(parts) >= 2
        assert sum(len(c.visible) for c in parts) > 4096
        assert all(len(c.visible) <= 4096 for c in parts)
        for number in range(1, 11):  # every paragraph whole, in one message, in order
            holders = [i for i, c in enumerate(parts) if f"Part {number} of the handbook" in c.visible]
            assert len(holders) == 1
        assert all(c.visible.startswith("Part ") for c in parts)
        assert [bool(c.buttons) for c in parts] == [False] * (len(parts) - 1) + [True]  # buttons at the end
        assert "Sources" in parts[-1].visible and "Sources" not in parts[0].visible


async def test_stickers_photos_voice_and_edits_are_handled_safely(
    fake: FakeBotAPI, knowledge: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(fake, make_session(knowledge)) as bot:
        for update in (sticker_update(), photo_update(), voice_update()):
            calls = await bot.run(update)
            assert texts(calls) == [UNSUPPORTED]
        assert await bot.run(edited_update("edited: I have a fever of 39")) == []  # edits are ignored
        assert await bot.run(text_update("hi all", GROUP, user_id=7)) == []  # group chatter not for the bot
        assert any("glad you reached out" in t for t in texts(await bot.say("hello")))  # still working
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_groups_answer_only_when_mentioned_or_replied_to(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    session = make_session(knowledge, consent_required=False)
    async with running(fake, session) as bot:
        assert await bot.run(text_update("ibrance side effects", GROUP, user_id=7)) == []
        calls = await bot.run(mention_update("ibrance side effects", GROUP, user_id=7))
        answer = delivered(calls)[-1]
        assert "white blood cells" in answer.visible
        assert delivered(calls)[0].params["reply_parameters"]["message_id"]  # quotes the question
        assert session.store.load(f"telegram:{GROUP}:7", session.clock()) is not None  # per member
        assert session.store.load(f"telegram:{GROUP}:8", session.clock()) is None
        reply = text_update("and letrozole?", GROUP, user_id=7,
                            reply_to_message={"message_id": answer.message_id, "date": 0,
                                              "chat": {"id": GROUP, "type": "supergroup"},
                                              "from": {"id": 123456, "is_bot": True, "first_name": "bot"}})
        assert delivered(await bot.run(reply))


async def test_forget_deletes_the_stored_conversation_after_confirmation(
    fake: FakeBotAPI, knowledge: Knowledge, tmp_path: Path
) -> None:
    store = SQLiteStore(tmp_path / "conversations.db")
    session = make_session(knowledge, store=store)
    conversation = f"telegram:{CHAT}"
    async with running(fake, session) as bot:
        await consent(bot)
        await bot.say("letrozole side effects")
        assert store.load(conversation, session.clock()) is not None

        ask = await bot.say("/forget")
        assert texts(ask) == [FORGET_CONFIRM]
        kept = await bot.press(ask, "No, keep it")
        assert store.load(conversation, session.clock()) is not None and answered_queries(kept)

        ask = await bot.say("/forget")
        done = await bot.press(ask, "Yes, delete")
        assert answered_queries(done)
        edit = next(c for c in done if c.method == "editMessageText")
        assert edit.ok and "deleted everything" in edit.visible and "reply_markup" not in edit.params
        assert store.load(conversation, session.clock()) is None
        # its update claims went with it: nothing about this chat is left
        assert not store._db().execute("SELECT 1 FROM claims WHERE owner = ?", (conversation,)).fetchall()
    store.close()


async def test_a_429_is_retried_and_the_message_still_delivered(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge)) as bot:
        fake.fail("sendMessage", status=429, retry_after=1)
        started = time.monotonic()
        calls = await bot.say("hello")
        assert [c.status for c in calls if c.method == "sendMessage"][:2] == [429, 200]
        assert calls[1].text == next(c for c in calls if c.method == "sendMessage" and c.ok).text
        assert any("glad you reached out" in t for t in texts(calls))
        assert time.monotonic() - started >= 1.0


async def test_flood_control_on_one_chat_does_not_slow_another(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge)) as bot:
        fake.fail("sendMessage", status=429, retry_after=1, chat_id=CHAT)
        slow = asyncio.ensure_future(bot.say("hello", CHAT))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        other = await bot.say("hello", 43)
        assert delivered(other) and time.monotonic() - started < 0.6  # not held by the other chat's pause
        assert not slow.done()
        assert delivered(await slow)


async def test_a_flooding_chat_is_told_to_slow_down_and_others_are_served(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    gate = FloodGate(rate_per_s=0.5, burst=5, clock=lambda: 0.0)  # time stands still: no refill mid-test
    async with running(fake, make_session(knowledge), gate=gate) as bot:
        flood = [await bot.push(text_update("thanks", CHAT)) for _ in range(30)]
        other = await bot.say("hello", 43)
        assert any("glad you reached out" in t for t in texts(other))
        for update_id in flood:
            await bot.handled(update_id)
        shown = texts(fake.sent(CHAT))
        assert shown.count(SLOW_DOWN) == 1
        assert len([t for t in shown if t != SLOW_DOWN]) == 5 + 1  # the burst of five (and the disclaimer), not 30


async def test_one_member_flooding_a_group_does_not_silence_the_others(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    gate = FloodGate(rate_per_s=0.5, burst=5, clock=lambda: 0.0)  # time stands still: no refill mid-test
    async with running(fake, make_session(knowledge, consent_required=False), gate=gate) as bot:
        flood = [await bot.push(mention_update("thanks", GROUP, user_id=71)) for _ in range(15)]
        for update_id in flood:
            await bot.handled(update_id)
        other = await bot.run(mention_update("what is tamoxifen", GROUP, user_id=72))
        assert delivered(other) and SLOW_DOWN not in texts(other)  # member 72 is answered
        assert texts(fake.sent(GROUP)).count(SLOW_DOWN) == 1  # member 71 was told once


async def test_updates_of_one_chat_are_answered_in_order(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge, consent_required=False)) as bot:
        ids = [await bot.push(text_update(text, CHAT)) for text in ("hello", "/topics", "thanks", "/reset", "help")]
        for update_id in ids:
            await bot.handled(update_id)
        shown = [t for t in texts(fake.sent(CHAT)) if "not a doctor" not in t]
        assert [s.split()[0] for s in shown] == ["Hello,", "Choose", "You're", "OK,", "You"]


async def test_cant_parse_entities_is_resent_once_as_plain_text(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge)) as bot:
        fake.fail("sendMessage", status=400, description='Bad Request: can\'t parse entities: unsupported start tag "x"')
        calls = [c for c in await bot.say("hello") if c.method == "sendMessage"]
        assert calls[0].status == 400 and calls[1].ok
        assert "parse_mode" not in calls[1].params and "<" not in calls[1].text
        assert calls[1].text == calls[0].visible


async def test_errors_are_logged_without_content_and_the_user_gets_an_apology(
    fake: FakeBotAPI, knowledge: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    session = make_session(knowledge, consent_required=False)
    secret = "my name is Jane Doe and my tumour is in the liver"

    def broken(conversation_id: str, incoming: object) -> list:
        raise RuntimeError(f"boom: {secret}")

    caplog.set_level(logging.INFO)
    async with running(fake, session) as bot:
        fake.fail("sendMessage", status=400, description="Bad Request: chat not found")
        assert texts(await bot.say(secret)) == [STORE_APOLOGY]
        session.handle = broken  # type: ignore[method-assign]
        assert texts(await bot.say(secret)) == [STORE_APOLOGY]
        del session.handle
        assert texts(await bot.say("hello"))  # and it keeps going
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "RuntimeError" in logged and "BadRequest" in logged
    assert "Jane" not in logged and "liver" not in logged


async def test_commands_are_registered_at_start_up(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge)) as bot:
        await bot.application.post_init(bot.application)
        call = await fake.wait_for(lambda c: c.method == "setMyCommands")
        assert call.ok and [c["command"] for c in call.params["commands"]] == ["start", "help", "topics", "reset", "forget"]
        await register_commands(bot.application)  # idempotent, for plugin hosts already running


async def test_every_button_press_is_answered_even_stale_or_forged_ones(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    async with running(fake, make_session(knowledge, consent_required=False)) as bot:
        for data in ("a:99:0", "tg:unknown", "t:no_such_topic"):
            calls = await bot.run(callback_update(data))
            assert len(answered_queries(calls)) == 1
            assert all(c.ok for c in calls)


async def test_default_pacing_spreads_a_burst_in_one_chat_only(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    limiter = ChatRateLimiter(chat_burst=2, chat_period_s=0.25)
    async with running(fake, make_session(knowledge, consent_required=False), rate_limiter=limiter) as bot:
        ids = [await bot.push(text_update(t, CHAT)) for t in ("hello", "thanks", "/topics")]
        other = await bot.say("hello", 43)
        for update_id in ids:
            await bot.handled(update_id)
        sent = fake.sent(CHAT)
        assert len(sent) >= 4
        assert sent[-1].at - sent[0].at >= 0.25 * (len(sent) - 2) - 0.05  # one per period after the burst
        assert delivered(other)


async def test_plugin_mode_adds_to_an_application_the_team_already_runs(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    ran: list[str] = []

    async def their_post_init(application: Application) -> None:  # type: ignore[type-arg]
        ran.append("theirs")

    application = (ApplicationBuilder().token(TOKEN).base_url(f"{fake.url}/bot").post_init(their_post_init)
                   .concurrent_updates(True).build())
    application.add_handler(CommandHandler("weather", lambda update, context: asyncio.sleep(0)))
    add_handlers(application, make_session(knowledge), make_settings(), group=1)
    async with application:
        await application.post_init(application)  # what run_polling / run_webhook do at start-up
    assert ran == ["theirs"]
    assert fake.of("setMyCommands")
