"""Findings (问题) from a phase's assessment, by the rules in config/policy.toml [findings].

Pure: the shell gathers each department's facts (its scored indicators, submission status,
staffing checks, satisfaction, hotline cases, chain links, carried items) into
``DepartmentFacts``; ``derive_findings`` turns them into ``FindingDraft``s with a natural key,
so a re-run finds the same keys and never duplicates a finding.

Rules, as a coordinator would say them:

- the department did not submit in the window, or left indicators out → one serious finding
  per department and phase (材料未按时报送 / 部分指标未报送) listing the indicators, never one
  per indicator;
- a submitted indicator scoring below ``indicator_fail_below`` (60) → a finding; serious (严重)
  below ``high_severity_below`` (30), otherwise ordinary (一般); a cumulative indicator not
  compared at mid-year (no 同期值 / 年中目标) is never failed;
- a staffing check with problems → a finding per check; serious from 2 problems on;
- satisfaction below ``satisfaction_low_below`` (70) → a finding (suppressed parts never count);
- more than ``hotline_late_share_above`` (10 %) of at least ``hotline_min_cases`` 12345 cases
  closed late or not at all → a finding; serious above twice that share;
- a chain shortfall attributed to the department (链条短板) → a finding;
- last year's item carried by the re-check (上年度问题未整改到位) → a serious finding.

Keys: ``<phase>:<rule>:<subject>`` (e.g. ``mid-year:indicator:D01-S1-03``). At year-end a finding
whose mid-year twin still has an open rectification item is not raised again, nor, in any phase,
one whose subject an agreed cannot-solve item covers while its alternative stands
(``open_subjects``, gathered by the shell).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bihuan.core.scoring import STAFFING_LABELS as CHECK_LABELS
from bihuan.policy import FindingRules
from bihuan.vocab import FindingCategory, PhaseKind, Severity, StaffingProblem

PHASE_LABELS = {m.value: m.label for m in PhaseKind}
PROBLEM_LABELS = {m.value: m.label for m in StaffingProblem}
# Measures (整改措施) written into each finding; `{office}` is the signing office of the
# jurisdiction (config [office], policy.office_name).
MEASURES: dict[str, str] = {
    FindingCategory.INDICATOR: "对照履职台账查找差距,制定整改措施,明确责任科室、责任人和完成时限,按期报送整改情况及佐证材料。",
    FindingCategory.MISSING_SUBMISSION: "补报本阶段履职成效材料,说明未按时报送原因,建立材料报送责任制。",
    FindingCategory.STAFFING: "对照“三定”规定和机构编制批复文件逐项整改,整改情况报{office}。",
    FindingCategory.SATISFACTION: "梳理镇街道、部门和群众反映的问题,制定改进作风、提升效能的具体措施。",
    FindingCategory.HOTLINE: "逐件复核超时工单,健全12345热线受理件办理和督办机制,确保按时办结。",
    FindingCategory.CENTRAL_TASK: "对照中心工作分工补齐本环节短板,加强与牵头部门和配合单位的协作。",
    FindingCategory.CARRIED_OVER: "上年度问题未整改到位,作为本年度监管评估重点内容,限期彻底整改。",
}


@dataclass(frozen=True)
class IndicatorFact:
    code: str
    name: str
    score: float
    missing: bool
    # False: a cumulative indicator at mid-year with nothing of the same period to compare
    # with (no 同期值, no 年中目标); it is never failed against a full-year value.
    compared: bool = True


@dataclass(frozen=True)
class StaffingFact:
    kind: str
    problems: int
    problem_type: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ChainFact:
    task_code: str
    task_name: str
    delivered_pct: float
    shortfall: str = ""


@dataclass(frozen=True)
class CarriedFact:
    """Last year's item that the re-check carries into this year (lineage kept)."""

    key: str
    title: str
    lineage: str
    prior_finding_id: int


@dataclass(frozen=True)
class DepartmentFacts:
    code: str
    submission_missing: bool = False
    window: str = ""
    indicators: Sequence[IndicatorFact] = ()
    staffing: Sequence[StaffingFact] = ()
    satisfaction: float | None = None
    hotline_cases: int = 0
    hotline_late: int = 0
    chains: Sequence[ChainFact] = ()
    carried: Sequence[CarriedFact] = ()


@dataclass(frozen=True)
class FindingDraft:
    department: str
    key: str
    category: FindingCategory
    severity: Severity
    source: str
    title: str
    measures: str
    evidence: dict[str, Any] = field(default_factory=dict)
    carried_from_id: int | None = None

    @property
    def subject(self) -> str:
        """The key without its phase: the same problem seen at mid-year and at year-end."""
        return self.key.split(":", 1)[1]


# Finding.title holds 300 characters: the indicator list is cut to fit, the full list is kept
# in the evidence.
TITLE_MAX = 300


def _listed(codes: Sequence[str], room: int) -> str:
    """`,涉及N项指标:A、B、C` cut to `room` characters (`…等N项` when cut)."""
    if not codes:
        return ""
    head = f",涉及{len(codes)}项指标:"
    shown: list[str] = []
    for code in codes:
        if len(head) + len("、".join([*shown, code])) + len(f"等{len(codes)}项") > room:
            break
        shown.append(code)
    more = "" if len(shown) == len(codes) else f"等{len(codes)}项"
    return head + "、".join(shown) + more


def _draft(
    facts: DepartmentFacts,
    office: str,
    phase: str,
    rule: str,
    subject: str,
    *,
    category: FindingCategory,
    severity: Severity,
    source: str,
    title: str,
    evidence: dict[str, Any],
    carried_from_id: int | None = None,
) -> FindingDraft:
    return FindingDraft(
        department=facts.code,
        key=f"{phase}:{rule}:{subject}" if subject else f"{phase}:{rule}",
        category=category,
        severity=severity,
        source=source,
        title=title,
        measures=MEASURES[category].format(office=office),
        evidence=evidence,
        carried_from_id=carried_from_id,
    )


def derive_findings(
    facts: DepartmentFacts,
    *,
    phase: str,
    rules: FindingRules,
    office: str,
    open_subjects: frozenset[str] = frozenset(),
) -> list[FindingDraft]:
    """The findings of one department in one phase (see the module docstring for the rules);
    `office` is who the department reports its rectification to (policy.office_name)."""
    label = PHASE_LABELS.get(phase, phase)
    out: list[FindingDraft] = []
    unsent = [ind for ind in facts.indicators if ind.missing]
    if facts.submission_missing or unsent:
        # One finding per department and phase, listing the indicators, however many.
        codes = [ind.code for ind in unsent]
        what = (
            f"{label}集中评估期内({facts.window})未报送履职成效材料"
            if facts.submission_missing
            else f"{label}集中评估期内({facts.window})部分指标未报送完成情况"
        )
        out.append(
            _draft(
                facts,
                office,
                phase,
                "submission",
                "",
                category=FindingCategory.MISSING_SUBMISSION,
                severity=Severity.HIGH,
                source=f"{label}指标采集",
                title=what + _listed(codes, TITLE_MAX - len(what)),
                evidence={"window": facts.window, "indicators": codes},
            )
        )
    if not facts.submission_missing:
        for ind in facts.indicators:
            if ind.missing or not ind.compared or ind.score >= rules.indicator_fail_below:
                continue
            severity = Severity.HIGH if ind.score < rules.high_severity_below else Severity.MEDIUM
            title = (
                f"“{ind.name}”({ind.code})得分{ind.score:.1f},低于{rules.indicator_fail_below:g}分"
            )
            out.append(
                _draft(
                    facts,
                    office,
                    phase,
                    "indicator",
                    ind.code,
                    category=FindingCategory.INDICATOR,
                    severity=severity,
                    source="主责主业履职成效核查台账",
                    title=title,
                    evidence={
                        "indicator": ind.code,
                        "score": round(ind.score, 2),
                        "missing": ind.missing,
                    },
                )
            )
    for check in facts.staffing:
        if check.problems <= 0:
            continue
        problem = PROBLEM_LABELS.get(check.problem_type or "", "存在问题")
        note = f":{check.note}" if check.note else ""
        out.append(
            _draft(
                facts,
                office,
                phase,
                "staffing",
                check.kind,
                category=FindingCategory.STAFFING,
                severity=Severity.HIGH if check.problems >= 2 else Severity.MEDIUM,
                source="机构编制执行情况评估",
                title=f"{CHECK_LABELS.get(check.kind, check.kind)}:{problem}({check.problems}个问题){note}",
                evidence={
                    "check": check.kind,
                    "problems": check.problems,
                    "problem_type": check.problem_type,
                },
            )
        )
    if facts.satisfaction is not None and facts.satisfaction < rules.satisfaction_low_below:
        out.append(
            _draft(
                facts,
                office,
                phase,
                "satisfaction",
                "",
                category=FindingCategory.SATISFACTION,
                severity=Severity.MEDIUM,
                source="三评",
                title=f"三评满意度{facts.satisfaction:.1f}分,低于{rules.satisfaction_low_below:g}分",
                evidence={"score": round(facts.satisfaction, 2)},
            )
        )
    if facts.hotline_cases >= rules.hotline_min_cases:
        share = facts.hotline_late / facts.hotline_cases
        if share > rules.hotline_late_share_above:
            out.append(
                _draft(
                    facts,
                    office,
                    phase,
                    "hotline",
                    "",
                    category=FindingCategory.HOTLINE,
                    severity=Severity.MEDIUM
                    if share > 2 * rules.hotline_late_share_above
                    else Severity.LOW,
                    source="12345政务热线",
                    title=f"12345热线受理件超时办结{facts.hotline_late}件,占{share:.0%}",
                    evidence={"cases": facts.hotline_cases, "late": facts.hotline_late},
                )
            )
    for chain in facts.chains:
        shortfall = f":{chain.shortfall}" if chain.shortfall else ""
        out.append(
            _draft(
                facts,
                office,
                phase,
                "chain",
                chain.task_code,
                category=FindingCategory.CENTRAL_TASK,
                severity=Severity.MEDIUM,
                source="中心工作链条式评估",
                title=f"中心工作“{chain.task_name}”链条短板:本部门完成{chain.delivered_pct:g}%{shortfall}",
                evidence={"task": chain.task_code, "delivered_pct": chain.delivered_pct},
            )
        )
    for item in facts.carried:
        out.append(
            _draft(
                facts,
                office,
                "carried",
                "",
                item.key,
                category=FindingCategory.CARRIED_OVER,
                severity=Severity.HIGH,
                source="次年复查",
                title=f"{item.title}({item.lineage})",
                evidence={"lineage": item.lineage, "prior_key": item.key},
                carried_from_id=item.prior_finding_id,
            )
        )
    return [f for f in out if f.subject not in open_subjects]
