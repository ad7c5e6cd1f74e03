"""The year-end report renders from hand-built data: escaped, self-contained, numbers present."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bihuan.core.results import (
    RectItem,
    ScoredDept,
    consequences,
    rank,
    rectification_rates,
)
from bihuan.policy import Points, PolicyError, RecommendationRules, load_policy
from bihuan.report import (
    ChainShortfall,
    FindingLine,
    LedgerSummary,
    PhaseRun,
    Recommendation,
    ReportData,
    StaffingSummary,
    SurveyCounts,
    database_folder,
    recommendation_facts,
    recommendation_text,
    recommendations,
    render_report,
    report_markdown,
    report_paths,
)
from bihuan.report_charts import histogram_bins

REPO = Path(__file__).resolve().parents[2]
HOSTILE = '<script>alert("x")</script>&局'
AS_OF = date(2023, 12, 31)
P = Points(economic=20, non_economic=60)

NAMES = [
    ("E01", "县发展和改革局", "economic"),
    ("E02", "县财政局", "economic"),
    ("E03", "县商务局", "economic"),
    ("E04", "县自然资源和规划局", "economic"),
    ("E05", "县住房和城乡建设局", "economic"),
    ("E06", HOSTILE, "economic"),
    ("N01", "县教育和体育局", "non_economic"),
    ("N02", "县民政局", "non_economic"),
    ("N03", "县司法局", "non_economic"),
    ("N04", "县卫生健康局", "non_economic"),
    ("N05", "县退役军人事务局", "non_economic"),
    ("N06", "县医疗保障局", "non_economic"),
]
SCORES_2023 = [92.5, 88.0, 86.25, 79.0, 71.5, 64.0, 90.0, 84.0, 84.0, 76.0, 68.0, 61.0]
SCORES_2022 = [90.0, 89.0, 80.0, 85.0, 70.0, 62.0, 91.0, 78.0, 82.0, 77.0, 75.0, 66.0]


def _depts(scores: list[float]) -> list[ScoredDept]:
    return [
        ScoredDept(code, name, cat, s, year_end_score=s, ledger_score=s - 1)
        for (code, name, cat), s in zip(NAMES, scores, strict=True)
    ]


def sample_data() -> ReportData:
    last = rank(_depts(SCORES_2022), "all", green=3, red=3)
    this = rank(_depts(SCORES_2023), "all", green=3, red=3)
    items = []
    for i, (code, _, cat) in enumerate(NAMES):
        dl = date(2023, 11, 15)
        items += [
            RectItem(code, cat, "verified_closed", dl, date(2023, 11, 10 + i % 3)),
            RectItem(
                code, cat, "verified_closed" if i % 4 else "in_progress", dl, date(2023, 12, 1)
            ),
        ]
        if i % 5 == 0:
            items.append(RectItem(code, cat, "cannot_solve", dl))
        if cat == "non_economic" and i % 2:
            items.append(RectItem(code, cat, "open", date(2024, 1, 20)))
    return ReportData(
        county="莒县",
        office="莒县县委编办",
        year=2023,
        as_of=AS_OF,
        phases=[
            PhaseRun("mid-year", date(2023, 6, 1), date(2023, 6, 30), 12, 3, 6),
            PhaseRun("year-end", date(2023, 12, 1), date(2023, 12, 31), 12, 3, 6),
        ],
        board=this,
        green="3名",
        red="3名",
        rectification=rectification_rates(items, AS_OF),
        survey=SurveyCounts(
            town_ratings=240,
            peer_ballots=132,
            public_ratings=3650,
            hotline_cases=820,
            hotline_checked=82,
        ),
        ledger=LedgerSummary(
            sections=36,
            indicators=468,
            qualitative=301,
            quantitative=167,
            failed=37,
            submissions_by_method={"material": 468, "data_collection": 167, "on_site": 78},
            average_by_category={"economic": 82.4, "non_economic": 77.9},
        ),
        staffing=StaffingSummary(
            checks=120,
            departments_with_problems=7,
            problems_by_type={
                "overlapping_duties": 4,
                "late_registration": 6,
                "section_not_operating": 2,
            },
        ),
        consequences=consequences(this, last, year=2023, points=P),
        findings_by_category={
            "indicator": 37,
            "staffing": 12,
            "satisfaction": 5,
            "carried_over": 3,
        },
        top_findings=[
            FindingLine(HOSTILE, "年度重点任务“项目审批提速”未完成", "indicator", "high"),
            FindingLine("县民政局", "入编出编登记不及时", "staffing", "medium", carried=True),
        ],
        chain_shortfalls=[
            ChainShortfall("优化营商环境", "县商务局", "cooperating", 55, "数据共享未按时完成")
        ],
        last_year_board=last,
        recheck_outcomes={
            "stays_closed": 20,
            "carried": 3,
            "recurring": 1,
            "stays_cannot_solve": 2,
        },
    )


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(sample_data())


def test_hostile_department_name_is_escaped(html: str) -> None:
    assert "<script" not in html
    assert "&lt;script&gt;alert(" in html
    assert "&amp;局" in html


def test_no_network_references(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert "@import" not in html
    assert "url(" not in html


def test_key_numbers_and_sections_are_present(html: str) -> None:
    data = sample_data()
    o = data.rectification.overall
    assert "莒县2023年度部门履职监管评估综合情况报告" in html
    for heading in (
        "监管评估工作开展情况",
        "得分分布",
        "红黄绿榜",
        "主责主业履职情况分析",
        "机构编制执行情况分析",
        "存在的问题和薄弱环节",
        "问题整改情况",
        "与上年度比较",
        "意见建议",
    ):
        assert heading in html, heading
    assert f"共建立整改事项{o.total}项" in html
    assert f"按期整改{o.on_time}项" in html
    assert "入编出编不及时" in html and ">6<" in html
    assert html.count("<svg") == 3
    assert "PingFang SC" in html and "Noto Sans CJK SC" in html
    # the board: 3 green, 3 red, E01 first
    assert html.count('class="badge green"') == 3 and html.count('class="badge red"') == 3
    assert re.search(r'<td class="n">1</td><td>县发展和改革局</td>', html)
    # N02 and N03 tie on every rule but the code: the note says so
    assert "按部门编码排序" in html


def test_red_two_years_running_is_reported() -> None:
    data = sample_data()
    sanctioned = {c.code for c in data.consequences if c.kind == "staffing_freeze"}
    # E06 (62 → 64) and N06 (66 → 61) are in the bottom three both years
    assert sanctioned == {"E06", "N06"}
    html = render_report(data)
    assert "连续两年列入红榜" in html and "县医疗保障局" in html
    rec = recommendations(data)
    assert "约谈" in rec[0] and "2024年原则上不考虑" in rec[0]


def test_first_year_has_no_comparison_section() -> None:
    data = replace(sample_data(), last_year_board=None, consequences=[])
    html = render_report(data)
    assert "与上年度比较" not in html
    assert "七、意见建议" in html


def test_empty_year_still_renders() -> None:
    data = ReportData(
        county="莒县",
        office="莒县县委编办",
        year=2022,
        as_of=date(2022, 12, 31),
        phases=[],
        board=[],
        rectification=rectification_rates([], date(2022, 12, 31)),
    )
    html = render_report(data)
    assert "暂无数据" in html
    assert recommendations(data) == [
        "各部门履职和机构编制执行总体良好，建议保持闭环管理，持续巩固评估成果。"
    ]


def test_markdown_summary() -> None:
    data = sample_data()
    md = report_markdown(data)
    assert md.startswith("# 莒县2023年度")
    assert "绿榜3个、黄榜6个、红榜3个" in md
    assert md.count("\n| ") == 2 + len(data.board)  # header, rule, one row per department
    assert "## 连续两年红榜" in md


def test_histogram_bins_cover_every_score() -> None:
    bins = histogram_bins([61.0, 64.9, 65.0, 100.0, 99.99])
    assert bins[0][:2] == (60, 65) and bins[-1][:2] == (95, 100)
    assert sum(c for _, _, c in bins) == 5
    assert bins[0][2] == 2 and bins[1][2] == 1 and bins[-1][2] == 2


def test_recommendation_thresholds_are_policy() -> None:
    data = sample_data()
    kinds = [r.kind for r in recommendation_facts(data)]
    assert "score_drop" in kinds and "category_gap" in kinds
    strict = replace(
        data,
        rules=RecommendationRules(
            score_drop_points=50, category_gap_points=20, overdue_departments_named=1
        ),
    )
    facts = recommendation_facts(strict)
    assert "score_drop" not in [r.kind for r in facts]
    assert "category_gap" not in [r.kind for r in facts]
    overdue = next(r for r in facts if r.kind == "overdue")
    assert "、" not in overdue.facts["worst"]  # one department named
    named = replace(data, rules=RecommendationRules(score_drop_departments_named=1))
    drop = next(s for s in recommendations(named) if "下降5分以上" in s)
    assert "（县自然资源和规划局等）" in drop


def test_every_recommendation_has_its_sentence_and_unknown_kinds_fail() -> None:
    for rec in recommendation_facts(sample_data()):
        text = recommendation_text(rec)
        assert text and "\n" not in text and text.endswith("。"), rec
    with pytest.raises(ValueError, match="no sentence for 'nonsense'"):
        recommendation_text(Recommendation("nonsense"))


def test_the_shipped_policy_has_the_report_section(tmp_path: Path) -> None:
    policy = load_policy(REPO / "config")
    assert policy.report.top_findings == 10
    assert policy.report.recommendations == RecommendationRules()
    text = (REPO / "config" / "policy.toml").read_text(encoding="utf-8")
    (tmp_path / "policy.toml").write_text(
        text.replace("on_time_rate_gap = 0.1 ", "on_time_rate_gap = 10  "), encoding="utf-8"
    )
    with pytest.raises(PolicyError, match=r"report\.recommendations\.on_time_rate_gap"):
        load_policy(tmp_path)


# --- where a run's report goes (per database and run) -------------------------------------


def test_each_database_has_its_own_report_folder(tmp_path: Path) -> None:
    county_a = f"sqlite:///{tmp_path / 'a' / 'bihuan.db'}"
    county_b = f"sqlite:///{tmp_path / 'b' / 'bihuan.db'}"  # same file name, another database
    pg = "postgresql+psycopg://bihuan:s3cret@127.0.0.1:5432/wulian"
    pg_other_schema = pg + "?options=-csearch_path%3Dtest_1"
    folders = {database_folder(u) for u in (county_a, county_b, pg, pg_other_schema)}
    assert len(folders) == 4
    assert database_folder(county_a).startswith("bihuan-")
    assert database_folder(pg).startswith("wulian-") and "s3cret" not in database_folder(pg)
    # the same database however it is reached: the same folder; the password plays no part
    assert database_folder(pg) == database_folder(pg.replace("s3cret", "other"))
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", database_folder("sqlite:///var/莒县 数据.db"))


def test_a_run_never_overwrites_another_runs_report(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    url = f"sqlite:///{tmp_path / 'bihuan.db'}"
    at = datetime(2027, 1, 8, 18, 30, 5, tzinfo=timezone(timedelta(hours=8)))
    path, latest = report_paths(tmp_path / "var", url, "wulian", 2026, at)
    folder = tmp_path / "var" / "reports" / database_folder(url)
    assert path == folder / "wulian-2026-20270108T103005Z.html"
    assert latest == folder / "wulian-2026-latest.html"
    path.parent.mkdir(parents=True)
    path.write_text("first run", encoding="utf-8")
    second, _ = report_paths(tmp_path / "var", url, "wulian", 2026, at.astimezone(UTC))
    assert second == folder / "wulian-2026-20270108T103005Z-2.html"  # same second: numbered
    provisional, _ = report_paths(tmp_path / "var", url, "wulian", 2026, at, provisional=True)
    assert provisional.name == "wulian-2026-20270108T103005Z-暂定.html"
    other, _ = report_paths(tmp_path / "var", f"sqlite:///{tmp_path / 'x.db'}", "wulian", 2026, at)
    assert other.parent != path.parent
