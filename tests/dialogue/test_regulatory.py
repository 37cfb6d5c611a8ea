"""Structured regulatory status: what a unit says about approvals is data, shown "as of" a date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dialogue.engine import Engine, EngineOptions
from dialogue.loader import stale_statuses, unstructured_statuses
from dialogue.replies import Incoming, ReplyKind

from .test_loader import GOOD_TOPIC, errors_of, load_with

STATUS = """    regulatory:
      - {region: us, status: approved, as_of: 2026-09, checked_on: 2026-11-30, source: fx_guideline}
      - {region: eu, status: pending, as_of: 2026-06, checked_on: 2026-06-15, source: fx_guideline, for: after an aromatase inhibitor}
    sources:"""


def with_status(status: str = STATUS, text: str = "Clinician text.") -> str:
    return "topics:" + GOOD_TOPIC.format(id="t_drug").replace("    sources:", status).replace("Clinician text.", text)


def answer_text(knowledge, audience: str) -> str:
    replies = Engine(knowledge, EngineOptions(audience=audience)).step(None, Incoming(payload="t:t_drug"), 0.0).replies
    return next(r for r in replies if r.kind is ReplyKind.ANSWER).text


def test_each_region_is_shown_with_its_date_and_a_numbered_source_in_both_voices(tmp_path: Path) -> None:
    k = load_with(tmp_path, with_status())
    clinician = answer_text(k, "clinician")
    assert "US (FDA): approved, as of September 2026 [1]" in clinician
    assert "EU (EMA): under regulatory review, not approved (after an aromatase inhibitor), as of June 2026 [1]" in clinician
    patient = answer_text(k, "patient")
    assert "EU (EMA): being reviewed, not approved yet" in patient and "as of June 2026" in patient


def test_a_full_date_is_shown_with_its_day(tmp_path: Path) -> None:
    k = load_with(tmp_path, with_status(STATUS.replace("as_of: 2026-09,", "as_of: 2026-09-25,")))
    assert "approved, as of 25 September 2026" in answer_text(k, "clinician")


def test_bad_entries_are_reported_with_their_line(tmp_path: Path) -> None:
    for wrong, said in [("region: us,", "unknown region 'mars'"), ("status: approved,", "unknown regulatory status 'maybe'"),
                        ("source: fx_guideline}", "regulatory source 'nowhere' is not in the topic's sources"),
                        ("as_of: 2026-09,", "as_of '2026-13-45' is not a date"),
                        ("checked_on: 2026-11-30,", "as_of 2026-09 is after checked_on 2026-08-01")]:
        replaced = {"region: us,": "region: mars,", "status: approved,": "status: maybe,",
                    "source: fx_guideline}": "source: nowhere}", "as_of: 2026-09,": "as_of: 2026-13-45,",
                    "checked_on: 2026-11-30,": "checked_on: 2026-08-01,"}[wrong]
        problems = errors_of(tmp_path, with_status(STATUS.replace(wrong, replaced, 1)))
        assert any("extra.yaml:" in p and said in p for p in problems), (said, problems)


def test_a_status_checked_in_the_future_is_refused(tmp_path: Path) -> None:
    problems = errors_of(tmp_path, with_status(STATUS.replace("checked_on: 2026-11-30", "checked_on: 2999-01-01")))
    assert any("checked_on 2999-01-01 is in the future" in p for p in problems)


def test_an_unsettled_status_goes_stale_after_six_months_a_settled_one_does_not(tmp_path: Path) -> None:
    k = load_with(tmp_path, with_status())
    assert stale_statuses(k, date(2026, 12, 1)) == []  # the pending EU status was checked 169 days before
    stale = stale_statuses(k, date(2027, 1, 1))
    assert [p.severity for p in stale] == ["warning"] and "the eu status 'pending' was last checked 2026-06-15" in str(stale[0])
    assert all("'us'" not in str(p) for p in stale_statuses(k, date(2030, 1, 1)))  # approved: no recheck needed


def test_a_status_stated_only_in_the_text_is_pointed_out(tmp_path: Path) -> None:
    text = "Approved by the FDA for this use as of May 2026."
    unstructured = load_with(tmp_path, with_status(status="    sources:", text=text))
    assert [p.severity for p in unstructured_statuses(unstructured)] == ["warning"]
    assert unstructured_statuses(load_with(tmp_path, with_status(text=text))) == []


def test_approvals_of_content_without_a_status_carry_over(tmp_path: Path) -> None:
    plain = load_with(tmp_path, "topics:" + GOOD_TOPIC.format(id="t_drug")).topics["t_drug"].content_hash
    assert plain == load_with(tmp_path, with_status(status="    sources:")).topics["t_drug"].content_hash
    assert load_with(tmp_path, with_status()).topics["t_drug"].content_hash != plain  # a status is content a reviewer approves
