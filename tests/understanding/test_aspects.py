"""The aspect classifier: fitted from phrasings, deterministic, honest about what it cannot tell."""

from __future__ import annotations

from dialogue.understanding.aspects import AspectModel, cross_validate

ROWS = [
    ("what", ("what", "is", "<drug>")),
    ("what", ("what", "kind", "of", "drug", "is", "<drug>")),
    ("what", ("is", "<drug>", "a", "chemo")),
    ("how_given", ("how", "is", "<drug>", "given")),
    ("how_given", ("<drug>", "dose")),
    ("how_given", ("how", "do", "i", "take", "<drug>")),
    ("side_effects", ("<drug>", "side", "effects")),
    ("side_effects", ("does", "<drug>", "make", "you", "tired")),
    ("side_effects", ("term:nausea", "on", "<drug>")),
]


def test_it_learns_which_aspect_a_wording_asks() -> None:
    model = AspectModel.fit(ROWS, {"term:nausea": "side_effects"})
    assert model.guess(("what", "is", "<drug>"))[0].aspect == "what"
    assert model.guess(("<drug>", "dose", "please"))[0].aspect == "how_given"
    assert model.guess(("term:nausea", "from", "<drug>"))[0].aspect == "side_effects"


def test_probabilities_are_ranked_and_sum_to_one() -> None:
    guesses = AspectModel.fit(ROWS).guess(("how", "is", "<drug>", "given"), limit=3)
    assert [g.probability for g in guesses] == sorted((g.probability for g in guesses), reverse=True)
    assert abs(sum(g.probability for g in guesses) - 1.0) < 1e-4


def test_a_drug_name_alone_says_nothing_about_the_aspect() -> None:
    model = AspectModel.fit(ROWS)
    assert model.guess(("<drug>",)) == []
    assert model.guess(("zzz", "qqq")) == []  # no known word at all


def test_fitting_is_deterministic() -> None:
    one, two = AspectModel.fit(ROWS), AspectModel.fit(ROWS)
    message = ("is", "<drug>", "given", "as", "a", "chemo")
    assert one.guess(message, 3) == two.guess(message, 3)


def test_cross_validation_reports_accuracy_per_aspect_and_confusions() -> None:
    rows = [(label, tagged, " ".join(tagged)) for label, tagged in ROWS]
    cv = cross_validate(rows, folds=3)
    assert cv.total == len(ROWS) and cv.folds == 3
    assert sum(n for _, n in cv.per_label.values()) == len(ROWS)
    assert cv.correct == sum(ok for ok, _ in cv.per_label.values())
    assert cv.correct + sum(len(v) for v in cv.confusions.values()) == cv.total


def test_the_bundled_phrasings_cross_validate_well_above_chance(bundled) -> None:
    from dialogue.understandingtest import aspect_cross_validation

    cv = aspect_cross_validation(bundled)
    assert cv.total == sum(len(a.phrasings) for a in bundled.aspects.values())
    assert cv.accuracy > 0.6  # eleven aspects: chance is under 0.15
