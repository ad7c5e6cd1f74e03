"""Unit tests of the next-year re-check decision table (次年复查)."""

from __future__ import annotations

import pytest

from bihuan.core.breakdown import Breakdown, IndicatorLine
from bihuan.core.recheck import (
    FINDING_KEY_MAX,
    PriorItem,
    carried_key,
    indicator_results,
    recheck,
)

RESULTS = {"IND-PASS": True, "IND-FAIL": False}


@pytest.mark.parametrize(
    ("status", "indicator", "alternative_valid", "outcome", "reason_has", "lineage"),
    [
        ("verified_closed", "IND-PASS", True, "stays_closed", "已达标", ""),
        ("verified_closed", "IND-FAIL", True, "recurring", "再次未达标", "2022年问题复发"),
        ("verified_closed", None, True, "stays_closed", "无对应履职指标", ""),
        ("verified_closed", "IND-GONE", True, "stays_closed", "无指标", ""),
        ("open", "IND-PASS", True, "carried", "待整改", "2022年问题延续"),
        ("in_progress", None, True, "carried", "整改中", "2022年问题延续"),
        ("reopened", "IND-FAIL", True, "carried", "未整改到位", "2022年问题延续"),
        # reported fixed but never verified: not fixed, even if the indicator now passes
        ("reported_fixed", "IND-PASS", True, "carried", "未验收", "2022年问题延续"),
        ("cannot_solve_requested", None, True, "carried", "未审核", "2022年问题延续"),
        ("cannot_solve", "IND-FAIL", True, "stays_cannot_solve", "替代措施仍然有效", ""),
        ("cannot_solve", None, False, "carried", "替代措施已失效", "2022年问题延续"),
    ],
)
def test_decision_table(
    status: str,
    indicator: str | None,
    alternative_valid: bool,
    outcome: str,
    reason_has: str,
    lineage: str,
) -> None:
    item = PriorItem(
        item_id=7,
        year=2022,
        finding_key="k",
        department_code="D01",
        status=status,
        indicator_code=indicator,
        alternative_valid=alternative_valid,
    )
    (d,) = recheck([item], RESULTS)
    assert d.item_id == 7 and d.department_code == "D01"
    assert d.outcome == outcome
    assert reason_has in d.reason
    assert d.lineage == lineage
    assert d.carried == (outcome in ("carried", "recurring"))
    assert (d.new_finding_key == "carried:2022:k") == d.carried


@pytest.mark.parametrize(
    ("key", "lineage"),
    [
        ("mid-year:indicator:D01-S1-01", "2022年年中问题延续"),
        ("year-end:staffing:real_name", "2022年年底问题延续"),
        ("carried:2021:mid-year:hotline", "2022年年中问题延续"),
    ],
)
def test_the_lineage_names_the_phase_in_chinese_never_the_key(key: str, lineage: str) -> None:
    item = PriorItem(item_id=7, year=2022, finding_key=key, department_code="D01", status="open")
    (d,) = recheck([item], RESULTS)
    assert d.lineage == lineage


def test_decisions_come_in_item_order() -> None:
    items = [PriorItem(i, 2022, f"k{i}", "D", "open") for i in (5, 1, 3)]
    assert [d.item_id for d in recheck(items, {})] == [1, 3, 5]


def test_carried_key_fits_the_column_and_stays_distinct() -> None:
    long_a = "x" * 200 + "a"
    long_b = "x" * 200 + "b"
    ka, kb = carried_key(2022, long_a), carried_key(2022, long_b)
    assert len(ka) <= FINDING_KEY_MAX and len(kb) <= FINDING_KEY_MAX
    assert ka != kb
    assert carried_key(2022, long_a) == ka


def _scored(code: str, score: float, *, missing: bool = False) -> Breakdown:
    return Breakdown(
        code="D01",
        indicators=[IndicatorLine(code=code, kind="qualitative", score=score, missing=missing)],
    )


def test_indicator_results_the_latest_assessed_phase_decides() -> None:
    assessed = [
        ("year-end", _scored("A", 80)),  # fixed by the year-end
        ("mid-year", _scored("A", 20)),
        ("mid-year", _scored("B", 90)),
        ("year-end", _scored("B", 59.9)),  # failed again at the year-end
        ("mid-year", _scored("C", 100, missing=True)),  # not submitted fails whatever the score
        ("mid-year", _scored("D", 60)),  # the threshold itself passes
    ]
    assert indicator_results(assessed, 60) == {"A": True, "B": False, "C": False, "D": True}
    assert indicator_results([], 60) == {}
