"""Mid-year compares like with like (issue 10.5): a cumulative indicator is compared with its
same-period value (同期值) or mid-year target (年中目标), never failed against a full-year figure."""

from __future__ import annotations

import pytest

from bihuan.core.breakdown import Breakdown
from bihuan.core.findings import DepartmentFacts, IndicatorFact, derive_findings
from bihuan.core.scoring import (
    DepartmentInput,
    IndicatorInput,
    is_cumulative,
    score_department,
)
from bihuan.policy import FindingRules, QuantitativeRule, load_policy
from tests.unit.test_scoring import REPO, SCORING

RULES = FindingRules()
Q = QuantitativeRule()


def cases_handled(**kw: object) -> IndicatorInput:
    """办结案件 (件): 1,000 last year over the whole year, 520 by the end of June this year."""
    fields: dict[str, object] = {
        "code": "D01-S1-01",
        "kind": "quantitative",
        "name": "办结案件数",
        "section": "S1",
        "unit": "件",
        "value": 520.0,
        "target": 1100.0,
        "history": {2021: 1000.0},
        "mid_year": True,
    }
    fields.update(kw)
    return IndicatorInput(**fields)  # type: ignore[arg-type]


def findings_for(indicator: IndicatorInput, phase: str = "mid-year") -> list[str]:
    """The findings' keys after scoring, storing and reading back the breakdown, as the shell does."""
    scored = score_department(
        DepartmentInput(code="D01", indicators=[indicator]), year=2022, scoring=SCORING
    )
    stored = Breakdown.from_json(scored.breakdown().to_json())
    facts = DepartmentFacts(
        code="D01",
        indicators=[
            IndicatorFact(i.code, i.name, i.score, i.missing, i.compared) for i in stored.indicators
        ],
    )
    return [f.key for f in derive_findings(facts, phase=phase, rules=RULES, office="县委编办")]


def test_cumulative_at_mid_year_without_a_same_period_value_raises_no_finding() -> None:
    # compared with the full year, 520 of 1,000 is −48 % (trend 0) and 47 % of the target: 23.6
    assert findings_for(cases_handled(mid_year=False), phase="year-end") == [
        "year-end:indicator:D01-S1-01"
    ]
    assert findings_for(cases_handled()) == []
    line = score_department(
        DepartmentInput(code="D01", indicators=[cases_handled()]), year=2022, scoring=SCORING
    ).indicators[0]
    assert not line.compared and not line.missing
    assert (line.baseline, line.target, line.score) == (None, None, 80.0)
    assert "不与全年数值比较" in line.rule


def test_with_a_same_period_value_mid_year_compares_against_it() -> None:
    # last June 650, this June 520: −20 % -> 80 − 40 = 40, below 60: a finding
    worse = score_department(
        DepartmentInput(code="D01", indicators=[cases_handled(same_period=650.0)]),
        year=2022,
        scoring=SCORING,
    ).indicators[0]
    assert worse.compared and worse.baseline == 650.0 and worse.target is None
    assert worse.score == pytest.approx(40.0)
    assert "上年同期650" in worse.rule
    assert findings_for(cases_handled(same_period=650.0)) == ["mid-year:indicator:D01-S1-01"]
    # last June 500: +4 % -> 88, no finding
    assert findings_for(cases_handled(same_period=500.0)) == []


def test_a_mid_year_target_replaces_the_full_year_one() -> None:
    line = score_department(
        DepartmentInput(code="D01", indicators=[cases_handled(mid_year_target=500.0)]),
        year=2022,
        scoring=SCORING,
    ).indicators[0]
    # no same-period value: trend 80; 520 ≥ 500: target score 100 -> 90
    assert line.compared and line.target == 500.0
    assert line.score == pytest.approx(90.0)
    assert "年中目标500" in line.rule


def test_a_rate_keeps_its_full_year_comparison_at_mid_year() -> None:
    rate = cases_handled(unit="%", value=60.0, target=None, history={2021: 90.0})
    assert findings_for(rate) == ["mid-year:indicator:D01-S1-01"]
    # the 累计指标 column overrides the unit rule both ways
    assert findings_for(cases_handled(unit="%", cumulative=True)) == []
    assert findings_for(cases_handled(cumulative=False)) == ["mid-year:indicator:D01-S1-01"]


def test_a_missing_cumulative_value_is_still_missing() -> None:
    assert findings_for(cases_handled(value=None)) == ["mid-year:submission"]


@pytest.mark.parametrize(
    ("unit", "column", "expected"),
    [
        ("件", None, True),
        ("万元", None, True),
        ("%", None, False),
        (" 天 ", None, False),
        ("%", True, True),
        ("件", False, False),
        ("", None, True),
    ],
)
def test_is_cumulative(unit: str, column: bool | None, expected: bool) -> None:
    assert is_cumulative(unit, column, Q) is expected


def test_config_rate_units_load() -> None:
    assert "%" in load_policy(REPO / "config").scoring.quantitative.rate_units


# ------------------------------------------------------------ missing submissions (issue 10.5)


def _facts(missing: int, *, whole: bool = False, failing: int = 0) -> DepartmentFacts:
    inds = [IndicatorFact(f"D01-S1-{n:02d}", f"任务{n}", 0.0, True) for n in range(1, missing + 1)]
    inds += [
        IndicatorFact(f"D01-S2-{n:02d}", f"任务{n}", 20.0, False) for n in range(1, failing + 1)
    ]
    inds += [IndicatorFact("D01-S3-01", "达标任务", 95.0, False)]
    return DepartmentFacts(
        code="D01", submission_missing=whole, window="2022-06-01至2022-06-30", indicators=inds
    )


def test_a_missing_submission_is_one_finding_listing_the_indicators() -> None:
    [f] = derive_findings(_facts(13, whole=True), phase="mid-year", rules=RULES, office="县委编办")
    assert f.key == "mid-year:submission" and f.category == "missing_submission"
    assert f.evidence["indicators"] == [f"D01-S1-{n:02d}" for n in range(1, 14)]
    assert "未报送履职成效材料" in f.title and "涉及13项指标:D01-S1-01、" in f.title


def test_indicators_left_out_are_one_finding_beside_the_failed_ones() -> None:
    found = derive_findings(_facts(3, failing=2), phase="year-end", rules=RULES, office="县委编办")
    assert [f.key for f in found] == [
        "year-end:submission",
        "year-end:indicator:D01-S2-01",
        "year-end:indicator:D01-S2-02",
    ]
    assert "部分指标未报送" in found[0].title
    assert found[0].title.endswith("涉及3项指标:D01-S1-01、D01-S1-02、D01-S1-03")


def test_a_long_list_is_cut_to_the_title_column_and_kept_whole_in_the_evidence() -> None:
    [f] = derive_findings(_facts(200), phase="mid-year", rules=RULES, office="县委编办")
    assert len(f.title) <= 300 and f.title.endswith("等200项")
    assert len(f.evidence["indicators"]) == 200
