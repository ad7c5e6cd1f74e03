"""Links in messages (BIHUAN_BASE_URL): the paths, the documents with and without a link, the
setting's check, and the reminder steps in Chinese."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from bihuan.core.links import absolute, item_link, problem_list_link
from bihuan.core.reminders import describe_step
from bihuan.services.rectification import notice_text
from bihuan.settings import Settings
from bihuan.vocab import EscalationLevel, PhaseKind, RectificationAction
from notifications.render import (
    DigestContext,
    ProblemListContext,
    ReminderContext,
    ReminderLine,
    render_digest,
    render_problem_list,
    render_reminder,
)

BASE = "https://bihuan.example.gov.cn"


def test_links_are_built_on_the_address_or_not_at_all() -> None:
    assert item_link(BASE, 12) == f"{BASE}/items/12"
    assert item_link(BASE + "/", 12) == f"{BASE}/items/12"
    assert item_link("", 12) == "" and absolute("  ", "/items") == ""
    assert problem_list_link(BASE, 2026, "year-end", "D01") == (
        f"{BASE}/problem-lists/2026/year-end/D01"
    )
    assert problem_list_link(BASE, 2026, "mid-year", "部门/1") == (
        f"{BASE}/problem-lists/2026/mid-year/%E9%83%A8%E9%97%A8%2F1"
    )


def test_the_address_must_be_http_or_https_and_is_unset_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BIHUAN_BASE_URL", raising=False)
    assert Settings().base_url == ""
    assert Settings(base_url=" https://a.example/bihuan/ ").base_url == "https://a.example/bihuan"
    for bad in ("a.example", "javascript:alert(1)", "ftp://a.example"):
        with pytest.raises(ValidationError, match="BIHUAN_BASE_URL"):
            Settings(base_url=bad)


def _line(link: str) -> ReminderLine:
    return ReminderLine(
        department="县发展和改革局",
        title="重点项目审批时限未达标",
        deadline=date(2026, 11, 19),
        stage="overdue",
        days=3,
        level=EscalationLevel.HEAD,
        link=link,
    )


@pytest.mark.parametrize("link", ["", f"{BASE}/items/7"])
def test_reminders_and_digests_carry_the_items_link(link: str) -> None:
    ctx = ReminderContext(
        department="县发展和改革局",
        stage="overdue",
        items=[_line(link)],
        deadline=date(2026, 11, 19),
        level=EscalationLevel.HEAD,
        business_date=date(2026, 11, 24),
    )
    _subject, html, text = render_reminder(ctx)
    _s, digest = render_digest(
        DigestContext(
            recipient="县发展和改革局", business_date=date(2026, 11, 24), items=[_line(link)]
        )
    )
    if link:
        assert f"查看并答复：{link}\n" in text
        assert f'<a href="{link}">重点项目审批时限未达标</a>' in html
        assert f"   查看：{link}\n" in digest
    else:
        for body in (text, html, digest):
            assert "查看" not in body and "http" not in body


@pytest.mark.parametrize("link", ["", f"{BASE}/problem-lists/2026/mid-year/D01"])
def test_a_problem_list_carries_its_pages_link(link: str) -> None:
    ctx = ProblemListContext(
        department="县发展和改革局",
        year=2026,
        phase=PhaseKind.MID_YEAR,
        findings=[],
        reply_deadline=date(2026, 8, 1),
        issued_on=date(2026, 7, 6),
        link=link,
    )
    _subject, html, text = render_problem_list(ctx)
    if link:
        assert f"在线查看问题清单、逐项报送整改情况：{link}\n" in text
        assert f'<a href="{link}">{link}</a>' in html
    else:
        assert "在线查看" not in text and "在线查看" not in html


def test_an_office_decision_links_to_the_item_and_a_declined_request_says_so() -> None:
    kw = {
        "department": "县发展和改革局",
        "item_id": 7,
        "title": "重点项目审批时限未达标",
        "note": "理由不充分",
        "deadline": date(2026, 11, 19),
        "actor": "编办王主任",
        "on_date": date(2026, 11, 24),
        "office": "莒县县委编办",
    }
    subject, body = notice_text(RectificationAction.DECLINE_EXTENSION, link=f"{BASE}/items/7", **kw)  # type: ignore[arg-type]
    assert subject == "【不同意延期申请】县发展和改革局 整改事项 7"
    assert "不同意该问题延期，请按整改期限2026年11月19日完成整改" in body
    assert f"查看详情：{BASE}/items/7\n" in body
    _s, bare = notice_text(RectificationAction.EXTEND, **kw)  # type: ignore[arg-type]
    assert "查看详情" not in bare


@pytest.mark.parametrize(
    ("step", "text"),
    [
        ("pre-5", "到期前5个工作日提醒"),
        ("due", "到期当日提醒"),
        ("overdue-3", "逾期3个工作日催办"),
        ("escalate-head", "升级提醒：部门主要负责人"),
        ("escalate-leadership", "升级提醒：编办领导"),
        ("ext1:overdue-1", "第1次延期后：逾期1个工作日催办"),
        ("ext2:pre-2", "第2次延期后：到期前2个工作日提醒"),
        ("something-else", "something-else"),
    ],
)
def test_reminder_steps_in_chinese(step: str, text: str) -> None:
    assert describe_step(step) == text
