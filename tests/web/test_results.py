"""Results in the portal, read-only: the board, trends across years, the year-end report, and
the API's findings, problem lists, board and trends in the CLI's --json shapes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from bihuan.web.security import CONTENT_SECURITY_POLICY, DOCUMENT_CSP
from tests.optional import require_cjk_font
from tests.web.conftest import ROLES, SECTION, YEAR, Portal, make_token

_register_commands()
runner = CliRunner()


def _cli_json(args: list[str], url: str, login: str) -> object:
    result = runner.invoke(app, [*args, "--json", "--db", url, "--as", login])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_everyone_reads_the_board_a_department_links_only_its_own_breakdown(
    portal: Portal, role: str
) -> None:
    b = portal.signed_in(ROLES[role])
    latest = b.get("/results/board")
    assert latest.status_code == 303 and latest.headers["location"] == f"/results/board?year={YEAR}"
    page = b.get(latest.headers["location"])
    assert page.status_code == 200
    assert all(name in page.text for name in ("县发展和改革局", "县财政局", "县民政局"))
    assert "绿榜" in page.text and "综合绩效考核计分" in page.text
    links = {code for code in ("D01", "D02", "D03") if f"/results/scores/{code}?" in page.text}
    reads_results = role in {"leader", "office", "admin", "auditor"}
    assert links == (
        {"D01", "D02", "D03"} if reads_results else {"D01"} if role == "department" else set()
    )
    assert ("/results/report?year=" in page.text) is reads_results


def test_trends_across_years_with_a_chart_and_scoped_for_a_department(portal: Portal) -> None:
    leader = portal.signed_in("leader")
    page = leader.get("/results/trends")
    assert page.status_code == 200
    assert page.text.count("<svg") == 3 and "县民政局历年年度得分" in page.text
    assert "90.00 · 第1/3名" in page.text and "71.40 · 第3/3名" in page.text
    assert "<script" not in page.text
    dept = portal.signed_in("D01lx")
    own = dept.get("/results/trends")
    assert own.status_code == 200 and own.text.count("<svg") == 1 and "县发展和改革局" in own.text
    other, guessed = (
        dept.get("/results/trends?department=D02"),
        dept.get("/results/trends?department=D99"),
    )
    assert other.status_code == guessed.status_code == 404 and other.text == guessed.text
    assert portal.signed_in("section").get("/results/trends").status_code == 403


def test_the_report_is_the_rendered_document_and_a_pdf(portal: Portal) -> None:
    b = portal.signed_in("leader")
    html = b.get(f"/results/report?year={YEAR}")
    assert html.status_code == 200
    assert html.headers["content-security-policy"] == DOCUMENT_CSP
    assert f"{YEAR}年度部门履职监管评估综合情况报告" in html.text and "<script" not in html.text
    assert b.get("/results/report").headers["location"] == f"/results/report?year={YEAR}"
    # the portal's own pages keep the strict policy
    assert b.get("/results/trends").headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert b.get(f"/results/report?year={YEAR - 5}").status_code == 400  # no such cycle
    require_cjk_font()
    pdf = b.get(f"/results/report.pdf?year={YEAR}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="juxian-{YEAR}-report.pdf"'


@pytest.mark.parametrize("login", ["office", "D01lx", "section"])
def test_the_api_returns_what_the_cli_prints(portal_both: Portal, login: str) -> None:
    portal = portal_both
    token = make_token(portal.url, login, portal.clock())
    b = portal.browser()
    for path, args in (
        (f"/api/v1/findings?year={YEAR}", ["findings", "--year", str(YEAR)]),
        (f"/api/v1/problem-lists?year={YEAR}", ["problems", "list", "--year", str(YEAR)]),
        (f"/api/v1/board?year={YEAR}", ["board", "--year", str(YEAR)]),
    ):
        body = b.api(path + "&per_page=500", token).json()
        assert body["items"] == _cli_json(args, portal.url, login), path
    findings = b.api(f"/api/v1/findings?year={YEAR}&per_page=500", token).json()["items"]
    if login == "section":  # 机关职能运行监管办公室: not the staffing findings of 监督检查科
        assert findings and all(f["supervising_section"] == SECTION for f in findings)
        assert "staffing" not in {f["category"] for f in findings}
    else:
        expected = {"office": {"D01", "D02"}, "D01lx": {"D01"}}[login]
        assert {f["department"] for f in findings} == expected
    if login == "D01lx":
        trend = b.api("/api/v1/trends", token).json()
        assert [d["code"] for d in trend["departments"]] == ["D01"] and trend["years"] == [YEAR]


def test_why_71_4_the_components_the_explanation_and_the_indicators(portal: Portal) -> None:
    leader = portal.signed_in("leader")
    listing = leader.get(f"/results/scores?year={YEAR}&phase=mid-year")
    assert listing.status_code == 200
    assert [c for c in ("D03", "D02", "D01") if c in listing.text] == ["D03", "D02", "D01"]
    page = leader.get(f"/results/scores/D01?year={YEAR}&phase=mid-year")
    assert page.status_code == 200
    text = page.text
    assert "2022年年中得分 71.4 分" in text and "为什么是 71.4 分" in text
    # the component table: score × effective weight, and the explanation laid out
    assert "主责主业履职成效" in text and ">31.00<" in text and ">50.0%<" in text
    assert "总分 = 各部分得分 × 权重之和" in text
    assert "完成值4.5,目标10,完成率45%" in text  # the indicator's rule
    assert "<script" not in text
    # a department: its own breakdown, another's is the 404 of a guessed code
    dept = portal.signed_in("D01lx")
    assert dept.get(f"/results/scores/D01?year={YEAR}&phase=mid-year").status_code == 200
    other = dept.get(f"/results/scores/D02?year={YEAR}&phase=mid-year")
    guessed = dept.get(f"/results/scores/D99?year={YEAR}&phase=mid-year")
    assert other.status_code == guessed.status_code == 404 and other.text == guessed.text
    own = dept.get(f"/results/scores?year={YEAR}&phase=mid-year").text
    assert "D01" in own and "D02" not in own and "D03" not in own
    # a phase not assessed says so
    assert leader.get(f"/results/scores/D01?year={YEAR}&phase=year-end").status_code == 400


@pytest.mark.parametrize("login", ["leader", "D01lx"])
def test_the_scores_api_returns_what_the_cli_prints(portal_both: Portal, login: str) -> None:
    portal = portal_both
    token = make_token(portal.url, login, portal.clock())
    b = portal.browser()
    args = ["scores", "--year", str(YEAR), "--phase", "mid-year"]
    body = b.api(f"/api/v1/scores?year={YEAR}&phase=mid-year&per_page=500", token).json()
    assert body["items"] == _cli_json(args, portal.url, login)
    why = b.api(f"/api/v1/scores/D01?year={YEAR}&phase=mid-year", token).json()
    assert why == _cli_json([*args, "--department", "D01"], portal.url, login)
    assert why["score"]["total"] == 71.4 and "总分 71.4 分" in why["text"]
