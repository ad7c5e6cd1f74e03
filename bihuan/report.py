"""The year-end comprehensive report (综合评估情况报告) to the county staffing committee (县委编委).

`render_report(data)` gives one self-contained HTML file in Chinese (inline CSS and SVG charts,
no scripts, no network references); `report_markdown(data)` the same summary as Markdown for a
Prefect artifact; `write_report(data, path)` writes it as HTML or PDF (the adapters' one way to
put it on disk). `ReportData` is plain data: `bihuan.services.results.report_data` fills it from
the database, the tests build it by hand. Recommendations are rule-based (`recommendation_facts`,
thresholds from config/policy.toml [report.recommendations]) and worded by a template
(notifications/templates/report_recommendation.txt), so the same data always gives the same
report. Every template renders through the one Jinja environment of notifications/render.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bihuan.core.results import (
    BoardRow,
    Consequence,
    RateReport,
    Rates,
    YearOnYear,
    tie_note,
    year_on_year,
)
from bihuan.policy import RecommendationRules
from bihuan.report_charts import FONT, histogram_svg, stacked_bars_svg
from bihuan.vocab import label as _label
from notifications.render import render

REPORT_TEMPLATE = "report.html"
RECOMMENDATION_TEMPLATE = "report_recommendation.txt"

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

    county / office: who reports (莒县 / the signing office, `policy.office_name(jurisdiction)`);
    year: the cycle; as_of: the date the report
    speaks for (rates are counted as of it); phases: the two phases as they ran; survey: the
    three evaluations; ledger / staffing: the two halves of the assessment; board: this year's
    board (bihuan.core.results.rank); board_scope / green / red: the board's policy (sizes
    as the report words them: 10名 or 15%);
    consequences: bihuan.core.results.consequences of this year's board;
    findings_by_category: FindingCategory value → approved findings; top_findings: the notable
    ones; chain_shortfalls: weak links of central tasks; rectification: rates as of `as_of`
    (bihuan.core.results.rectification_rates); last_year_board: last year's board, None in the
    first year; recheck_outcomes: outcome of bihuan.core.recheck → count of last year's items;
    rules: when the recommendations speak up (config/policy.toml [report.recommendations]).
    """

    county: str
    year: int
    as_of: date
    phases: list[PhaseRun]
    board: list[BoardRow]
    rectification: RateReport
    office: str
    survey: SurveyCounts = field(default_factory=SurveyCounts)
    ledger: LedgerSummary = field(default_factory=LedgerSummary)
    staffing: StaffingSummary = field(default_factory=StaffingSummary)
    board_scope: str = "all"
    green: str = "10名"  # the board's sizes as policy gives them: "10名", or a share "15%"
    red: str = "10名"
    consequences: list[Consequence] = field(default_factory=list)
    findings_by_category: dict[str, int] = field(default_factory=dict)
    top_findings: list[FindingLine] = field(default_factory=list)
    chain_shortfalls: list[ChainShortfall] = field(default_factory=list)
    last_year_board: list[BoardRow] | None = None
    recheck_outcomes: dict[str, int] = field(default_factory=dict)
    rules: RecommendationRules = field(default_factory=RecommendationRules)
    # the board was computed before the year-end assessment (暂定): the report says so throughout
    provisional: bool = False

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


@dataclass(frozen=True)
class Recommendation:
    """One recommendation (意见建议) as facts: `kind` picks its sentence in the template
    report_recommendation.txt, `facts` fills it."""

    kind: str
    facts: dict[str, Any] = field(default_factory=dict)


def recommendation_facts(data: ReportData) -> list[Recommendation]:
    """The rules behind the recommendations, most pressing first; never empty."""
    rules = data.rules
    names = data.names
    out: list[Recommendation] = []
    twice = data.codes_with("staffing_freeze")
    if twice:
        who = "、".join(names.get(c, c) for c in twice)
        out.append(Recommendation("twice_red", {"who": who, "next_year": data.year + 1}))
    overall = data.rectification.overall
    if overall.overdue:
        worst = sorted(
            data.rectification.by_department.items(), key=lambda kv: (-kv[1].overdue, kv[0])
        )
        top = [names.get(c, c) for c, r in worst[: rules.overdue_departments_named] if r.overdue]
        out.append(Recommendation("overdue", {"overdue": overall.overdue, "worst": "、".join(top)}))
    elif overall.open:
        out.append(Recommendation("open", {"open": overall.open}))
    if data.staffing.problems_by_type:
        kind, n = max(data.staffing.problems_by_type.items(), key=lambda kv: (kv[1], kv[0]))
        out.append(Recommendation("staffing", {"problem": kind, "count": n}))
    means = category_means(data.board)
    if len(means) == 2:
        (ka, ma), (kb, mb) = sorted(means.items(), key=lambda kv: kv[1])
        if mb - ma >= rules.category_gap_points:
            out.append(
                Recommendation(
                    "category_gap",
                    {
                        "lower": ka,
                        "lower_mean": ma,
                        "higher": kb,
                        "higher_mean": mb,
                        "gap": mb - ma,
                    },
                )
            )
    by_cat = data.rectification.by_category
    rated = [(k, r.on_time_rate) for k, r in by_cat.items() if r.on_time_rate is not None]
    if len(rated) == 2:
        (ka, ra), (_, rb) = sorted(rated, key=lambda kv: kv[1] or 0.0)
        if ra is not None and rb is not None and rb - ra >= rules.on_time_rate_gap:
            out.append(Recommendation("on_time_gap", {"category": ka, "rate": ra}))
    if data.chain_shortfalls:
        tasks = sorted({c.task for c in data.chain_shortfalls})
        weak = sorted({c.department for c in data.chain_shortfalls if c.role == "cooperating"})
        out.append(Recommendation("chain", {"tasks": tasks, "weak": weak}))
    if overall.cannot_solve:
        out.append(Recommendation("cannot_solve", {"count": overall.cannot_solve}))
    declined = [y for y in data.yoy if y.delta is not None and y.delta <= -rules.score_drop_points]
    if declined:
        who = "、".join(y.name for y in declined[: rules.score_drop_departments_named])
        out.append(
            Recommendation(
                "score_drop",
                {"count": len(declined), "who": who, "points": rules.score_drop_points},
            )
        )
    carried = data.recheck_outcomes.get("carried", 0) + data.recheck_outcomes.get("recurring", 0)
    if carried:
        out.append(Recommendation("carried", {"count": carried}))
    if not out:
        out.append(Recommendation("all_good"))
    return out


def recommendation_text(rec: Recommendation) -> str:
    """One recommendation worded by the template (a programmer's mistake if it has no wording)."""
    text = " ".join(render(RECOMMENDATION_TEMPLATE, {"kind": rec.kind, "f": rec.facts}).split())
    if not text:
        raise ValueError(f"{RECOMMENDATION_TEMPLATE} has no sentence for {rec.kind!r}")
    return text


def recommendations(data: ReportData) -> list[str]:
    """Rule-based recommendations (意见建议), most pressing first; never empty."""
    return [recommendation_text(r) for r in recommendation_facts(data)]


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
        "tie_note": tie_note,
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


def render_report(data: ReportData) -> str:
    """The report as one self-contained HTML document (Chinese, inline CSS and SVG)."""
    return render(REPORT_TEMPLATE, _context(data))


def database_folder(db_url: str) -> str:
    """The folder of one database's reports: its name (the SQLite file's stem, the PostgreSQL
    database's) and a short hash of where it is (the file's absolute path; user, host, port,
    database and options — never the password), so two databases never share a folder."""
    scheme, _, rest = db_url.partition("://")
    kind = scheme.split("+")[0]
    if kind == "sqlite":
        where = rest[1:] if rest.startswith("/") else rest
        name = Path(where).stem if where else "memory"
        ident = f"sqlite:{Path(where).expanduser().resolve()}" if where else db_url
    else:
        parts = urlsplit(db_url)
        name = parts.path.lstrip("/") or kind
        ident = (
            f"{kind}://{parts.username or ''}@{parts.hostname or ''}:{parts.port or ''}/"
            f"{name}?{parts.query}"
        )
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{digest}"


def report_paths(
    var_dir: Path,
    db_url: str,
    jurisdiction: str,
    year: int,
    stamp: datetime,
    *,
    provisional: bool = False,
) -> tuple[Path, Path]:
    """Where one results run writes its report, and the copy of the latest run beside it:
    var/reports/<database>/<jurisdiction>-<year>-<UTC stamp>[-暂定].html and
    <jurisdiction>-<year>-latest.html. A run never overwrites another run's report, nor one
    database's run another's."""
    folder = var_dir / "reports" / database_folder(db_url)
    tag = stamp.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{jurisdiction}-{year}-{tag}" + ("-暂定" if provisional else "")
    path, n = folder / f"{base}.html", 2
    while path.exists() or path.with_suffix(".pdf").exists():  # two runs in one second
        path, n = folder / f"{base}-{n}.html", n + 1
    return path, folder / f"{jurisdiction}-{year}-latest.html"


def write_report(data: ReportData, out: Path) -> Path:
    """Write the report to `out`: PDF when it ends in .pdf (needs a Chinese font, see
    bihuan/report_pdf.py), HTML otherwise. Returns the path written."""
    if out.suffix.lower() == ".pdf":
        from bihuan.report_pdf import html_to_pdf

        return html_to_pdf(render_report(data), out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    return out


def _md(text: str) -> str:
    # Department names and titles come from workbooks: keep them from breaking the table.
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(data: ReportData) -> str:
    """The report's summary as Markdown, for a Prefect markdown artifact."""
    ctx = _context(data)
    rect = data.rectification.overall
    lines = [
        f"# {_md(data.county)}{data.year}年度部门履职监管评估综合情况"
        + ("（暂定）" if data.provisional else ""),
        "",
        *(
            [
                "**暂定**：年底评估尚未进行，红黄绿榜依据已完成的评估得分暂定，不作为结果运用依据。",
                "",
            ]
            if data.provisional
            else []
        ),
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
        "| 排名 | 部门 | 类别 | 得分 | 榜单 | 同分规则 |",
        "| ---: | --- | --- | ---: | --- | --- |",
    ]
    for r in data.board:
        lines.append(
            f"| {r.rank} | {_md(r.name)} | {label(r.category)} | {r.score:.2f} "
            f"| {label(r.colour)} | {tie_note(r.tie_rule)} |"
        )
    if ctx["sanctioned"]:
        lines += ["", "## 连续两年红榜", ""]
        lines += [f"- {_md(data.names.get(c, c))}" for c in ctx["sanctioned"]]
    lines += ["", "## 意见建议", ""]
    lines += [f"{i}. {_md(s)}" for i, s in enumerate(ctx["recommendations"], start=1)]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
