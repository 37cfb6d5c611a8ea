"""Rendering replies as Block Kit: escaping, splitting within Slack's limits, sources, buttons."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.slack.render import (
    MAX_BLOCKS,
    MAX_SECTION,
    SlackMessage,
    bold,
    escape,
    plain_message,
    render_replies,
    source_lines,
    to_mrkdwn,
)
from dialogue.markup import to_plain
from dialogue.model import Source
from dialogue.replies import Button, Reply, ReplyKind

from .fake_slack import check_message, visible_text

SOURCE = Source(id="s1", title="Guide <2024> & notes", publisher="P & Q", year=2024,
                url="https://example.org/x?a=1&b=2", kind="guideline")


def checked(message: SlackMessage) -> SlackMessage:
    """The message as the fake Slack sees it: valid blocks, within limits, nothing that pings."""
    problem = check_message({"text": message.text, "blocks": message.block_dicts()})
    assert problem is None, problem
    return message


def types(message: SlackMessage) -> list[str]:
    return [str(block.type) for block in message.blocks]


def section_texts(message: SlackMessage) -> list[str]:
    return [block["text"]["text"] for block in message.block_dicts() if block["type"] == "section"]


def test_pings_mentions_links_and_ampersands_in_any_text_are_neutralised() -> None:
    hostile = "<!channel> <!here|here> <@U123> <#C1|x> <https://evil.example|click> & &amp; a > b"
    assert escape(hostile) == ("&lt;!channel&gt; &lt;!here|here&gt; &lt;@U123&gt; &lt;#C1|x&gt; "
                               "&lt;https://evil.example|click&gt; &amp; &amp;amp; a &gt; b")
    [message] = render_replies([Reply(ReplyKind.ANSWER, f"**{hostile}**\n\n- {hostile}", sources=(SOURCE,))])
    checked(message)
    assert visible_text(section_texts(message)[0]) == f"{hostile}\n\n• {hostile}"
    assert "<!" not in message.text and "<@" not in message.text  # the fallback too
    for block in message.block_dicts():
        for obj in [block.get("text")] + block.get("elements", []):
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                assert obj["verbatim"] is True  # Slack does not auto-link or auto-mention anything


def test_bold_is_kept_only_where_slack_shows_it() -> None:
    assert to_mrkdwn("**Dose:** 125 mg") == "*Dose:* 125 mg"
    assert to_mrkdwn("**Dose: **125 mg") == "*Dose:* 125 mg"  # spaces move outside the asterisks
    assert to_mrkdwn("HER2**-low**") == "HER2-low"  # "HER2*-low*" would show its asterisks
    assert to_mrkdwn("**UGT1A1*28**") == "UGT1A1*28"
    assert bold("  ") == "  "


def test_sources_are_numbered_links_with_the_review_line_under_them() -> None:
    reply = Reply(ReplyKind.ANSWER, "text", sources=(SOURCE,), reviewed_on=date(2026, 1, 2),
                  review_note="Last reviewed 2026-01-02 (approved)")
    lines = [mrkdwn for mrkdwn, _ in source_lines(reply)]
    assert lines == ["*Sources*", "[1] <https://example.org/x?a=1&amp;b=2|Guide &lt;2024&gt; &amp; notes>. P &amp; Q, 2024.",
                     "_Last reviewed 2026-01-02 (approved)_"]
    [message] = render_replies([reply])
    assert types(checked(message)) == ["section", "context"]
    local = Source(id="s2", title="Local protocol", publisher="Trust", year=2025, url="file:///x", kind="guideline")
    assert "<" not in source_lines(Reply(ReplyKind.ANSWER, "t", sources=(local,)))[1][0]  # not a web link


def test_a_long_answer_is_split_at_paragraphs_within_the_section_limit() -> None:
    paragraphs = [f"**Paragraph {n}.** " + "Words & more words. " * 40 for n in range(12)]
    reply = Reply(ReplyKind.ANSWER, "\n\n".join(paragraphs), buttons=(Button("Next", "t:next"),), sources=(SOURCE,))
    [message] = render_replies([reply])
    checked(message)
    sections = section_texts(message)
    assert len(sections) >= 4 and all(len(s) <= MAX_SECTION for s in sections)
    assert types(message)[-2:] == ["context", "actions"]  # sources, then the buttons, at the end
    for paragraph in paragraphs:  # never cut inside a paragraph
        assert sum(to_plain(paragraph) in visible_text(s) for s in sections) == 1


def test_a_long_list_is_cut_between_its_items_never_inside_one() -> None:
    items = [f"- **Drug {n}:** " + "monitor & adjust the dose. " * 10 for n in range(30)]  # one paragraph, ~9,000 characters
    [message] = render_replies([Reply(ReplyKind.ANSWER, "Monitoring:\n" + "\n".join(items))])
    sections = section_texts(checked(message))
    assert len(sections) >= 3 and all(len(s) <= MAX_SECTION for s in sections)
    assert all(s.startswith("• ") for s in sections[1:])  # each later section starts with an item
    for n in range(30):
        assert sum(f"Drug {n}:" in s for s in sections) == 1


def test_a_turn_larger_than_a_message_is_spread_over_messages_within_the_limits() -> None:
    text = "\n\n".join(f"Part {n}: " + "a & b < c. " * 100 for n in range(40))  # about 45,000 characters
    replies = [Reply(ReplyKind.ANSWER, text, buttons=(Button("More", "t:more"),), sources=(SOURCE,))]
    replies += [Reply(ReplyKind.CLARIFY, f"Question {n}?", buttons=(Button("Yes", f"a:{n}:0"),)) for n in range(30)]
    messages = render_replies(replies)
    assert len(messages) >= 4
    for message in messages:
        checked(message)
        assert len(message.blocks) <= MAX_BLOCKS
    shown = "\n\n".join(visible_text(s) for m in messages for s in section_texts(m))
    assert all(f"Part {n}:" in shown for n in range(40)) and all(f"Question {n}?" in shown for n in range(30))


def test_buttons_carry_the_engine_payload_in_rows_slack_accepts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    buttons = [Button(f"Option {n}", f"a:1:{n}") for n in range(30)]
    buttons += [Button("A label far longer than the seventy-five characters Slack allows on one button", "t:long"),
                Button("Too big", "t:" + "é" * 2000)]
    [message] = render_replies([Reply(ReplyKind.CLARIFY, "Which one?", buttons=tuple(buttons))])
    checked(message)
    actions = [b for b in message.block_dicts() if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 6]
    elements = [e for a in actions for e in a["elements"]]
    assert [e["value"] for e in elements] == [b.payload for b in buttons[:31]]
    assert all(e["action_id"].startswith("mbcbot:") for e in elements)
    assert elements[-1]["text"]["text"].endswith("…") and len(elements[-1]["text"]["text"]) <= 75
    assert "payload" in caplog.text and "é" not in caplog.text  # dropped, logged without content


def test_the_disclaimer_is_small_print_and_replies_are_set_apart() -> None:
    urgent = Reply(ReplyKind.URGENT, "Call 911 **now**.")
    disclaimer = Reply(ReplyKind.DISCLAIMER, "General information, not advice.")
    answer = Reply(ReplyKind.ANSWER, "The answer.", sources=(SOURCE,))
    [message] = render_replies([urgent, disclaimer, answer])
    assert types(checked(message)) == ["section", "divider", "context", "section", "context"]
    assert message.text.startswith("Call 911 now.")  # the notification leads with the urgent part
    assert message.block_dicts()[2]["elements"][0]["text"] == "General information, not advice."


def test_empty_replies_send_nothing_and_a_reply_of_buttons_only_still_has_a_fallback() -> None:
    assert render_replies([Reply(ReplyKind.FALLBACK, "   ")]) == []
    [message] = render_replies([Reply(ReplyKind.CLARIFY, "", buttons=(Button("A & B", "t:a"),))])
    assert checked(message).text == "A &amp; B"
    assert plain_message("Sorry <!here> & co").text == "Sorry &lt;!here&gt; &amp; co"
    with pytest.raises(ValueError):
        SlackMessage("")


def unformatted(text: str) -> str:
    return "".join(c for c in text if c not in "*_~`")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <>&|!@#*_~`-\n:/")), max_size=400))
def test_any_text_renders_to_safe_valid_blocks_that_show_it(text: str) -> None:
    """Safe and valid whatever the text; every character shown (Slack may read a literal
    ``*``, ``_`` or ``~`` pair as formatting: mrkdwn has no way to escape those)."""
    reply = Reply(ReplyKind.ANSWER, text, buttons=(Button(text[:80] or "x", "t:x"),), sources=(SOURCE,))
    messages = render_replies([reply])
    for message in messages:
        checked(message)
    body = [visible_text(s) for m in messages for s in section_texts(m)]
    assert unformatted("\n\n".join(body)) == unformatted(to_plain(text))
