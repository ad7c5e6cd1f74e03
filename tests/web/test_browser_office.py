"""A real browser over the office's approval and the results pages, at a desktop width and at a
phone's 390×844 (see test_browser.py: Debian's chromium, `bihuan web` in a subprocess, skipped
where chromium is missing). Screenshots go to var/test-artifacts/web/<viewport>/office-*.png."""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD, YEAR
from tests.web.test_browser import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    VIEWPORTS,
    chromium,
    server,
)


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_office_previews_and_approves_a_list_and_a_leader_reads_the_results(
    chromium: object,  # noqa: F811
    server: str,  # noqa: F811
    viewport: str,
) -> None:
    from playwright.sync_api import Browser, Page, expect

    assert isinstance(chromium, Browser)
    shots = ARTIFACTS / viewport
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    def open_page(login: str) -> Page:
        context = chromium.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")  # type: ignore[attr-defined]
        page: Page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server + "/login")
        page.fill("#login", login)
        page.fill("#password", PASSWORD)
        page.click("button:has-text('登录')")
        expect(page).to_have_url(server + "/")
        return page

    def shot(page: Page, step: str) -> None:
        page.screenshot(path=str(shots / f"office-{step}.png"), full_page=True)
        if viewport == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, step

    page = open_page("office")
    page.click("text=问题清单审核")
    expect(page.locator("h1")).to_have_text("问题清单审核")
    page.click("text=预览并审核")
    expect(page.locator("h1")).to_contain_text(f"{YEAR}年年中问题清单审核")
    shot(page, "1-phase")
    page.click("text=D01 县发展和改革局")
    expect(page.locator("pre.message")).to_contain_text("县发展和改革局：")
    shot(page, "2-department")
    first = page.locator("input[name^='drop-']").first
    first.fill("指标口径调整，不计入")
    page.click("button:has-text('审核下发本部门清单')")
    expect(page.locator(".notice")).to_contain_text("已审核下发 1 个部门的问题清单（D01）")
    shot(page, "3-approved")
    page.context.close()

    leader = open_page("leader")
    leader.click("text=红黄绿榜")
    # the test county has only mid-year scores: its board is provisional (暂定), and says so
    expect(leader.locator("h1")).to_have_text(f"{YEAR}年度红黄绿榜（暂定）")
    shot(leader, "4-board")
    leader.locator("tr", has_text="D01 县发展和改革局").locator("text=年中").click()
    expect(leader.locator("h1")).to_contain_text("得分 71.4 分")
    shot(leader, "4b-why-71-4")
    leader.go_back()
    leader.click("text=历年趋势")
    expect(leader.locator("svg")).to_have_count(3)
    shot(leader, "5-trends")
    leader.goto(server + f"/results/report?year={YEAR}")
    expect(leader.locator("h1")).to_contain_text("综合情况报告")
    leader.screenshot(path=str(shots / "office-6-report.png"), full_page=True)
    leader.context.close()
    assert not problems, problems
