"""The neutral reply markup and its rendering helpers."""

from __future__ import annotations

import html

from dialogue.markup import parse, render, split_paragraphs, to_plain


def test_paragraphs_bullets_and_bold() -> None:
    blocks = parse("**Hello** there\n\n- one\n- **two**\nafter")
    assert [b.bullets for b in blocks] == [False, True, False]
    assert blocks[0].items[0][0].bold and blocks[1].items[1][0].text == "two"


def test_render_escapes_text_but_not_its_own_markup() -> None:
    out = render("**<b>** & - x", escape=html.escape, bold=lambda s: f"<b>{s}</b>")
    assert out == "<b>&lt;b&gt;</b> &amp; - x"


def test_plain_text_drops_markers() -> None:
    assert to_plain("**A**\n\n- b") == "A\n\n• b"


def test_split_respects_paragraphs_and_the_limit() -> None:
    text = "\n\n".join(f"paragraph {i} " + "word " * 50 for i in range(20))
    pieces = split_paragraphs(text, 600)
    assert all(len(p) <= 600 for p in pieces)
    assert "\n\n".join(pieces).split() == text.split()
    assert all(p.startswith("paragraph") for p in pieces)


def test_split_cuts_a_giant_paragraph_and_a_giant_word() -> None:
    pieces = split_paragraphs("x" * 2500 + " tail", 1000)
    assert all(len(p) <= 1000 for p in pieces) and "".join(pieces).replace(" ", "").startswith("x" * 2500)


def test_split_keeps_bullets_whole_when_a_list_is_too_long() -> None:
    text = "\n".join(f"- bullet {i} " + "word " * 30 for i in range(40))
    pieces = split_paragraphs(text, 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert all(line.startswith("- bullet") for p in pieces for line in p.split("\n"))
