"""The year-end comprehensive report (综合评估情况报告) to the county staffing committee (县委编委).

`render_report(data)` gives one self-contained HTML file in Chinese (inline CSS and SVG charts,
no scripts, no network references); `report_markdown(data)` the same summary as Markdown for a
Prefect artifact. `ReportData` is plain data: the shell fills it from the database, the tests
build it by hand. Recommendations are rule-based sentences derived from the data
(`recommendations`), so the same data always gives the same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bihuan.core.results import (
    BoardRow,
    Consequence,
    RateReport,
    Rates,
    YearOnYear,
    year_on_year,
)
from bihuan.report_charts import FONT, histogram_svg, stacked_bars_svg
from bihuan.vocab import label as _label

TEMPLATES = Path(__file__).resolve().parents[1] / "notifications" / "templates"
REPORT_TEMPLATE = "report.html"

RATE_SERIES = [
    ("按期整改", "#2e8b57"),
    ("逾期整改", "#e0a100"),
    ("未完成", "#c0392b"),
    ("无法解决", "#8c8c8c"),
]
COLOUR_HEX = {"green": "#2e8b57", "yellow": "#e0a100", "red": "#c0392b"}


def label(value: str | None) -> str:
    """The Chinese label of an enum value from models.enums (the value itself if unknown)."""
    if value is None:
        return ""
    return _label(value)


@dataclass(frozen=True)
class PhaseRun:
    """One concentrated assessment phase as it ran.

    kind: "mid-year" or "year-end"; window_*: the one-month window; departments_assessed:
    departments with a score in the phase; onsite_departments / inspectors: the double-random
    draw (双随机) for on-site, resident assessment.
    """

    kind: str
    window_start: date
    window_end: date
    departments_assessed: int
    onsite_departments: int = 0
    inspectors: int = 0


@dataclass(frozen=True)
class SurveyCounts:
    """How many ratings the three evaluations (三评) collected.

    town_ratings: towns rating departments (镇街道评县直); peer_ballots: anonymous ballots of
    department heads (部门互评); public_ratings: public app survey answers (群众评议);
    hotline_cases / hotline_checked: 12345 cases counted and sampled for on-site checks.
    """

    town_ratings: int = 0
    peer_ballots: int = 0
    public_ratings: int = 0
    hotline_cases: int = 0
    hotline_checked: int = 0


@dataclass(frozen=True)
class LedgerSummary:
    """The performance ledger (主责主业履职成效核查台账) of the year.

    sections / indicators: business sections and their key tasks; qualitative / quantitative:
    indicators by kind; failed: indicators scored below the finding threshold;
    submissions_by_method: Method value → number of submissions (材料报送、察访核验…);
    average_by_category: Category value → mean ledger component score.
    """

    sections: int = 0
    indicators: int = 0
    qualitative: int = 0
    quantitative: int = 0
    failed: int = 0
    submissions_by_method: dict[str, int] = field(default_factory=dict)
    average_by_category: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StaffingSummary:
    """Staffing execution (机构编制执行情况): checks done and typical problems found.

    problems_by_type: StaffingProblem value → number of problems; departments_with_problems:
    departments with at least one problem.
    """

    checks: int = 0
    departments_with_problems: int = 0
    problems_by_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FindingLine:
    """A notable finding for the "problems and weak links" section.

    department: the department's name; category / severity: FindingCategory and Severity
    values; carried: it repeats last year's problem.
    """

    department: str
    title: str
    category: str
    severity: str
    carried: bool = False


@dataclass(frozen=True)
class ChainShortfall:
    """A weak link of a central task assessed as a chain (链条式评估).

    role: "lead" or "cooperating"; delivered_pct: how far the link delivered its duty (0–100).
    """

    task: str
    department: str
    role: str
    delivered_pct: float
    shortfall: str = ""


@dataclass(frozen=True)
class ReportData:
    """Everything the year-end report shows; each field is documented in its own dataclass.

    county / office: who reports (莒县 / 县委编办); year: the cycle; as_of: the date the report
    speaks for (rates are counted as of it); phases: the two phases as they ran; survey: the
    three evaluations; ledger / staffing: the two halves of the assessment; board: this year's
    board (bihuan.core.results.rank); board_scope / green / red: the board's policy;
    consequences: bihuan.core.results.consequences of this year's board;
    findings_by_category: FindingCategory value → approved findings; top_findings: the notable
    ones; chain_shortfalls: weak links of central tasks; rectification: rates as of `as_of`
    (bihuan.core.results.rectification_rates); last_year_board: last year's board, None in the
    first year; recheck_outcomes: outcome of bihuan.core.recheck → count of last year's items.
    """

    county: str
    year: int
    as_of: date
    phases: list[PhaseRun]
    board: list[BoardRow]
    rectification: RateReport
    office: str = "县委编办"
    survey: SurveyCounts = field(default_factory=SurveyCounts)
    ledger: LedgerSummary = field(default_factory=LedgerSummary)
    staffing: StaffingSummary = field(default_factory=StaffingSummary)
    board_scope: str = "all"
    green: int = 10
    red: int = 10
    consequences: list[Consequence] = field(default_factory=list)
    findings_by_category: dict[str, int] = field(default_factory=dict)
    top_findings: list[FindingLine] = field(default_factory=list)
    chain_shortfalls: list[ChainShortfall] = field(default_factory=list)
    last_year_board: list[BoardRow] | None = None
    recheck_outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        return {r.code: r.name for r in self.board}

    @property
    def yoy(self) -> list[YearOnYear]:
        return year_on_year(self.board, self.last_year_board) if self.last_year_board else []

    def codes_with(self, kind: str) -> list[str]:
        return [c.code for c in self.consequences if c.kind == kind]


# --- derived numbers ---------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def category_means(board: Sequence[BoardRow]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for r in board:
        groups.setdefault(r.category, []).append(r.score)
    return {k: sum(v) / len(v) for k, v in sorted(groups.items())}


def recommendations(data: ReportData) -> list[str]:
    """Rule-based recommendations (意见建议), most pressing first; never empty."""
    names = data.names
    out: list[str] = []
    twice = data.codes_with("staffing_freeze")
    if twice:
        who = "、".join(names.get(c, c) for c in twice)
        out.append(
            f"{who}连续两年列入红榜，建议按规定约谈其主要负责人，{data.year + 1}年原则上不考虑"
            "其机构编制事项，并由包干联系小组跟踪整改。"
        )
    overall = data.rectification.overall
    if overall.overdue:
        worst = sorted(
            data.rectification.by_department.items(), key=lambda kv: (-kv[1].overdue, kv[0])
        )
        top = [names.get(c, c) for c, r in worst[:3] if r.overdue]
        out.append(
            f"尚有{overall.overdue}项整改事项逾期未完成（主要集中在{'、'.join(top)}），建议督促"
            "科室逐项挂账督办，按提醒升级机制报告编办领导，确保限期整改到位。"
        )
    elif overall.open:
        out.append(f"尚有{overall.open}项整改事项正在推进，建议持续跟踪、按期验收销号。")
    if data.staffing.problems_by_type:
        kind, n = max(data.staffing.problems_by_type.items(), key=lambda kv: (kv[1], kv[0]))
        out.append(
            f"机构编制执行中“{label(kind)}”问题最为突出（{n}个），建议开展专项清理，"
            "对照“三定”规定厘清职责边界，规范用编进人和实名制管理。"
        )
    means = category_means(data.board)
    if len(means) == 2:
        (ka, ma), (kb, mb) = sorted(means.items(), key=lambda kv: kv[1])
        if mb - ma >= 3:
            out.append(
                f"{label(ka)}平均得分（{ma:.1f}分）低于{label(kb)}（{mb:.1f}分）{mb - ma:.1f}分，"
                f"建议对{label(ka)}加强履职指导，细化主责主业考核指标。"
            )
    by_cat = data.rectification.by_category
    rated = [(k, r.on_time_rate) for k, r in by_cat.items() if r.on_time_rate is not None]
    if len(rated) == 2:
        (ka, ra), (_, rb) = sorted(rated, key=lambda kv: kv[1] or 0.0)
        if ra is not None and rb is not None and rb - ra >= 0.1:
            out.append(f"{label(ka)}按期整改率（{pct(ra)}）偏低，建议压实整改责任、缩短督办周期。")
    if data.chain_shortfalls:
        tasks = sorted({c.task for c in data.chain_shortfalls})
        weak = sorted({c.department for c in data.chain_shortfalls if c.role == "cooperating"})
        sentence = f"中心工作“{'”“'.join(tasks)}”链条存在短板"
        if weak:
            sentence += f"，配合单位{'、'.join(weak)}履职不到位"
        out.append(sentence + "，建议明确牵头与配合责任，建立链条式协同考核机制。")
    if overall.cannot_solve:
        out.append(
            f"{overall.cannot_solve}项问题经政策解释确属无法解决，建议跟踪约定替代措施的落实，"
            "替代措施失效的次年重新纳入整改。"
        )
    declined = [y for y in data.yoy if y.delta is not None and y.delta <= -5]
    if declined:
        who = "、".join(y.name for y in declined[:5])
        out.append(
            f"{len(declined)}个部门得分较上年下降5分以上（{who}等），建议分析原因、列入下一年度"
            "重点监管评估对象。"
        )
    carried = data.recheck_outcomes.get("carried", 0) + data.recheck_outcomes.get("recurring", 0)
    if carried:
        out.append(
            f"上年度{carried}项问题未整改到位或再次出现，已作为本年度重点内容，建议在次年复查中"
            "重点核验、防止反弹。"
        )
    if not out:
        out.append("各部门履职和机构编制执行总体良好，建议保持闭环管理，持续巩固评估成果。")
    return out


def _rate_rows(rates: dict[str, Rates], names: dict[str, str]) -> list[tuple[str, list[int]]]:
    return [
        (names.get(k, label(k)), [r.on_time, r.late, r.open, r.cannot_solve])
        for k, r in rates.items()
    ]


def _context(data: ReportData) -> dict[str, Any]:
    names = data.names
    scores = [r.score for r in data.board]
    colour_counts = {c: sum(1 for r in data.board if r.colour == c) for c in COLOUR_HEX}
    by_code: dict[str, list[Consequence]] = {}
    for c in data.consequences:
        by_code.setdefault(c.code, []).append(c)
    rect = data.rectification
    return {
        "d": data,
        "font": FONT,
        "names": names,
        "phase_count": len(data.phases),
        "onsite_total": sum(p.onsite_departments for p in data.phases),
        "inspector_total": sum(p.inspectors for p in data.phases),
        "department_count": len(data.board),
        "mean_score": _mean(scores),
        "max_score": max(scores) if scores else None,
        "min_score": min(scores) if scores else None,
        "category_means": category_means(data.board),
        "colour_counts": colour_counts,
        "colour_hex": COLOUR_HEX,
        "consequences_by_code": by_code,
        "sanctioned": data.codes_with("staffing_freeze"),
        "histogram": histogram_svg(scores, title=f"{data.year}年度部门得分分布"),
        "rate_chart_categories": stacked_bars_svg(
            _rate_rows(rect.by_category, {}), RATE_SERIES, title="分类别整改情况"
        ),
        "rate_chart_departments": stacked_bars_svg(
            _rate_rows(rect.by_department, names), RATE_SERIES, title="分部门整改情况"
        ),
        "yoy": data.yoy,
        "recommendations": recommendations(data),
        "findings_total": sum(data.findings_by_category.values()),
        "staffing_total": sum(data.staffing.problems_by_type.values()),
    }


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["label"] = label
    env.filters["pct"] = pct
    env.filters["num"] = lambda v, n=1: "—" if v is None else f"{v:.{n}f}"
    env.filters["cn_date"] = lambda d: f"{d.year}年{d.month}月{d.day}日"
    return env


def render_report(data: ReportData) -> str:
    """The report as one self-contained HTML document (Chinese, inline CSS and SVG)."""
    return _environment().get_template(REPORT_TEMPLATE).render(**_context(data))


def _md(text: str) -> str:
    # Department names and titles come from workbooks: keep them from breaking the table.
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(data: ReportData) -> str:
    """The report's summary as Markdown, for a Prefect markdown artifact."""
    ctx = _context(data)
    rect = data.rectification.overall
    lines = [
        f"# {_md(data.county)}{data.year}年度部门履职监管评估综合情况",
        "",
        f"- 评估部门：{ctx['department_count']}个；集中评估{ctx['phase_count']}轮；"
        f"双随机察访核验{ctx['onsite_total']}个部门次",
        f"- 平均得分：{_fmt(ctx['mean_score'])}分（最高{_fmt(ctx['max_score'])}，"
        f"最低{_fmt(ctx['min_score'])}）",
        f"- 红黄绿榜：绿榜{ctx['colour_counts']['green']}个、黄榜{ctx['colour_counts']['yellow']}"
        f"个、红榜{ctx['colour_counts']['red']}个",
        f"- 问题清单：{ctx['findings_total']}个问题；整改事项{rect.total}项，按期"
        f"{rect.on_time}（{pct(rect.on_time_rate)}）、逾期{rect.late}、未完成{rect.open}"
        f"（其中逾期未完成{rect.overdue}）、无法解决{rect.cannot_solve}",
        "",
        "## 红黄绿榜",
        "",
        "| 排名 | 部门 | 类别 | 得分 | 榜单 |",
        "| ---: | --- | --- | ---: | --- |",
    ]
    for r in data.board:
        lines.append(
            f"| {r.rank} | {_md(r.name)} | {label(r.category)} | {r.score:.2f} | {label(r.colour)} |"
        )
    if ctx["sanctioned"]:
        lines += ["", "## 连续两年红榜", ""]
        lines += [f"- {_md(data.names.get(c, c))}" for c in ctx["sanctioned"]]
    lines += ["", "## 意见建议", ""]
    lines += [f"{i}. {_md(s)}" for i, s in enumerate(ctx["recommendations"], start=1)]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
