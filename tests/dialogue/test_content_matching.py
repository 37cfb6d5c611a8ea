"""Content matching: what a topic says picks it when the example phrasings cannot decide."""

from __future__ import annotations

import threading

from dialogue.matching import ContentIndex, LazyContentIndex

DOCUMENTS = [
    ("wounds", {"w:wound": 4, "w:smell": 2, "w:dressing": 3, "term:skin": 2}),
    ("liver", {"term:liver": 6, "w:jaundice": 2, "w:eyes": 1, "term:skin": 1}),
    ("groups", {"w:group": 5, "w:online": 2, "w:friend": 1}),
]


def test_the_topic_that_uses_the_messages_rarer_words_ranks_first() -> None:
    index = ContentIndex(DOCUMENTS)
    ranked = index.rank(frozenset({"w:wound", "w:smell", "term:skin"}))
    assert [c.topic for c in ranked][:2] == ["wounds", "liver"]
    assert ranked[0].score > 2 * ranked[1].score


def test_words_no_topic_uses_match_nothing() -> None:
    index = ContentIndex(DOCUMENTS)
    assert index.rank(frozenset({"w:weather", "w:forecast"})) == []
    assert not index.known("w:weather") and index.known("w:wound")


def test_the_lazy_index_reads_the_documents_once_however_many_threads_ask() -> None:
    calls: list[int] = []

    def documents() -> list[tuple[str, dict[str, int]]]:
        calls.append(1)
        return DOCUMENTS

    lazy = LazyContentIndex(documents)
    assert calls == []  # nothing read until a question needs it
    threads = [threading.Thread(target=lazy.rank, args=(frozenset({"w:group"}),)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert lazy.rank(frozenset({"w:online", "w:group"}))[0].topic == "groups"


def test_bundled_answers_pick_their_topic_by_what_they_say(bundled) -> None:  # noqa: ANN001
    from dialogue.understanding.reading import read_message

    reading = bundled.lexicon.read(list(read_message("open wound on the chest wall that smells, which dressing").words))
    assert bundled.content.rank(frozenset(reading.terms()), 1)[0].topic == "skin_chest_wall"
