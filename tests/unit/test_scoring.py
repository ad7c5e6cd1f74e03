"""Scoring core: hand-computed cases (a three-department county) and property tests."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bihuan.core.breakdown import Breakdown, digest, encode
from bihuan.core.chain import CentralTaskInput, ChainLinkInput
from bihuan.core.scoring import (
    COMPONENTS,
    DepartmentInput,
    IndicatorInput,
    SatisfactionInput,
    StaffingCheckInput,
    annual_score,
    combine,
    display,
    round1,
    score_department,
    score_departments,
    score_qualitative,
    score_quantitative,
    score_satisfaction,
    score_staffing,
)
from bihuan.policy import (
    ChainRule,
    QualitativeScores,
    QuantitativeRule,
    SatisfactionRule,
    Scoring,
    StaffingRule,
    Weights,
    load_policy,
)

REPO = Path(__file__).resolve().parents[2]

# The rules spelled out here (not read from config/policy.toml) so that hand arithmetic below
# stays true whatever the office configures.
SCORING = Scoring(
    weights=Weights(ledger=0.55, staffing=0.15, central_tasks=0.10, satisfaction=0.20),
    qualitative=QualitativeScores(not_formulated=0, formulated=60, implemented=100),
    quantitative=QuantitativeRule(
        at_par=80, points_per_percent=2, no_baseline=80, target_share=0.5
    ),
    staffing=StaffingRule(pass_score=100, deduction_per_problem=25),
    satisfaction=SatisfactionRule(
        town=0.4,
        peer=0.3,
        public=0.3,
        satisfied=100,
        basically_satisfied=70,
        unsatisfied=0,
        min_raters=5,
        hotline_in_public=0.2,
    ),
    chain=ChainRule(lead_weight=2, attribution_below=80),
    rating_scale_max=5,
    year_end_weight=0.6,
)
Q = SCORING.quantitative


def test_config_policy_loads_with_the_new_keys() -> None:
    policy = load_policy(REPO / "config")
    assert policy.scoring.chain.lead_weight == 2.0
    assert policy.scoring.chain.attribution_below == 80
    assert 0 <= policy.scoring.satisfaction.hotline_in_public <= 1


# ------------------------------------------------------------ indicators, table-driven

QUANT_CASES = [
    # (value, history, direction, target, expected score, words in the rule text)
    # 200 -> 230: +15 % -> 80 + 2*15 = 110 -> capped at 100
    (230, {2021: 200}, "higher", None, 100.0, "提高15%"),
    # 100 -> 95: -5 % -> 80 - 10 = 70
    (95, {2021: 100}, "higher", None, 70.0, "下降5%"),
    # same as last year -> at par 80
    (100, {2021: 100}, "higher", None, 80.0, "持平"),
    # lower is better, 50 -> 40: value -20 %, improvement +20 % -> 80 + 40 -> 100
    (40, {2021: 50}, "lower", None, 100.0, "改善20%"),
    # lower is better, 50 -> 55: +10 % worse -> 80 - 20 = 60
    (55, {2021: 50}, "lower", None, 60.0, "退步10%"),
    # 100 -> 20: -80 % -> 80 - 160 -> floored at 0
    (20, {2021: 100}, "higher", None, 0.0, "下降80%"),
    # negative baseline: -100 -> -50 is +50 % of |baseline| -> 80 + 100 -> 100
    (-50, {2021: -100}, "higher", None, 100.0, "提高50%"),
    # no value last year (only 2019): trend = no_baseline 80
    (10, {2019: 5}, "higher", None, 80.0, "上年无数据"),
    # last year 0: trend = no_baseline 80
    (10, {2021: 0}, "higher", None, 80.0, "上年为0"),
    # target: 100 -> 95 trend 70; target 120 -> 100*95/120 = 79.1667; 0.5*79.1667 + 0.5*70
    (95, {2021: 100}, "higher", 120, 0.5 * (100 * 95 / 120) + 0.5 * 70, "目标120"),
    # target met (higher): target score 100; trend +10 % -> 100; score 100
    (110, {2021: 100}, "higher", 100, 100.0, "目标得分100"),
    # lower with target: 50 -> 60 (+20 % worse) trend 40; target 45 -> 100*45/60 = 75; mean 57.5
    (60, {2021: 50}, "lower", 45, 57.5, "目标得分75"),
    # lower, value 0: target score 100; 10 -> 0 is -100 % -> improvement 100 % -> trend 100
    (0, {2021: 10}, "lower", 5, 100.0, "目标得分100"),
    # zero baseline with target: trend 80, target 100*5/10 = 50 -> 65
    (5, {2021: 0}, "higher", 10, 65.0, "目标得分50"),
]


@pytest.mark.parametrize(
    ("value", "history", "direction", "target", "expected", "words"), QUANT_CASES
)
def test_quantitative_cases(
    value: float,
    history: dict[int, float],
    direction: str,
    target: float | None,
    expected: float,
    words: str,
) -> None:
    result = score_quantitative(value, history, 2022, direction, target, Q, code="X")
    assert result.score == pytest.approx(expected)
    assert words in result.rule
    assert not result.missing
    assert result.baseline == history.get(2021)
    assert result.value == value


def test_quantitative_missing_scores_zero_and_is_flagged() -> None:
    result = score_quantitative(None, {2021: 100}, 2022, "higher", 120, Q, code="X")
    assert (result.score, result.missing, result.baseline, result.target) == (0.0, True, 100, 120)
    assert "未报送" in result.rule


@pytest.mark.parametrize(
    ("level", "expected", "missing"),
    [
        ("not_formulated", 0, False),
        ("formulated", 60, False),
        ("implemented", 100, False),
        (None, 0, True),
    ],
)
def test_qualitative_levels(level: str | None, expected: float, missing: bool) -> None:
    result = score_qualitative(level, SCORING.qualitative, code="Q")
    assert (result.score, result.missing, result.level) == (expected, missing, level)


def test_bad_inputs_are_programmer_errors() -> None:
    with pytest.raises(ValueError, match="unknown qualitative level"):
        score_qualitative("done", SCORING.qualitative)
    with pytest.raises(ValueError, match="direction"):
        score_quantitative(1, {}, 2022, "up", None, Q)
    with pytest.raises(ValueError, match="finite"):
        score_quantitative(math.nan, {}, 2022, "higher", None, Q)
    with pytest.raises(ValueError, match="given twice"):
        score_staffing([StaffingCheckInput("real_name", 0)] * 2, SCORING.staffing)
    with pytest.raises(ValueError, match="outside"):
        score_satisfaction(SatisfactionInput(town=[(6, 5, 5, 5, 5)]), SCORING.satisfaction, 5)


def test_staffing_not_assessed_checks_are_left_out() -> None:
    # 0, 1, 2, 5 problems -> 100, 75, 50, 0 (floored); real_name not checked -> mean of four
    checks = [
        StaffingCheckInput("party_management", 0),
        StaffingCheckInput("approved_matters", 1),
        StaffingCheckInput("setup_compliance", 2),
        StaffingCheckInput("off_establishment", 5),
    ]
    result = score_staffing(checks, SCORING.staffing)
    assert result.score == pytest.approx((100 + 75 + 50 + 0) / 4)
    assert result.not_assessed == ("real_name",)
    assert score_staffing([], SCORING.staffing).score is None


def test_rounding_for_display_is_half_up() -> None:
    assert round1(71.45) == 71.5
    assert round1(71.44999) == 71.4
    assert display(79.00216667) == "79.0"
    assert display(None) == "—"


def test_annual_score() -> None:
    assert annual_score(70, 80, 0.6) == pytest.approx(0.4 * 70 + 0.6 * 80)  # 76
    assert annual_score(None, 80, 0.6) == 80
    assert annual_score(70, None, 0.6) == 70
    assert annual_score(None, None, 0.6) is None


# ------------------------------------------------------------ a small county, by hand


def _county() -> tuple[list[DepartmentInput], list[CentralTaskInput]]:
    d01 = DepartmentInput(
        code="D01",
        name="县发展和改革局",
        category="economic",
        indicators=[
            # S1: 200 -> 230 = +15 % -> capped 100
            IndicatorInput("A1", "quantitative", section="S1", value=230, history={2021: 200}),
            # S1: 100 -> 95 trend 70, target 120 -> 79.1667; score 74.5833
            IndicatorInput(
                "A2", "quantitative", section="S1", value=95, history={2021: 100}, target=120
            ),
            IndicatorInput("A3", "qualitative", section="S2", level="implemented"),  # 100
            IndicatorInput("A4", "qualitative", section="S2", level="formulated", weight=2),  # 60
        ],
        staffing=[  # 100, 75, 50, 100, 0 -> 65
            StaffingCheckInput("party_management", 0),
            StaffingCheckInput("approved_matters", 1),
            StaffingCheckInput("setup_compliance", 2),
            StaffingCheckInput("real_name", 0),
            StaffingCheckInput("off_establishment", 5),
        ],
        satisfaction=SatisfactionInput(
            town=[(4, 4, 4, 4, 4)] * 5,  # (4-1)/(5-1)*100 = 75
            peer=[(5, 5, 5, 5, 5)] * 5,  # 100
            # 6 x 100 + 3 x 70 + 1 x 0 = 810 / 10 = 81
            public=["satisfied"] * 6 + ["basically_satisfied"] * 3 + ["unsatisfied"],
            hotline_on_time=[True] * 8 + [False] * 2,  # 80 %
        ),
    )
    d02 = DepartmentInput(
        code="D02",
        name="县商务局",
        category="economic",
        indicators=[
            # lower: 50 -> 40 improvement 20 % -> 100; 40 <= target 45 -> 100; score 100
            IndicatorInput(
                "B1", "quantitative", value=40, history={2021: 50}, direction="lower", target=45
            ),
            IndicatorInput("B2", "quantitative", value=10),  # no history -> 80
            IndicatorInput("B3", "quantitative", value=None, history={2021: 5}),  # missing 0
            IndicatorInput("B4", "qualitative"),  # missing 0
        ],
        satisfaction=SatisfactionInput(
            town=[(5, 5, 5, 5, 5)] * 3,  # 3 < 5 raters: suppressed
            peer=[(3, 3, 3, 3, 3)] * 5,  # 50
            public=["basically_satisfied"] * 5,  # 70, no hotline cases
        ),
    )
    d03 = DepartmentInput(
        code="D03",
        name="县民政局",
        category="non_economic",
        indicators=[
            IndicatorInput("C1", "qualitative", level="not_formulated"),  # 0
            IndicatorInput("C2", "qualitative", level="implemented"),  # 100
            # last year 0 -> trend 80; target 10 -> 50; score 65
            IndicatorInput("C3", "quantitative", value=5, history={2021: 0}, target=10),
        ],
        staffing=[StaffingCheckInput("real_name", 1), StaffingCheckInput("party_management", 0)],
    )
    t1 = CentralTaskInput(
        "T1",
        "优化营商环境",
        [
            ChainLinkInput("D01", "lead", 90),
            ChainLinkInput("D02", "cooperating", 60, shortfall="并联审批超时"),
            ChainLinkInput("D03", "cooperating", None),  # no result: 0 %, missing
        ],
    )
    return [d01, d02, d03], [t1]


def test_three_department_county_by_hand() -> None:
    departments, tasks = _county()
    scores, chains = score_departments(departments, tasks, year=2022, scoring=SCORING)

    # D01 ledger: (100 + 74.5833 + 100 + 2*60) / 5 = 78.9167
    a2 = 0.5 * (100 * 95 / 120) + 0.5 * 70
    ledger1 = (100 + a2 + 100 + 2 * 60) / 5
    # satisfaction: public = 0.8*81 + 0.2*80 = 80.8; 0.4*75 + 0.3*100 + 0.3*80.8 = 84.24
    sat1 = 0.4 * 75 + 0.3 * 100 + 0.3 * (0.8 * 81 + 0.2 * 80)
    # total: 0.55*78.9167 + 0.15*65 + 0.10*90 + 0.20*84.24 = 79.0022
    d01 = scores["D01"]
    assert d01.component("ledger") == pytest.approx(ledger1)
    assert d01.component("staffing") == pytest.approx(65)
    assert d01.component("central_tasks") == pytest.approx(90)
    assert d01.component("satisfaction") == pytest.approx(84.24)
    assert d01.total == pytest.approx(0.55 * ledger1 + 0.15 * 65 + 0.10 * 90 + 0.20 * sat1)
    assert d01.total == pytest.approx(79.0021667, abs=1e-6)
    assert d01.total_display == "79.0"
    sections = {s.section: s.score for s in d01.sections}
    assert sections["S1"] == pytest.approx((100 + a2) / 2)  # 87.2917
    assert sections["S2"] == pytest.approx((100 + 2 * 60) / 3)  # 73.3333

    # D02 ledger: (100 + 80 + 0 + 0) / 4 = 45; no staffing checks; central 60;
    # satisfaction: town suppressed, peer 50 and public 70 share 0.3 + 0.3 -> 60;
    # total over 0.85 of weight: (0.55*45 + 0.10*60 + 0.20*60) / 0.85 = 50.2941
    d02 = scores["D02"]
    assert d02.component("ledger") == pytest.approx(45)
    assert d02.component("staffing") is None
    assert d02.component("satisfaction") == pytest.approx(60)
    assert d02.total == pytest.approx(42.75 / 0.85)
    assert d02.components["staffing"].effective_weight == 0
    assert d02.components["ledger"].effective_weight == pytest.approx(0.55 / 0.85)
    assert [i.missing for i in d02.indicators] == [False, False, True, True]

    # D03 ledger: (0 + 100 + 65) / 3 = 55; staffing (75 + 100) / 2 = 87.5; central 0 (missing);
    # no ratings at all; total over 0.80: (0.55*55 + 0.15*87.5 + 0.10*0) / 0.8 = 54.21875
    d03 = scores["D03"]
    assert d03.component("ledger") == pytest.approx(55)
    assert d03.component("staffing") == pytest.approx(87.5)
    assert d03.component("central_tasks") == 0
    assert d03.component("satisfaction") is None
    assert d03.total == pytest.approx(54.21875)
    assert d03.total_display == "54.2"

    # chain T1: (2*90 + 60 + 0) / 4 = 60; D02 and D03 below 80 are responsible
    (chain,) = chains
    assert chain.score == pytest.approx(60)
    assert chain.responsible == ("D02", "D03")


def test_suppressed_part_shows_neither_score_nor_count() -> None:
    departments, tasks = _county()
    scores, _ = score_departments(departments, tasks, year=2022, scoring=SCORING)
    town = scores["D02"].breakdown().component("satisfaction").parts["town"]
    assert (town.score, town.raters, town.suppressed) == (None, None, True)
    assert (town.weight, town.effective_weight) == (0.4, 0.0)
    text = scores["D02"].explain()
    assert "镇街道评县直:评价人数少于5人,不予公开" in text
    assert "100.0" not in text.split("四、")[1]  # the suppressed towns' 100 shows nowhere


def test_breakdown_is_json_and_explain_answers_why() -> None:
    departments, tasks = _county()
    scores, _ = score_departments(departments, tasks, year=2022, scoring=SCORING)
    d01 = scores["D01"]
    breakdown = json.loads(json.dumps(d01.breakdown().to_json(), ensure_ascii=False))
    assert Breakdown.from_json(breakdown) == d01.breakdown()  # the stored JSON reads back whole
    assert breakdown["total"] == pytest.approx(d01.total)
    assert [i["code"] for i in breakdown["indicators"]] == ["A1", "A2", "A3", "A4"]
    assert set(breakdown["components"]) == set(COMPONENTS)
    link = breakdown["components"]["central_tasks"]["links"][0]
    assert [x["delivered_pct"] for x in link["chain"]] == [90, 60, 0]

    text = d01.explain()
    assert text.startswith("县发展和改革局(D01)总分 79.0 分。")
    assert "主责主业履职成效:78.9 分 × 55% = 43.4" in text
    assert "机构编制执行情况:65.0 分 × 15% = 9.8" in text  # 9.75 half up
    assert "A1" in text and "较上年提高15%" in text
    assert "含12345热线按时办结率80.0%" in text
    assert "短板归责于:D02、D03" in text

    d03 = scores["D03"].explain()
    assert "三评满意度:本阶段无评估内容,其权重20%按比例分给其他部分" in d03
    assert "未报送完成情况,按0%计" in d03


def test_nothing_to_assess_gives_no_total() -> None:
    result = score_department(DepartmentInput(code="D09"), year=2022, scoring=SCORING)
    assert result.total is None
    assert "不计总分" in result.explain()


def test_core_imports_no_frameworks() -> None:
    banned = {"prefect", "sqlmodel", "sqlalchemy", "apprise", "models"}
    for name in ("scoring.py", "chain.py", "draw.py"):
        tree = ast.parse((REPO / "bihuan" / "core" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & banned, f"{name} imports {roots & banned}"


# ------------------------------------------------------------ properties

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
positive = st.floats(min_value=0, max_value=1e6, allow_nan=False)
levels = st.sampled_from(["not_formulated", "formulated", "implemented", None])
public_levels = st.sampled_from(["satisfied", "basically_satisfied", "unsatisfied"])
ratings = st.lists(st.tuples(*[st.integers(1, 5).map(float)] * 5), min_size=0, max_size=8)


@st.composite
def quantitative_rules(draw: st.DrawFn) -> QuantitativeRule:
    return QuantitativeRule(
        at_par=draw(st.floats(0, 99)),
        points_per_percent=draw(st.floats(0.01, 100)),
        no_baseline=draw(st.floats(0, 100)),
        target_share=draw(st.floats(0, 1)),
    )


@given(
    a=values,
    b=values,
    baseline=st.one_of(st.none(), values),
    target=st.one_of(st.none(), values),
    direction=st.sampled_from(["higher", "lower"]),
    rule=quantitative_rules(),
)
def test_quantitative_bounded_and_monotonic(
    a: float,
    b: float,
    baseline: float | None,
    target: float | None,
    direction: str,
    rule: QuantitativeRule,
) -> None:
    history = {} if baseline is None else {2021: baseline}
    low, high = sorted((a, b))
    s_low = score_quantitative(low, history, 2022, direction, target, rule).score
    s_high = score_quantitative(high, history, 2022, direction, target, rule).score
    assert 0 <= s_low <= 100 and 0 <= s_high <= 100
    if direction == "higher":
        assert s_high >= s_low - 1e-9
    else:
        assert s_low >= s_high - 1e-9


def test_qualitative_monotonic_in_level() -> None:
    order = [None, "not_formulated", "formulated", "implemented"]
    scores = [score_qualitative(level, SCORING.qualitative).score for level in order]
    assert scores == sorted(scores)


@given(problems=st.lists(st.integers(0, 10), min_size=5, max_size=5), which=st.integers(0, 4))
def test_staffing_fewer_problems_never_lower(problems: list[int], which: int) -> None:
    kinds = [
        "party_management",
        "approved_matters",
        "setup_compliance",
        "real_name",
        "off_establishment",
    ]
    before = score_staffing(
        [StaffingCheckInput(k, p) for k, p in zip(kinds, problems, strict=True)], SCORING.staffing
    ).score
    fewer = list(problems)
    fewer[which] = max(0, fewer[which] - 1)
    after = score_staffing(
        [StaffingCheckInput(k, p) for k, p in zip(kinds, fewer, strict=True)], SCORING.staffing
    ).score
    assert before is not None and after is not None
    assert 0 <= before <= after <= 100


@given(
    public=st.lists(public_levels, min_size=1, max_size=12), which=st.integers(0, 11), town=ratings
)
def test_better_public_level_never_lowers_satisfaction(
    public: list[str], which: int, town: list[tuple[float, ...]]
) -> None:
    order = ["unsatisfied", "basically_satisfied", "satisfied"]
    i = which % len(public)
    better = list(public)
    better[i] = order[min(2, order.index(better[i]) + 1)]
    rule = SCORING.satisfaction
    before = score_satisfaction(SatisfactionInput(town=town, public=public), rule, 5).score
    after = score_satisfaction(SatisfactionInput(town=town, public=better), rule, 5).score
    if before is None:
        return  # too few raters: nothing shown either way
    assert after is not None
    assert 0 <= before <= after + 1e-9 <= 100 + 1e-9


weights_strategy = st.lists(st.floats(0.01, 1), min_size=4, max_size=4).map(
    lambda xs: [x / sum(xs) for x in xs]
)


def _weights(ws: list[float]) -> Weights:
    # Weights demands a sum of exactly 1 (within 1e-9); the last weight takes the remainder.
    return Weights(ledger=ws[0], staffing=ws[1], central_tasks=ws[2], satisfaction=1 - sum(ws[:3]))


@given(ws=weights_strategy, comps=st.lists(st.floats(0, 100), min_size=4, max_size=4))
def test_all_components_total_is_the_weighted_sum(ws: list[float], comps: list[float]) -> None:
    weights = _weights(ws)
    components = dict(zip(COMPONENTS, comps, strict=True))
    total, effective = combine(components, weights)
    expected = sum(getattr(weights, n) * components[n] for n in COMPONENTS)
    assert total == pytest.approx(expected)
    assert effective == pytest.approx({n: getattr(weights, n) for n in COMPONENTS})


@given(
    ws=weights_strategy,
    comps=st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=4, max_size=4),
)
def test_missing_components_redistribute_weight(ws: list[float], comps: list[float | None]) -> None:
    components = dict(zip(COMPONENTS, comps, strict=True))
    total, effective = combine(components, _weights(ws))
    if all(c is None for c in comps):
        assert total is None
        return
    assert sum(effective.values()) == pytest.approx(1)
    assert all(effective[n] == 0 for n in COMPONENTS if components[n] is None)
    present = [c for c in comps if c is not None]
    assert total is not None
    assert min(present) - 1e-9 <= total <= max(present) + 1e-9


indicator_inputs = st.builds(
    IndicatorInput,
    code=st.text("ABC123", min_size=1, max_size=4),
    kind=st.sampled_from(["qualitative", "quantitative"]),
    section=st.sampled_from(["S1", "S2", ""]),
    weight=st.floats(0, 5),
    direction=st.sampled_from(["higher", "lower"]),
    target=st.one_of(st.none(), positive),
    value=st.one_of(st.none(), positive),
    level=levels,
    history=st.dictionaries(st.integers(2019, 2021), positive, max_size=3),
    name=st.just(""),
    mid_year=st.booleans(),
    unit=st.sampled_from(["", "%", "件"]),
    cumulative=st.one_of(st.none(), st.booleans()),
    same_period=st.one_of(st.none(), positive),
    mid_year_target=st.one_of(st.none(), positive),
)
departments = st.builds(
    DepartmentInput,
    code=st.just("D01"),
    indicators=st.lists(indicator_inputs, max_size=6),
    staffing=st.lists(
        st.builds(
            StaffingCheckInput,
            kind=st.sampled_from(
                [
                    "party_management",
                    "approved_matters",
                    "setup_compliance",
                    "real_name",
                    "off_establishment",
                ]
            ),
            problems=st.integers(0, 6),
        ),
        max_size=5,
        unique_by=lambda c: c.kind,
    ),
    satisfaction=st.builds(
        SatisfactionInput,
        town=ratings,
        peer=ratings,
        public=st.lists(public_levels, max_size=8),
        hotline_on_time=st.lists(st.booleans(), max_size=8),
    ),
)


@settings(max_examples=150)
@given(department=departments)
def test_department_total_bounded_and_deterministic(department: DepartmentInput) -> None:
    first = score_department(department, year=2022, scoring=SCORING)
    second = score_department(department, year=2022, scoring=SCORING)
    assert first.breakdown() == second.breakdown()
    assert first.explain() == second.explain()
    if first.total is not None:
        assert 0 <= first.total <= 100 + 1e-9
    for component in first.components.values():
        assert component.score is None or 0 <= component.score <= 100 + 1e-9
    effective = sum(c.effective_weight for c in first.components.values())
    assert effective == pytest.approx(1) or first.total is None
    json.dumps(first.breakdown().to_json())


@settings(max_examples=150)
@given(department=departments)
def test_the_stored_breakdown_is_the_typed_one_without_its_defaults(
    department: DepartmentInput,
) -> None:
    """compact() (written out for speed) stores exactly what Breakdown.to_json() would."""
    score = score_department(department, year=2022, scoring=SCORING)
    stored = score.compact()
    assert Breakdown.from_json(stored).to_json() == stored
    assert json.loads(encode(stored)) == stored
    assert digest(encode(stored)) == digest(
        encode(score_department(department, year=2022, scoring=SCORING).compact())
    )
