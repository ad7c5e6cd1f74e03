"""Rendering of 问题清单, 整改提醒 and 每日汇总: content, escaping, strictness."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from jinja2 import UndefinedError

from models.enums import EscalationLevel, FindingCategory, PhaseKind, Severity
from notifications.render import (
    DigestContext,
    FindingLine,
    ProblemListContext,
    ReminderContext,
    ReminderLine,
    render_digest,
    render_problem_list,
    render_reminder,
)

HOSTILE = "县{{7*7}}局<script>alert(1)</script>"


def _problem_list(department: str = "县教育和体育局") -> ProblemListContext:
    return ProblemListContext(
        department=department,
        year=2026,
        phase=PhaseKind.YEAR_END,
        findings=[
            FindingLine(
                title="已批复科室未实际运行",
                category=FindingCategory.STAFFING,
                severity=Severity.HIGH,
                evidence="三定规定设有法规科，现场核查无人员在岗",
                deadline=date(2026, 10, 16),
                section="监督检查科",
            ),
            FindingLine(
                title="义务教育巩固率低于上年",
                category=FindingCategory.INDICATOR,
                severity=Severity.MEDIUM,
                evidence="2026年98.1%，2025年99.0%",
                deadline=date(2026, 11, 3),
                section="机关职能运行监管办公室",
            ),
        ],
        reply_deadline=date(2026, 10, 9),
        issued_on=date(2026, 9, 25),
    )


def test_problem_list_carries_every_field_in_chinese() -> None:
    subject, html, text = render_problem_list(_problem_list())
    assert subject == "【问题清单】县教育和体育局 2026年度年底履职评估问题清单"
    for body in (html, text):
        for expected in (
            "县教育和体育局",
            "机构编制执行问题",  # category label
            "严重",  # severity label
            "一般",
            "已批复科室未实际运行",
            "三定规定设有法规科，现场核查无人员在岗",
            "2026年10月16日",
            "监督检查科",
            "整改台账",
            "2026年10月9日前",
            "共 2 项",
        ):
            assert expected in body, expected
    assert html.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in html


@pytest.mark.reliability
def test_hostile_department_name_renders_inert() -> None:
    subject, html, text = render_problem_list(_problem_list(HOSTILE))
    assert "49" not in html and "49" not in text and "49" not in subject
    assert "{{7*7}}" in text and "{{7*7}}" in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Plain text is not HTML: it keeps the characters as typed (a mail client shows them as text).
    assert "<script>alert(1)</script>" in text


@pytest.mark.reliability
def test_hostile_text_in_findings_and_reminders_is_escaped_in_html() -> None:
    ctx = _problem_list()
    bad = replace(ctx.findings[0], evidence="<img src=x onerror=alert(1)>", title="{{ config }}")
    _, html, _ = render_problem_list(replace(ctx, findings=[bad]))
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{ config }}" in html

    reminder = ReminderContext(
        department=HOSTILE,
        stage="due",
        items=[ReminderLine(HOSTILE, "<b>x</b>", date(2026, 10, 16), "due")],
        deadline=date(2026, 10, 16),
        level=EscalationLevel.CONTACT,
        business_date=date(2026, 10, 16),
    )
    subject, html, text = render_reminder(reminder)
    assert "<script>" not in html and "<b>x</b>" not in html and "49" not in html + text + subject


def test_missing_variable_is_an_error_not_a_blank() -> None:
    ctx = {
        "department": "县财政局",
        "year": 2026,
        "phase": "年中",
        "findings": [],
        "issued_on": date(2026, 7, 1),
        "office": "县委编办",
    }  # reply_deadline missing
    with pytest.raises(UndefinedError):
        render_problem_list(ctx)
    bad_finding = {"title": "x", "category": "c", "severity": "s", "deadline": date(2026, 7, 1)}
    with pytest.raises(UndefinedError):
        render_problem_list({**ctx, "reply_deadline": date(2026, 7, 9), "findings": [bad_finding]})


@pytest.mark.parametrize(
    ("stage", "subject_part", "body_part", "line_part"),
    [
        ("pre_due", "到期前提醒", "将于2026年10月16日到期", "剩余2个工作日"),
        ("due", "到期提醒", "今日（2026年10月16日）到期", "整改期限：2026年10月16日）"),
        ("overdue", "逾期催办", "已超过整改期限（2026年10月16日）", "已逾期2个工作日"),
    ],
)
def test_reminder_wording_by_stage(
    stage: str, subject_part: str, body_part: str, line_part: str
) -> None:
    ctx = ReminderContext(
        department="县财政局",
        stage=stage,
        items=[
            ReminderLine(
                "县财政局", "科室职责交叉", date(2026, 10, 16), stage, 2, EscalationLevel.HEAD
            )
        ],
        deadline=date(2026, 10, 16),
        level=EscalationLevel.HEAD,
        business_date=date(2026, 10, 14),
    )
    subject, html, text = render_reminder(ctx)
    assert subject.startswith(f"【{subject_part}】县财政局")
    assert body_part in text and body_part in html
    assert line_part in text
    assert "提醒层级：部门主要负责人" in text and "部门主要负责人" in html


def test_unknown_stage_is_a_programmer_error() -> None:
    ctx = ReminderContext("县财政局", "sometime", [], date(2026, 10, 16), "x", date(2026, 10, 16))
    with pytest.raises(ValueError, match="unknown reminder stage"):
        render_reminder(ctx)


def test_digest_lists_every_item_once() -> None:
    items = [
        ReminderLine(
            "县教育和体育局",
            "入编出编不及时",
            date(2026, 10, 9),
            "overdue",
            3,
            EscalationLevel.SECTION,
        ),
        ReminderLine(
            "县财政局", "科室职责交叉", date(2026, 10, 16), "pre_due", 1, EscalationLevel.CONTACT
        ),
        ReminderLine(
            "县民政局", "材料未按时报送", date(2026, 10, 14), "due", 0, EscalationLevel.CONTACT
        ),
    ]
    subject, text = render_digest(DigestContext("监督检查科", date(2026, 10, 14), items))
    assert subject == "【每日汇总】2026年10月14日 监督检查科：3项整改事项需关注"
    assert "\n" not in subject
    for i in items:
        assert text.count(i.title) == 1
    assert "已逾期3个工作日" in text and "剩余1个工作日" in text and "今日到期" in text
    assert "督促科室" in text and "部门联络人" in text


def test_newline_in_a_name_cannot_split_the_subject() -> None:
    subject, _ = render_digest(
        DigestContext("监督检查科\nBcc: x@example.org", date(2026, 10, 14), [])
    )
    assert "\n" not in subject and "\r" not in subject
