"""The breakdown of a department's score, down to the indicator: one typed contract.

Scoring (bihuan/core/scoring.py) writes it, `DepartmentAssessment.breakdown` stores it as JSON
(`Breakdown.to_json()`), and everything that reads a stored score — findings, the re-check,
the report, `bihuan scores --department`, the portal — reads it back through
`Breakdown.from_json()`, never by walking dicts.

The stored breakdown holds numbers and codes only. The Chinese prose — each indicator's rule
(`indicator_rule`), each chain link's attribution (`link_attribution`), the labels, and the
whole "why did we get 71.4" text (`explain`) — is rendered from those numbers when someone asks
(`with_prose`, used by `services.assessment.score_explanation` for the CLI, the portal and the
API), never for every department at scoring time. Rows stored before migration 0012 still carry
their prose; it is kept as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bihuan.vocab import (
    Component,
    Direction,
    IndicatorKind,
    LinkRole,
    QualitativeLevel,
    SatisfactionPart,
    StaffingCheckKind,
)


class _Model(BaseModel):
    # Stored JSON written by older versions may carry keys this version does not know.
    model_config = ConfigDict(extra="ignore", frozen=True)


class IndicatorLine(_Model):
    code: str
    name: str = ""
    section: str = ""
    kind: str
    weight: float = 1.0
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
    # Rendered on read by with_prose(); stored only by versions before migration 0012.
    rule: str = ""
    # False for a cumulative indicator at mid-year with no same-period value or mid-year
    # target: nothing like-for-like to compare with, so it cannot fail.
    compared: bool = True
    # a mid-year score (本期), against the same period last year (上年同期) and/or a mid-year
    # target (年中目标): what the prose names
    mid_year: bool = False
    same_period: bool = False
    mid_year_target: bool = False

    def failed(self, below: float) -> bool:
        """Not submitted, or compared and scored below the findings threshold."""
        return self.missing or (self.compared and self.score < below)


class SectionLine(_Model):
    section: str
    score: float
    weight: float
    indicators: int
    missing: int


class ChainLinkView(_Model):
    """A link of a chain as every partner sees it."""

    department: str
    role: str
    delivered_pct: float
    missing: bool = False
    responsible: bool = False
    shortfall: str = ""


class ChainLinkLine(_Model):
    """The department's own link on one central task, with the whole chain."""

    task_code: str
    task_name: str
    department: str
    role: str
    score: float
    missing: bool = False
    responsible: bool = False
    attribution: str = ""
    chain_score: float | None = None
    chain: list[ChainLinkView] = Field(default_factory=list)
    # attribution: rendered on read by with_prose(); stored only before migration 0012

    def own_shortfall(self) -> str:
        for view in self.chain:
            if view.department == self.department:
                return view.shortfall
        return ""


class StaffingCheckLine(_Model):
    kind: str
    problems: int
    score: float


class RatingsLine(_Model):
    score: float | None = None
    raters: int | None = None
    suppressed: bool = False


class HotlineLine(_Model):
    on_time_pct: float | None = None
    cases: int | None = None
    suppressed: bool = False
    share_in_public: float = 0.0


class PartLine(_Model):
    """One of the three evaluations; a suppressed part shows neither score nor count."""

    score: float | None = None
    raters: int | None = None
    suppressed: bool = False
    weight: float = 0.0
    effective_weight: float = 0.0
    ratings: RatingsLine | None = None
    hotline: HotlineLine | None = None


class ComponentLine(_Model):
    label: str = ""
    score: float | None = None
    weight: float = 0.0
    effective_weight: float = 0.0
    # ledger
    sections: list[SectionLine] = Field(default_factory=list)
    missing: int = 0
    indicator_mean: float | None = None
    carried_items: int = 0
    carried_penalty: float = 0.0
    target_share: float | None = None  # of a target in a quantitative indicator's score
    # staffing
    checks: list[StaffingCheckLine] = Field(default_factory=list)
    not_assessed: list[str] = Field(default_factory=list)
    # central tasks
    links: list[ChainLinkLine] = Field(default_factory=list)
    attribution_below: float | None = None  # a link below this delivered % is responsible
    # satisfaction
    min_raters: int = 0
    parts: dict[str, PartLine] = Field(default_factory=dict)


class Breakdown(_Model):
    """Everything a stored score is made of."""

    code: str
    name: str = ""
    total: float | None = None
    total_display: str = ""
    components: dict[str, ComponentLine] = Field(default_factory=dict)
    indicators: list[IndicatorLine] = Field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Breakdown:
        return cls.model_validate(data or {"code": ""})

    def to_json(self) -> dict[str, Any]:
        """As stored: values at their defaults left out (a breakdown as scoring makes it has
        no prose; one that went through with_prose() is for reading, not for storing)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def component(self, name: Component | str) -> ComponentLine:
        return self.components.get(str(name)) or ComponentLine()

    @property
    def chain_links(self) -> list[ChainLinkLine]:
        return self.component(Component.CENTRAL_TASKS).links

    def failed_indicators(self, below: float) -> list[IndicatorLine]:
        return [i for i in self.indicators if i.failed(below)]


# ------------------------------------------------------------------ stored compactly


_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    found = _DEFAULTS.get(model)
    if found is None:
        found = {
            name: f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
            for name, f in model.model_fields.items()
            if not f.is_required()
        }
        _DEFAULTS[model] = found
    return found


def lean(model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """`values` of a line of `model` without the ones at its defaults (what to_json() keeps)."""
    defaults = _defaults(model)
    return {k: v for k, v in values.items() if k not in defaults or v != defaults[k]}


def encode(stored: dict[str, Any]) -> str:
    """The stored breakdown as JSON text: what is written to the column, and hashed."""
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def digest(encoded: str) -> str:
    """The breakdown's hash (DepartmentAssessment.breakdown_hash): a re-run compares it, not
    the JSON, to decide whether a stored score changed."""
    return hashlib.sha256(encoded.encode()).hexdigest()


# ------------------------------------------------------------------ the prose, on demand


class IndicatorFacts(Protocol):
    """What an indicator's rule is written from (an IndicatorLine or a scoring.IndicatorScore)."""

    @property
    def kind(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def missing(self) -> bool: ...
    @property
    def value(self) -> float | None: ...
    @property
    def baseline(self) -> float | None: ...
    @property
    def target(self) -> float | None: ...
    @property
    def level(self) -> str | None: ...
    @property
    def direction(self) -> str | None: ...
    @property
    def change_pct(self) -> float | None: ...
    @property
    def trend_score(self) -> float | None: ...
    @property
    def target_score(self) -> float | None: ...
    @property
    def compared(self) -> bool: ...
    @property
    def mid_year(self) -> bool: ...
    @property
    def same_period(self) -> bool: ...
    @property
    def mid_year_target(self) -> bool: ...


def indicator_rule(line: IndicatorFacts, target_share: float | None) -> str:
    """The short Chinese explanation of one indicator's score, from its stored numbers.

    `target_share` is the share of the target score (``[scoring.quantitative] target_share``,
    stored once per breakdown), needed only for a quantitative indicator with a target."""
    from bihuan.core.scoring import _num, _pct

    if line.kind == IndicatorKind.QUALITATIVE.value:
        if line.level is None:
            return "未报送,得0分"
        return f"{QualitativeLevel(line.level).label},得分{_num(line.score)}"
    if line.missing or line.value is None:
        return "未报送数据,得0分"
    trend = line.trend_score if line.trend_score is not None else line.score
    baseline, value = line.baseline, line.value
    last = "上年同期" if line.same_period else "上年"
    now = "本期" if line.mid_year else "本年"
    if not line.compared:
        trend_text = f"累计指标,年中无同期值和年中目标,不与全年数值比较,趋势得分按{_num(trend)}分计"
    elif baseline is None or baseline == 0:
        why = f"{last}无数据" if baseline is None else f"{last}为0"
        trend_text = f"{why},趋势得分按{_num(trend)}分计"
    else:
        change = line.change_pct or 0.0
        lower = line.direction == Direction.LOWER_BETTER.value
        # change_pct is stored the way that counts (improvement > 0); the raw move is its sign
        raw = -change if lower else change
        moved = "持平" if raw == 0 else f"{'提高' if raw > 0 else '下降'}{_num(abs(raw))}%"
        better = ""
        if lower and raw != 0:
            better = f"(越低越好,{'改善' if change > 0 else '退步'}{_num(abs(change))}%)"
        trend_text = (
            f"{last}{_num(baseline)},{now}{_num(value)},较{last}{moved}{better},"
            f"趋势得分{_num(trend)}"
        )
    if line.target is None:
        return f"{trend_text},得分{_num(trend)}"
    share = target_share if target_share is not None else _DEFAULT_TARGET_SHARE
    target_word = "年中目标" if line.mid_year_target else "目标"
    return (
        f"{trend_text};{target_word}{_num(line.target)},目标得分{_num(line.target_score or 0.0)};"
        f"得分 = 目标得分×{_pct(share)} + 趋势得分×{_pct(1 - share)} = {_num(line.score)}"
    )


# The policy's defaults, for a breakdown that does not say (it then carries its prose anyway).
_DEFAULT_TARGET_SHARE = 0.5
_DEFAULT_ATTRIBUTION_BELOW = 80.0


def _fmt1(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def link_attribution(
    *,
    role: str,
    missing: bool,
    delivered_pct: float,
    responsible: bool,
    shortfall: str,
    chain_score: float | None,
    attribution_below: float,
    responsible_departments: Sequence[str],
) -> str:
    """A Chinese sentence on one link's share of its chain's shortfall (链条式评估)."""
    label = LinkRole(role).label
    own = "未报送完成情况,按0%计" if missing else f"本环节完成{_fmt1(delivered_pct)}%"
    chain_part = f"链条得分{_fmt1(chain_score or 0.0)}"
    if responsible:
        why = f",低于归责线{_fmt1(attribution_below)}%,链条短板归责于本环节"
        if shortfall:
            why += f"(短板:{shortfall})"
        return f"{label}{own}{why};{chain_part}。"
    if chain_score is not None and chain_score < 100.0:
        others = "、".join(responsible_departments)
        tail = f"短板归责于:{others}" if others else "各环节均不低于归责线,不归责到具体环节"
        return f"{label}{own},未低于归责线{_fmt1(attribution_below)}%;{chain_part},{tail}。"
    return f"{label}{own};{chain_part},链条全面完成。"


def _link_text(link: ChainLinkLine, attribution_below: float | None) -> str:
    if link.attribution:  # stored before migration 0012
        return link.attribution
    return link_attribution(
        role=link.role,
        missing=link.missing,
        delivered_pct=link.score,
        responsible=link.responsible,
        shortfall=link.own_shortfall(),
        chain_score=link.chain_score,
        attribution_below=(
            _DEFAULT_ATTRIBUTION_BELOW if attribution_below is None else attribution_below
        ),
        responsible_departments=[v.department for v in link.chain if v.responsible],
    )


def with_prose(b: Breakdown) -> Breakdown:
    """The breakdown as people read it: labels, the total as displayed, each indicator's rule
    and each chain link's attribution rendered from the stored numbers (prose a row stored
    before migration 0012 already carries is kept)."""
    from bihuan.core.scoring import display

    ledger = b.component(Component.LEDGER)
    components = {}
    for name, c in b.components.items():
        update: dict[str, Any] = {"label": c.label or Component(name).label}
        if name == Component.CENTRAL_TASKS.value:
            update["links"] = [
                link.model_copy(update={"attribution": _link_text(link, c.attribution_below)})
                for link in c.links
            ]
        components[name] = c.model_copy(update=update)
    indicators = [
        i if i.rule else i.model_copy(update={"rule": indicator_rule(i, ledger.target_share)})
        for i in b.indicators
    ]
    return b.model_copy(
        update={
            "total_display": b.total_display or display(b.total),
            "components": components,
            "indicators": indicators,
        }
    )


def explain(b: Breakdown, name: str = "") -> str:
    """Chinese text answering "why did we get 71.4": the total, then each component."""
    from bihuan.core.scoring import _num, _pct, display

    b = with_prose(b)
    title = f"{name or b.name}({b.code})" if (name or b.name) else b.code
    if b.total is None:
        return f"{title}本阶段无任何评估内容,不计总分。"
    lines = [f"{title}总分 {display(b.total)} 分。", "总分 = 各部分得分 × 权重之和:"]
    redistributed = False
    for comp in Component:
        c = b.component(comp)
        if c.score is None:
            redistributed = redistributed or c.weight > 0
            lines.append(
                f"  {comp.label}:本阶段无评估内容,其权重{_pct(c.weight)}按比例分给其他部分"
            )
        else:
            lines.append(
                f"  {comp.label}:{display(c.score)} 分 × {_pct(c.effective_weight)}"
                f" = {display(c.score * c.effective_weight)}"
            )
    if redistributed:
        lines.append("  (上列权重为按比例调整后的实际权重)")
    lines.append("  (计算保留全部精度,各项显示时四舍五入保留一位小数,合计可能相差0.1)")

    ledger = b.component(Component.LEDGER)
    lines.append(f"一、主责主业履职成效 {display(ledger.score)} 分(各指标得分按指标权重加权平均)")
    if ledger.carried_items:
        lines.append(
            f"  其中上年度问题延续{ledger.carried_items}项,每项扣"
            f"{_num(ledger.carried_penalty)}分(指标加权平均"
            f"{display(ledger.indicator_mean)}分)"
        )
    for sec in ledger.sections:
        missing = f",其中{sec.missing}项未报送" if sec.missing else ""
        lines.append(
            f"  科室 {sec.section or '(未分科室)'}:小计 {display(sec.score)} 分"
            f"({sec.indicators}项指标{missing})"
        )
        for ind in b.indicators:
            if ind.section == sec.section:
                kind = IndicatorKind(ind.kind).label
                text = f"{ind.code} {ind.name}".strip()
                lines.append(f"    · {text}({kind},权重{_num(ind.weight)}):{ind.rule}")

    staffing = b.component(Component.STAFFING)
    lines.append(f"二、机构编制执行情况 {display(staffing.score)} 分(已检查项目平均)")
    for check in staffing.checks:
        lines.append(
            f"  · {StaffingCheckKind(check.kind).label}:发现问题{check.problems}个,"
            f"得分{_num(check.score)}"
        )
    for kind in staffing.not_assessed:
        lines.append(f"  · {StaffingCheckKind(kind).label}:未检查,不计入平均")

    central = b.component(Component.CENTRAL_TASKS)
    lines.append(
        f"三、中心工作(链条式评估){display(central.score)} 分(本部门在各链条中的完成率平均)"
    )
    for link in central.links:
        chain = "、".join(
            f"{v.department}({LinkRole(v.role).label}){_num(v.delivered_pct)}%" for v in link.chain
        )
        lines.append(f"  · {link.task_code} {link.task_name}:{link.attribution}")
        lines.append(f"    全链条:{chain}")

    sat = b.component(Component.SATISFACTION)
    lines.append(f"四、三评满意度 {display(sat.score)} 分")
    for part_name in SatisfactionPart:
        part = sat.parts.get(part_name.value)
        if part is None:
            continue
        if part.suppressed:
            lines.append(
                f"  · {part_name.label}:评价人数少于{sat.min_raters}人,不予公开、不计分,"
                f"权重{_pct(part.weight)}按比例分给其他评价"
            )
        elif part.score is None:
            lines.append(f"  · {part_name.label}:无评价,权重{_pct(part.weight)}按比例分给其他评价")
        else:
            raters = f"{part.raters}人评价" if part.raters else "无有效群众评价"
            lines.append(
                f"  · {part_name.label}:{display(part.score)} 分({raters}),"
                f"实际权重{_pct(part.effective_weight)}"
            )
            hotline = part.hotline
            if hotline and hotline.on_time_pct is not None and hotline.share_in_public:
                lines.append(
                    f"    含12345热线按时办结率{display(hotline.on_time_pct)}%"
                    f"({hotline.cases}件,占群众评价{_pct(hotline.share_in_public)})"
                )
    return "\n".join(lines)
