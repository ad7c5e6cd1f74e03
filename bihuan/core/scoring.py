"""Scoring of a department's assessment (监管评估计分): indicators, components, total, annual.

Pure functions over plain frozen dataclasses; policy values come in as the pydantic models of
bihuan/policy.py (``Scoring`` and its parts), which are plain data. Nothing here reads a clock,
a database or a file.

The rules, in words a coordinator understands (configured in config/policy.toml, ``[scoring]``):

Qualitative indicator (定性指标): not formulated 0, formulated but not implemented 60,
formulated and implemented 100 (``[scoring.qualitative]``).
未制定记0分,已制定未落实记60分,已制定并落实记100分。

Quantitative indicator (定量指标, ``[scoring.quantitative]``): compared with last year's value
(纵向比对). change % = (this year − last year) ÷ |last year| × 100, counted the other way round
when lower is better. Trend score = 80 + 2 points per 1 % of improvement, kept within 0–100
(at_par, points_per_percent). No value last year, or last year was 0: trend score 80
(no_baseline). With a target: target score = 100 × value ÷ target (higher is better) or
100 × target ÷ value (lower is better; a value of 0 scores 100), kept within 0–100, and the
indicator score = 50 % target score + 50 % trend score (target_share). A missing submission
scores 0 and is marked missing. At mid-year like is compared with like: the same-period value
(同期值) and the mid-year target (年中目标) replace last year's value and the full-year target; a
cumulative indicator (累计指标) with neither is compared with no full-year figure (trend score
no_baseline, no target, never failed).
与上年数值比较:变化率 =(本年−上年)÷|上年|×100%,越低越好的指标反向计算;趋势得分 = 80 +
每改善1%加2分(每退步1%减2分),最低0分、最高100分;上年无数据或为0的,趋势得分按80分计;设有
目标值的,目标得分 = 本年值÷目标值×100(越低越好的为目标值÷本年值×100,本年值为0得100分),
最高100分,指标得分 = 目标得分×50% + 趋势得分×50%;未报送的记0分并标记“未报送”。

Performance ledger (主责主业履职成效): weighted mean of the department's indicator scores by
indicator weight, with a subtotal per business section (业务科室).
台账得分 = 各指标得分按指标权重的加权平均,并按业务科室给出小计。

Staffing execution (机构编制执行情况, ``[scoring.staffing]``): each of the five checks scores
100 − 25 × problems found (not below 0); the component is the mean of the checks carried out.
A check not carried out is left out of the mean (not counted as passed); if none was carried
out, the component is not assessed and its weight goes to the other components.
五项检查每项满分100分,每发现1个问题扣25分,扣完为止;取已检查项目的平均分。未检查的项目
不计入平均(不视为合格);五项均未检查的,本部分不计分,其权重按比例分给其他部分。

Central tasks (中心工作, chain assessment 链条式评估): the mean of the department's own
delivered % over the chains it is a link of (see bihuan/core/chain.py). No chain: not assessed.
本部门在所参与各项中心工作链条中的完成率平均值;未参与中心工作的,本部分不计分。

Satisfaction (三评满意度, ``[scoring.satisfaction]``): towns (镇街道评县直) and departments (部门互评)
rate 1–5 on five dimensions; a rating is the mean of its five dimensions mapped onto 0–100
(1 → 0, 5 → 100); each part is the mean over its raters. The public part (群众评价) is the mean
of satisfied 100 / basically satisfied 70 / unsatisfied 0, blended with the 12345 hotline
on-time rate by ``hotline_in_public``. The parts are combined town 40 % / peer 30 % /
public 30 %. A part with fewer than ``min_raters`` (5) raters is suppressed: it is not shown
and its weight goes to the other parts.
乡镇街道评价和部门互评按五个维度1–5分打分,每份评价取五项平均后折算为百分制(1分→0,5分→
100),各部分取全部评价人平均;群众评价按满意100、基本满意70、不满意0取平均,并按
hotline_in_public 的比例计入12345热线按时办结率;三部分按40%、30%、30%合成。评价人数少于
min_raters(5)人的部分不予公开、不计分,其权重按比例分给其他部分。

Department total (总分, ``[scoring.weights]``): ledger 55 % + staffing 15 % + central tasks 10 %
+ satisfaction 20 %. A component with nothing to assess has its weight shared out among the
others in proportion to their weights. Scores are kept at full precision; only display rounds to
one decimal (half up). The annual score = 40 % mid-year + 60 % year-end (year_end_weight); with
only one phase assessed, the annual score is that phase's score.
总分 = 台账55% + 机构编制15% + 中心工作10% + 三评20%;某部分无评估内容的,其权重按比例分给
其他部分。计算保留全部精度,仅显示时四舍五入保留一位小数。年度得分 = 年中×40% + 年底×60%,
只评估了一个阶段的,以该阶段得分为年度得分。

Inputs, built from rows by the flows: ``IndicatorInput`` (codes as str, values as float|None,
``kind``/``direction``/``level`` as the str values of models.enums), ``StaffingCheckInput``,
``SatisfactionInput`` (tuples of rating dimensions, public levels, hotline on-time flags),
``DepartmentInput``; central-task links come from ``chain.assess_chains``. Output:
``DepartmentScore`` with ``breakdown()`` (JSON for DepartmentAssessment.breakdown) and
``explain()`` (Chinese text).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from bihuan.core.breakdown import (
    Breakdown,
    ChainLinkLine,
    ChainLinkView,
    ComponentLine,
    HotlineLine,
    PartLine,
    RatingsLine,
    SectionLine,
    StaffingCheckLine,
    explain,
    indicator_rule,
    lean,
)
from bihuan.core.chain import (
    CentralTaskInput,
    ChainResult,
    LinkResult,
    assess_chains,
)
from bihuan.policy import (
    QualitativeScores,
    QuantitativeRule,
    SatisfactionRule,
    Scoring,
    StaffingRule,
    Weights,
)
from bihuan.vocab import (
    Component,
    Direction,
    IndicatorKind,
    PublicLevel,
    QualitativeLevel,
    StaffingCheckKind,
)
from bihuan.vocab import SatisfactionPart as PartName

QUALITATIVE = IndicatorKind.QUALITATIVE.value
QUANTITATIVE = IndicatorKind.QUANTITATIVE.value
HIGHER = Direction.HIGHER_BETTER.value
LOWER = Direction.LOWER_BETTER.value

# Labels come from the one vocabulary (bihuan/vocab.py); the dicts keep the order of the enums.
LEVEL_LABELS = {m.value: m.label for m in QualitativeLevel}
STAFFING_LABELS = {m.value: m.label for m in StaffingCheckKind}
PUBLIC_LEVELS = tuple(m.value for m in PublicLevel)
COMPONENTS = tuple(m.value for m in Component)
COMPONENT_LABELS = {m.value: m.label for m in Component}
PART_LABELS = {m.value: m.label for m in PartName}


# ---------------------------------------------------------------- formatting


# Wide enough for any float written out in full: quantize must never run out of digits.
_WIDE = Context(prec=800)


def _half_up(value: float, step: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(step), rounding=ROUND_HALF_UP, context=_WIDE)


def round1(value: float) -> float:
    """Round half up to one decimal, for display only (71.45 -> 71.5, not banker's 71.4)."""
    return float(_half_up(value, "0.1"))


def display(value: float | None) -> str:
    """A score as shown to people: one decimal, half up; '—' when not assessed."""
    return "—" if value is None else f"{round1(value):.1f}"


def _num(value: float) -> str:
    """A number in a Chinese sentence: at most two decimals, no trailing zeros."""
    text = f"{_half_up(value, '0.01'):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(share: float) -> str:
    return f"{_num(share * 100)}%"


def _clamp(value: float) -> float:
    return min(100.0, max(0.0, value))


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


# ---------------------------------------------------------------- indicators


class IndicatorInput(NamedTuple):
    """One indicator of the ledger with this phase's submission and its prior-year values.

    kind: "qualitative" | "quantitative"; direction: "higher" | "lower"; level: a
    QualitativeLevel value or None; value None or level None means not submitted.
    history maps year -> value (IndicatorHistory rows).

    A NamedTuple, not a frozen dataclass: as immutable, and built about four times faster,
    which counts at one per indicator of a phase (issue 13.4).
    """

    code: str
    kind: str
    name: str = ""
    section: str = ""
    weight: float = 1.0
    direction: str = HIGHER
    target: float | None = None
    value: float | None = None
    level: str | None = None
    history: Mapping[int, float] = MappingProxyType({})
    # Mid-year like with like (年中同口径比较): set by the shell for a mid-year phase.
    mid_year: bool = False
    unit: str = ""
    cumulative: bool | None = None  # None: decided by the unit (rate_units)
    same_period: float | None = None
    mid_year_target: float | None = None


class IndicatorScore(NamedTuple):
    """The score of one indicator with its inputs; `rule` is its short Chinese explanation,
    rendered when read (bihuan.core.breakdown.indicator_rule), not when scored. A NamedTuple
    for the same reason as IndicatorInput."""

    code: str
    kind: str
    score: float
    missing: bool = False
    value: float | None = None
    baseline: float | None = None
    target: float | None = None
    level: str | None = None
    direction: str | None = None
    change_pct: float | None = None
    trend_score: float | None = None
    target_score: float | None = None
    name: str = ""
    section: str = ""
    weight: float = 1.0
    target_share: float | None = None  # of the target score, when the indicator has a target
    # False: a cumulative indicator at mid-year with nothing of the same period to compare
    # with; scored as having no baseline and never failed (no finding).
    compared: bool = True
    # what a mid-year score compared with (年中同口径): the phase, the same period last year
    # (上年同期) as the baseline, a mid-year target (年中目标) as the target — for the prose
    mid_year: bool = False
    same_period: bool = False
    mid_year_target: bool = False

    @property
    def rule(self) -> str:
        return indicator_rule(self, self.target_share)

    def compact(self) -> dict[str, Any]:
        """As stored: the values not at IndicatorLine's defaults, in its order (written out for
        speed: one per indicator of the phase; a test keeps it equal to IndicatorLine's dump)."""
        (
            code,
            kind,
            score,
            missing,
            value,
            baseline,
            target,
            level,
            direction,
            change_pct,
            trend_score,
            target_score,
            name,
            section,
            weight,
            _share,
            compared,
            mid_year,
            same_period,
            mid_year_target,
        ) = self
        out: dict[str, Any] = {"code": code}
        if name:
            out["name"] = name
        if section:
            out["section"] = section
        out["kind"] = kind
        if weight != 1.0:
            out["weight"] = weight
        out["score"] = score
        if missing:
            out["missing"] = True
        if value is not None:
            out["value"] = value
        if baseline is not None:
            out["baseline"] = baseline
        if target is not None:
            out["target"] = target
        if level is not None:
            out["level"] = level
        if direction is not None:
            out["direction"] = direction
        if change_pct is not None:
            out["change_pct"] = change_pct
        if trend_score is not None:
            out["trend_score"] = trend_score
        if target_score is not None:
            out["target_score"] = target_score
        if not compared:
            out["compared"] = False
        if mid_year:
            out["mid_year"] = True
        if same_period:
            out["same_period"] = True
        if mid_year_target:
            out["mid_year_target"] = True
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "compared": self.compared,
            "name": self.name,
            "section": self.section,
            "kind": self.kind,
            "weight": self.weight,
            "score": self.score,
            "missing": self.missing,
            "value": self.value,
            "baseline": self.baseline,
            "target": self.target,
            "level": self.level,
            "direction": self.direction,
            "change_pct": self.change_pct,
            "trend_score": self.trend_score,
            "target_score": self.target_score,
        }


# IndicatorScore built positionally, as a plain tuple of its fields in order: one per indicator
# of a phase, and the keyword-argument constructor costs several times more (issue 13.4).
_new_tuple = tuple.__new__


def _qualitative_score(
    level: str | None,
    rule: QualitativeScores,
    code: str,
    name: str,
    section: str,
    weight: float,
) -> IndicatorScore:
    if level is None:
        score = 0.0
    elif level in LEVEL_LABELS:
        score = float(getattr(rule, level))
    else:
        raise ValueError(f"indicator {code}: unknown qualitative level {level!r}")
    # fields in IndicatorScore's order
    return _new_tuple(
        IndicatorScore,
        (code, QUALITATIVE, score, level is None, None, None, None, level, None, None, None,
         None, name, section, weight, None, True, False, False, False),
    )  # fmt: skip


def score_qualitative(
    level: str | None,
    rule: QualitativeScores,
    *,
    code: str = "",
    name: str = "",
    section: str = "",
    weight: float = 1.0,
) -> IndicatorScore:
    """Score a qualitative indicator (定性) from its level; None (not submitted) scores 0."""
    return _qualitative_score(level, rule, code, name, section, weight)


_CHANGE_CAP = 1e9


def _target_score(value: float, target: float, direction: str) -> float:
    # Meeting the target scores 100; short of it, the ratio to the target (never below 0).
    if direction == HIGHER:
        if value >= target:
            return 100.0
        return 0.0 if target <= 0 else _clamp(100.0 * value / target)
    if value <= target:
        return 100.0
    return 0.0 if target <= 0 else _clamp(100.0 * target / value)


def is_cumulative(unit: str, cumulative: bool | None, rule: QuantitativeRule) -> bool:
    """Whether a quantitative indicator's value adds up over the year (累计指标): the ledger's
    累计指标 column when given, else every unit but a rate or level unit (rate_units)."""
    if cumulative is not None:
        return cumulative
    return unit.strip() not in rule.rate_units


@dataclass(frozen=True)
class MidYear:
    """What a mid-year assessment compares a quantitative indicator with (年中同口径比较)."""

    cumulative: bool
    same_period: float | None = None
    target: float | None = None


def score_quantitative(
    value: float | None,
    history: Mapping[int, float],
    year: int,
    direction: str,
    target: float | None,
    rule: QuantitativeRule,
    *,
    code: str = "",
    name: str = "",
    section: str = "",
    weight: float = 1.0,
    mid_year: MidYear | None = None,
) -> IndicatorScore:
    """Score a quantitative indicator (定量) against last year's value and its target, if any.

    At mid-year (`mid_year` given) like is compared with like: the same-period value (同期值)
    replaces last year's and the mid-year target (年中目标) the full-year one; a cumulative
    indicator without them is compared with neither full-year figure (no baseline, no target,
    and `compared` False so that it is never failed), while a rate keeps both."""
    if mid_year is None:
        return _quantitative_score(
            value, history, year, direction, target, rule, code, name, section, weight,
            False, False, None, None,
        )  # fmt: skip
    return _quantitative_score(
        value, history, year, direction, target, rule, code, name, section, weight,
        True, mid_year.cumulative, mid_year.same_period, mid_year.target,
    )  # fmt: skip


def _quantitative_score(
    value: float | None,
    history: Mapping[int, float],
    year: int,
    direction: str,
    target: float | None,
    rule: QuantitativeRule,
    code: str,
    name: str,
    section: str,
    weight: float,
    mid_year: bool,
    cumulative: bool,
    same_period_value: float | None,
    mid_year_target: float | None,
) -> IndicatorScore:
    """score_quantitative with positional arguments and the mid-year facts spread out (the
    scoring of a phase calls it once per quantitative indicator)."""
    if direction != HIGHER and direction != LOWER:
        raise ValueError(f"indicator {code}: unknown direction {direction!r}")
    baseline = history.get(year - 1)
    # what was compared with what, for the prose (bihuan.core.breakdown.indicator_rule)
    compared, same_period, on_mid_year_target = True, False, False
    if mid_year:
        if same_period_value is not None:
            baseline, same_period = same_period_value, True
        elif cumulative:
            baseline, same_period = None, True
        if mid_year_target is not None:
            target, on_mid_year_target = mid_year_target, True
        elif cumulative:
            target = None
        compared = not (cumulative and same_period_value is None and mid_year_target is None)
    if baseline is not None:
        baseline = _finite(baseline, f"indicator {code}: value of {year - 1}")
    if target is not None:
        target = _finite(target, f"indicator {code}: target")
    if value is None:
        # fields in IndicatorScore's order
        return _new_tuple(
            IndicatorScore,
            (code, QUANTITATIVE, 0.0, True, None, baseline, target, None, direction, None,
             None, None, name, section, weight, None, compared, mid_year, same_period,
             on_mid_year_target),
        )  # fmt: skip
    value = _finite(value, f"indicator {code}: value")

    change: float | None = None
    if not compared or baseline is None or baseline == 0:
        trend = float(rule.no_baseline)
    else:
        # Capped so that a near-zero baseline cannot overflow to infinity (not valid JSON).
        raw = max(-_CHANGE_CAP, min(_CHANGE_CAP, (value - baseline) / abs(baseline) * 100.0))
        change = -raw if direction == LOWER else raw
        trend = _clamp(rule.at_par + rule.points_per_percent * change)

    target_points: float | None = None
    share: float | None = None
    score = trend
    if target is not None:
        target_points = _target_score(value, target, direction)
        share = rule.target_share
        # clamped: a blend of two scores within 0–100 can leave it by a rounding step
        score = _clamp(share * target_points + (1 - share) * trend)
    return _new_tuple(
        IndicatorScore,
        (code, QUANTITATIVE, score, False, value, baseline, target, None, direction, change,
         trend, target_points, name, section, weight, share, compared, mid_year, same_period,
         on_mid_year_target),
    )  # fmt: skip


def score_indicator(indicator: IndicatorInput, *, year: int, scoring: Scoring) -> IndicatorScore:
    """Score one indicator by its kind."""
    kind = indicator.kind
    if kind == QUALITATIVE:
        return _qualitative_score(
            indicator.level,
            scoring.qualitative,
            indicator.code,
            indicator.name,
            indicator.section,
            indicator.weight,
        )
    if kind == QUANTITATIVE:
        rule = scoring.quantitative
        mid_year = indicator.mid_year
        return _quantitative_score(
            indicator.value,
            indicator.history,
            year,
            indicator.direction,
            indicator.target,
            rule,
            indicator.code,
            indicator.name,
            indicator.section,
            indicator.weight,
            mid_year,
            mid_year and is_cumulative(indicator.unit, indicator.cumulative, rule),
            indicator.same_period,
            indicator.mid_year_target,
        )
    raise ValueError(f"indicator {indicator.code}: unknown kind {indicator.kind!r}")


# ---------------------------------------------------------------- components


@dataclass(frozen=True)
class SectionSubtotal:
    section: str
    score: float
    weight: float
    indicators: int
    missing: int


@dataclass(frozen=True)
class LedgerScore:
    """The ledger component: weighted mean of indicator scores, with section subtotals."""

    score: float | None
    sections: tuple[SectionSubtotal, ...]
    indicators: tuple[IndicatorScore, ...]


def _mean_of(weights: list[float], products: list[float]) -> float | None:
    """The weighted mean from the weights and the weight × score products; None when
    nothing has weight."""
    total_weight = sum(weights)
    if total_weight <= 0:
        return None
    return sum(products) / total_weight


def score_ledger(indicators: Sequence[IndicatorScore]) -> LedgerScore:
    """Weighted mean of the indicator scores; None when there is nothing (of weight) to assess."""
    # one pass over the indicators (one per indicator of a phase): weights, products and
    # missing counts gathered for the whole ledger and per section, then summed in order
    isfinite = math.isfinite
    weights: list[float] = []
    products: list[float] = []
    by_section: dict[str, tuple[list[float], list[float], list[bool]]] = {}
    for ind in indicators:
        weight = ind.weight
        if weight < 0 or not isfinite(weight):
            raise ValueError(f"indicator {ind.code}: weight must be >= 0, got {weight!r}")
        product = weight * ind.score
        weights.append(weight)
        products.append(product)
        group = by_section.get(ind.section)
        if group is None:
            group = by_section[ind.section] = ([], [], [])
        group[0].append(weight)
        group[1].append(product)
        group[2].append(ind.missing)
    sections = []
    for section in sorted(by_section):
        section_weights, section_products, missing = by_section[section]
        mean = _mean_of(section_weights, section_products)
        if mean is None:
            continue
        sections.append(
            SectionSubtotal(
                section=section,
                score=mean,
                weight=sum(section_weights),
                indicators=len(section_weights),
                missing=missing.count(True),
            )
        )
    return LedgerScore(
        score=_mean_of(weights, products),
        sections=tuple(sections),
        indicators=tuple(indicators),
    )


@dataclass(frozen=True)
class StaffingCheckInput:
    """One staffing check (StaffingCheck row): kind is a StaffingCheckKind value."""

    kind: str
    problems: int
    problem_type: str | None = None
    note: str = ""


@dataclass(frozen=True)
class StaffingCheckScore:
    kind: str
    problems: int
    score: float
    note: str = ""


@dataclass(frozen=True)
class StaffingScore:
    score: float | None
    checks: tuple[StaffingCheckScore, ...]
    not_assessed: tuple[str, ...]


def score_staffing(checks: Sequence[StaffingCheckInput], rule: StaffingRule) -> StaffingScore:
    """Mean of the checks carried out, each pass_score − problems × deduction (not below 0)."""
    seen: dict[str, StaffingCheckScore] = {}
    for check in checks:
        if check.kind not in STAFFING_LABELS:
            raise ValueError(f"unknown staffing check kind {check.kind!r}")
        if check.kind in seen:
            raise ValueError(f"staffing check {check.kind!r} given twice")
        if check.problems < 0:
            raise ValueError(f"staffing check {check.kind!r}: problems must be >= 0")
        score = max(0.0, rule.pass_score - check.problems * rule.deduction_per_problem)
        seen[check.kind] = StaffingCheckScore(check.kind, check.problems, score, check.note)
    ordered = tuple(seen[k] for k in STAFFING_LABELS if k in seen)
    return StaffingScore(
        score=sum(c.score for c in ordered) / len(ordered) if ordered else None,
        checks=ordered,
        not_assessed=tuple(k for k in STAFFING_LABELS if k not in seen),
    )


@dataclass(frozen=True)
class CentralScore:
    score: float | None
    links: tuple[LinkResult, ...]


def score_central_tasks(links: Sequence[LinkResult]) -> CentralScore:
    """Mean of the department's own delivered % over its chains; None when it has none."""
    return CentralScore(
        score=sum(link.score for link in links) / len(links) if links else None,
        links=tuple(links),
    )


# ---------------------------------------------------------------- satisfaction


@dataclass(frozen=True)
class SatisfactionInput:
    """Ratings of one department in one phase.

    town / peer: one tuple per rating with its five dimensions (1..rating_scale_max);
    public: PublicLevel values; hotline_on_time: one flag per 12345 case (closed by its due date).
    """

    town: Sequence[Sequence[float]] = ()
    peer: Sequence[Sequence[float]] = ()
    public: Sequence[str] = ()
    hotline_on_time: Sequence[bool] = ()


@dataclass(frozen=True)
class SatisfactionPart:
    """One of town / peer / public. A suppressed part shows neither its score nor its count."""

    name: str
    score: float | None
    raters: int | None
    suppressed: bool
    weight: float
    effective_weight: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "raters": self.raters,
            "suppressed": self.suppressed,
            "weight": self.weight,
            "effective_weight": self.effective_weight,
            **self.details,
        }


@dataclass(frozen=True)
class SatisfactionScore:
    score: float | None
    parts: tuple[SatisfactionPart, ...]
    min_raters: int


def _rating_to_100(row: Sequence[float], scale_max: float, part: str) -> float:
    if not row:
        raise ValueError(f"{part} rating without dimensions")
    for v in row:
        if not (math.isfinite(v) and 1 <= v <= scale_max):
            raise ValueError(f"{part} rating {v!r} outside 1–{_num(scale_max)}")
    return (sum(row) / len(row) - 1) / (scale_max - 1) * 100.0


def _aggregate(scores: Sequence[float], min_raters: int) -> tuple[float | None, int | None, bool]:
    """(mean, count, suppressed); under min_raters the mean and the count are withheld."""
    if not scores:
        return None, 0, False
    if len(scores) < min_raters:
        return None, None, True
    return sum(scores) / len(scores), len(scores), False


def score_satisfaction(
    ratings: SatisfactionInput, rule: SatisfactionRule, rating_scale_max: float
) -> SatisfactionScore:
    """Combine town, peer and public parts; suppressed or empty parts give up their weight."""
    level_points = {
        "satisfied": rule.satisfied,
        "basically_satisfied": rule.basically_satisfied,
        "unsatisfied": rule.unsatisfied,
    }
    for level in ratings.public:
        if level not in level_points:
            raise ValueError(f"unknown public satisfaction level {level!r}")
    town = _aggregate(
        [_rating_to_100(r, rating_scale_max, "town") for r in ratings.town], rule.min_raters
    )
    peer = _aggregate(
        [_rating_to_100(r, rating_scale_max, "peer") for r in ratings.peer], rule.min_raters
    )
    public_ratings = _aggregate([level_points[x] for x in ratings.public], rule.min_raters)
    hotline = _aggregate(
        [100.0 if on_time else 0.0 for on_time in ratings.hotline_on_time], rule.min_raters
    )

    # The public part blends citizens' ratings with the hotline on-time rate; either alone
    # stands for the whole part when the other is absent or suppressed.
    h = rule.hotline_in_public if hotline[0] is not None else 0.0
    public_score: float | None
    if public_ratings[0] is not None:
        public_score = (1 - h) * public_ratings[0] + h * (hotline[0] or 0.0)
    elif hotline[0] is not None and rule.hotline_in_public > 0:
        public_score = hotline[0]
    else:
        public_score = None
    public_details = {
        "ratings": {
            "score": public_ratings[0],
            "raters": public_ratings[1],
            "suppressed": public_ratings[2],
        },
        "hotline": {
            "on_time_pct": hotline[0],
            "cases": hotline[1],
            "suppressed": hotline[2],
            "share_in_public": rule.hotline_in_public,
        },
    }
    public = (
        public_score,
        public_ratings[1],
        public_score is None and (public_ratings[2] or hotline[2]),
    )

    parts_raw = {"town": town, "peer": peer, "public": public}
    weights = {"town": rule.town, "peer": rule.peer, "public": rule.public}
    present = {k: weights[k] for k, v in parts_raw.items() if v[0] is not None}
    present_weight = sum(present.values())
    parts = []
    for name, (score, raters, suppressed) in parts_raw.items():
        effective = present[name] / present_weight if name in present and present_weight else 0.0
        parts.append(
            SatisfactionPart(
                name=name,
                score=score,
                raters=raters,
                suppressed=suppressed,
                weight=weights[name],
                effective_weight=effective,
                details=public_details if name == "public" else {},
            )
        )
    total = (
        sum(p.effective_weight * p.score for p in parts if p.score is not None)
        if present_weight > 0
        else None
    )
    return SatisfactionScore(score=total, parts=tuple(parts), min_raters=rule.min_raters)


# ---------------------------------------------------------------- department total


@dataclass(frozen=True)
class DepartmentInput:
    """Everything assessed of one department in one phase (central tasks come from chains)."""

    code: str
    name: str = ""
    category: str = ""
    indicators: Sequence[IndicatorInput] = ()
    staffing: Sequence[StaffingCheckInput] = ()
    satisfaction: SatisfactionInput = SatisfactionInput()
    # last year's items carried into this year by the re-check (次年复查): they count again
    carried_items: int = 0


@dataclass(frozen=True)
class ComponentScore:
    """A component of the total: its score (None: nothing to assess) and weights."""

    score: float | None
    weight: float
    effective_weight: float
    details: dict[str, Any]


def combine(
    components: Mapping[str, float | None], weights: Weights
) -> tuple[float | None, dict[str, float]]:
    """Weighted sum of the components; absent ones give their weight to the others pro rata.

    Returns the total (None if nothing was assessed) and the effective weight of each component.
    """
    nominal = {name: float(getattr(weights, name)) for name in COMPONENTS}
    scores = {n: s for n in COMPONENTS if (s := components.get(n)) is not None}
    present_weight = sum(nominal[n] for n in scores)
    if present_weight <= 0:
        return None, dict.fromkeys(COMPONENTS, 0.0)
    effective = {n: (nominal[n] / present_weight if n in scores else 0.0) for n in COMPONENTS}
    total = sum(effective[n] * s for n, s in scores.items())
    return total, effective


@dataclass(frozen=True)
class DepartmentScore:
    """A department's score in a phase, with everything needed to explain it."""

    code: str
    name: str
    category: str
    total: float | None
    components: dict[str, ComponentScore]
    indicators: list[IndicatorScore]
    sections: tuple[SectionSubtotal, ...] = ()
    staffing: StaffingScore | None = None
    central: CentralScore | None = None
    satisfaction: SatisfactionScore | None = None

    @property
    def total_display(self) -> str:
        return display(self.total)

    def component(self, name: str) -> float | None:
        return self.components[name].score

    def compact(self) -> dict[str, Any]:
        """The breakdown as stored (DepartmentAssessment.breakdown): numbers and codes, values
        at their defaults left out; equal to ``self.breakdown().to_json()``, built without
        validating (it is built for every department of a phase)."""
        out: dict[str, Any] = {"code": self.code}
        if self.name:
            out["name"] = self.name
        if self.total is not None:
            out["total"] = self.total
        out["components"] = {
            name: _compact_component(name, c) for name, c in self.components.items()
        }
        if self.indicators:
            out["indicators"] = [i.compact() for i in self.indicators]
        return out

    def breakdown(self) -> Breakdown:
        """The typed breakdown down to the indicator; its prose is rendered when read
        (bihuan.core.breakdown.with_prose)."""
        return Breakdown.from_json(self.compact())

    def explain(self) -> str:
        """Chinese text answering "why did we get 71.4" (see bihuan.core.breakdown.explain)."""
        return explain(self.breakdown())


def _compact_component(name: str, c: ComponentScore) -> dict[str, Any]:
    """A component as stored, nested lines included, values at their defaults left out."""
    d = dict(c.details)
    if "sections" in d:
        d["sections"] = [lean(SectionLine, x) for x in d["sections"]]
    if "checks" in d:
        d["checks"] = [lean(StaffingCheckLine, x) for x in d["checks"]]
    if "links" in d:
        d["links"] = [
            lean(ChainLinkLine, {**x, "chain": [lean(ChainLinkView, v) for v in x["chain"]]})
            for x in d["links"]
        ]
    if "parts" in d:
        d["parts"] = {k: _compact_part(p) for k, p in d["parts"].items()}
    return lean(
        ComponentLine,
        {"score": c.score, "weight": c.weight, "effective_weight": c.effective_weight, **d},
    )


def _compact_part(part: dict[str, Any]) -> dict[str, Any]:
    part = dict(part)
    if part.get("ratings") is not None:
        part["ratings"] = lean(RatingsLine, part["ratings"])
    if part.get("hotline") is not None:
        part["hotline"] = lean(HotlineLine, part["hotline"])
    return lean(PartLine, part)


def carried_deduction(ledger: float | None, carried_items: int, scoring: Scoring) -> float | None:
    """Ledger score after the carried-item deduction (上年度问题延续扣分), never below 0.

    Each of last year's items carried by the re-check takes ``carried_penalty`` points off the
    ledger component; a department with no ledger to assess has nothing to deduct from.
    每项上年度未整改到位、经次年复查延续的问题,从主责主业履职成效得分中扣 carried_penalty 分,扣完为止。
    """
    if ledger is None or carried_items <= 0:
        return ledger
    return max(0.0, ledger - scoring.carried_penalty * carried_items)


def score_department(
    department: DepartmentInput,
    *,
    year: int,
    scoring: Scoring,
    links: Sequence[LinkResult] = (),
) -> DepartmentScore:
    """Score one department in one phase; `links` are its results from chain.assess_chains."""
    indicators = [score_indicator(i, year=year, scoring=scoring) for i in department.indicators]
    ledger = score_ledger(indicators)
    staffing = score_staffing(department.staffing, scoring.staffing)
    central = score_central_tasks(links)
    satisfaction = score_satisfaction(
        department.satisfaction, scoring.satisfaction, scoring.rating_scale_max
    )
    ledger_score = carried_deduction(ledger.score, department.carried_items, scoring)
    scores = {
        "ledger": ledger_score,
        "staffing": staffing.score,
        "central_tasks": central.score,
        "satisfaction": satisfaction.score,
    }
    total, effective = combine(scores, scoring.weights)
    details: dict[str, dict[str, Any]] = {
        "ledger": {
            "sections": [
                {
                    "section": s.section,
                    "score": s.score,
                    "weight": s.weight,
                    "indicators": s.indicators,
                    "missing": s.missing,
                }
                for s in ledger.sections
            ],
            "missing": sum(1 for i in indicators if i.missing),
            "indicator_mean": ledger.score,
            "carried_items": department.carried_items,
            "carried_penalty": scoring.carried_penalty,
            "target_share": scoring.quantitative.target_share,
        },
        "staffing": {
            "checks": [
                {"kind": c.kind, "problems": c.problems, "score": c.score} for c in staffing.checks
            ],
            "not_assessed": list(staffing.not_assessed),
        },
        "central_tasks": {
            "links": [link.as_dict() for link in central.links],
            "attribution_below": scoring.chain.attribution_below,
        },
        "satisfaction": {
            "min_raters": satisfaction.min_raters,
            "parts": {p.name: p.as_dict() for p in satisfaction.parts},
        },
    }
    components = {
        name: ComponentScore(
            score=scores[name],
            weight=float(getattr(scoring.weights, name)),
            effective_weight=effective[name],
            details=details[name],
        )
        for name in COMPONENTS
    }
    return DepartmentScore(
        code=department.code,
        name=department.name,
        category=department.category,
        total=total,
        components=components,
        indicators=indicators,
        sections=ledger.sections,
        staffing=staffing,
        central=central,
        satisfaction=satisfaction,
    )


def score_departments(
    departments: Iterable[DepartmentInput],
    tasks: Iterable[CentralTaskInput],
    *,
    year: int,
    scoring: Scoring,
) -> tuple[dict[str, DepartmentScore], list[ChainResult]]:
    """Score a whole phase: assess the chains, then every department; keyed by department code."""
    chains, links = assess_chains(tasks, scoring.chain)
    scores = {
        d.code: score_department(d, year=year, scoring=scoring, links=links.get(d.code, ()))
        for d in departments
    }
    return scores, chains


def annual_score(
    mid_year: float | None, year_end: float | None, year_end_weight: float
) -> float | None:
    """Annual score = (1 − w) × mid-year + w × year-end; one phase alone stands for the year."""
    if mid_year is None:
        return year_end
    if year_end is None:
        return mid_year
    return (1 - year_end_weight) * mid_year + year_end_weight * year_end
