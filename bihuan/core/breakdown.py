"""The breakdown of a department's score, down to the indicator: one typed contract.

Scoring (bihuan/core/scoring.py) writes it, `DepartmentAssessment.breakdown` stores it as JSON
(`Breakdown.to_json()`), and everything that reads a stored score — findings, the re-check,
the report, `bihuan scores --department`, the portal — reads it back through
`Breakdown.from_json()`, never by walking dicts. `explain()` turns it into the Chinese text
that answers "why did we get 71.4"; it is built when someone asks, not stored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bihuan.vocab import (
    Component,
    IndicatorKind,
    LinkRole,
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
    rule: str = ""
    # False for a cumulative indicator at mid-year with no same-period value or mid-year
    # target: nothing like-for-like to compare with, so it cannot fail.
    compared: bool = True

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
    # staffing
    checks: list[StaffingCheckLine] = Field(default_factory=list)
    not_assessed: list[str] = Field(default_factory=list)
    # central tasks
    links: list[ChainLinkLine] = Field(default_factory=list)
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
        return self.model_dump(mode="json", exclude_defaults=False)

    def component(self, name: Component | str) -> ComponentLine:
        return self.components.get(str(name)) or ComponentLine()

    @property
    def chain_links(self) -> list[ChainLinkLine]:
        return self.component(Component.CENTRAL_TASKS).links

    def failed_indicators(self, below: float) -> list[IndicatorLine]:
        return [i for i in self.indicators if i.failed(below)]


# ------------------------------------------------------------------ the explanation ("why 71.4")


def explain(b: Breakdown, name: str = "") -> str:
    """Chinese text answering "why did we get 71.4": the total, then each component."""
    from bihuan.core.scoring import _num, _pct, display

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
