"""Rendering replies as Telegram HTML: escaping, splitting, footer, keyboards."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.telegram.render import (
    MAX_TEXT,
    footer_html,
    html_to_plain,
    keyboard,
    render_reply,
    to_html,
    visible_length,
)
from dialogue.markup import to_plain
from dialogue.model import Source
from dialogue.replies import Button, Reply, ReplyKind

from .fake_bot_api import check_html

SOURCE = Source(id="s1", title='Guide <2024> & "notes"', publisher="P & Q", year=2024,
                url='https://example.org/x?a=1&b="2"', kind="guideline")


def test_text_is_escaped_and_bold_becomes_b() -> None:
    html = to_html("**Dose & <timing>** matters\n\n- a < b\n- <script>")
    assert html == "<b>Dose &amp; &lt;timing&gt;</b> matters\n\n• a &lt; b\n• &lt;script&gt;"
    check_html(html)


def test_footer_numbers_sources_as_links_with_escaped_attributes() -> None:
    reply = Reply(ReplyKind.ANSWER, "text", sources=(SOURCE,), reviewed_on=date(2026, 1, 2),
                  review_note="Last reviewed 2026-01-02 (approved)")
    footer = footer_html(reply)
    assert footer.splitlines()[0] == "<b>Sources</b>"
    assert '[1] <a href="https://example.org/x?a=1&amp;b=&quot;2&quot;">Guide &lt;2024&gt; &amp; "notes"</a> (2024)' in footer
    assert footer.endswith("<i>Last reviewed 2026-01-02 (approved)</i>")
    check_html(footer)


def test_a_source_without_a_web_address_is_not_a_link() -> None:
    source = Source(id="s2", title="Local protocol", publisher="Trust", year=2025, url="file:///x", kind="guideline")
    assert "<a " not in footer_html(Reply(ReplyKind.ANSWER, "t", sources=(source,)))


def test_a_long_answer_is_split_at_paragraphs_with_footer_and_buttons_last() -> None:
    paragraphs = [f"**Paragraph {n}.** " + "Words & more words. " * 40 for n in range(12)]
    reply = Reply(ReplyKind.ANSWER, "\n\n".join(paragraphs), buttons=(Button("Next", "t:next"),), sources=(SOURCE,))
    messages = render_reply(reply)
    assert len(messages) >= 3
    assert all(visible_length(m.text) <= MAX_TEXT for m in messages)
    assert all(m.keyboard is None for m in messages[:-1]) and messages[-1].keyboard is not None
    assert "Sources" in messages[-1].text
    plain = [html_to_plain(m.text) for m in messages]
    for paragraph in paragraphs:
        assert sum(to_plain(paragraph) in p for p in plain) == 1  # never cut inside a paragraph
    for message in messages:
        check_html(message.text)


def test_one_enormous_paragraph_is_still_cut_to_fit() -> None:
    reply = Reply(ReplyKind.ANSWER, "**bold start** " + "word " * 3000)
    messages = render_reply(reply)
    assert len(messages) >= 4 and all(visible_length(m.text) <= MAX_TEXT for m in messages)
    for message in messages:
        check_html(message.text)


def test_length_is_counted_as_telegram_counts_it() -> None:
    assert visible_length("<b>a&amp;b</b>") == 3
    assert visible_length("\U0001f600") == 2  # UTF-16 code units


def test_buttons_become_rows_of_at_most_eight_with_payloads_as_callback_data() -> None:
    buttons = [Button(f"B{n}", f"t:{n}") for n in range(20)]
    markup = keyboard(buttons)
    assert markup is not None
    rows = markup.inline_keyboard
    assert all(len(row) <= 8 for row in rows)
    assert [b.callback_data for row in rows for b in row] == [b.payload for b in buttons]
    long = keyboard([Button("A fairly long label for a topic", "t:a"), Button("Another long label here", "t:b")])
    assert long is not None and [len(r) for r in long.inline_keyboard] == [1, 1]  # readable on phones


def test_a_payload_over_64_bytes_is_never_sent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    markup = keyboard([Button("ok", "t:a"), Button("too long", "t:" + "é" * 40)])
    assert markup is not None and [b.text for row in markup.inline_keyboard for b in row] == ["ok"]
    assert "payload" in caplog.text and "é" not in caplog.text


def test_the_disclaimer_is_set_apart_and_empty_replies_send_nothing() -> None:
    [message] = render_reply(Reply(ReplyKind.DISCLAIMER, "Not a doctor."))
    assert message.text == "<i>Not a doctor.</i>"
    assert render_reply(Reply(ReplyKind.FALLBACK, "   ")) == []
    [only_buttons] = render_reply(Reply(ReplyKind.CLARIFY, "", buttons=(Button("x", "t:x"),)))
    assert only_buttons.text.strip() and only_buttons.keyboard is not None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <>&\"'*-\n#;/")), max_size=300))
def test_any_text_renders_to_html_telegram_accepts(text: str) -> None:
    for message in render_reply(Reply(ReplyKind.ANSWER, text, sources=(SOURCE,))):
        check_html(message.text)
        assert visible_length(message.text) <= MAX_TEXT
