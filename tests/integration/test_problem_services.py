"""Findings and problem lists through the use cases, on SQLite and PostgreSQL, without Prefect.

The small county is imported by the real importer; its mid-year scores are stored as the
assessment stores them (a typed Breakdown per department), so raising the findings reads what
production reads. Every use case is tried by the users who may not run it, and must then leave
every row as it was, apart from the audit row of the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bihuan.core.access import Actor
from bihuan.core.breakdown import (
    Breakdown,
    ChainLinkLine,
    ChainLinkView,
    ComponentLine,
    IndicatorLine,
)
from bihuan.db import get_engine, session_scope, table, upsert
from bihuan.errors import PermissionDenied, UserError
from bihuan.ingest.load import import_path
from bihuan.services import identity, problems
from bihuan.services.problems import ApproveLists, DeadlineChange, DropFinding
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Component, PhaseKind, UserRole
from models import Cycle, Department, DepartmentAssessment, Phase, SubmissionRequest
from tests.flows.small_county import write_small_county
from tests.users import TODAY, app_for, make_user, office

MID = PhaseKind.MID_YEAR
RAISED_ON = date(2022, 7, 1)
ISSUED_ON = date(2022, 9, 28)  # before National Day: deadlines cross the holiday
OPS = "机关职能运行监管办公室"
CHECK = "监督检查科(实名制管理科)"
EXPECTED = {
    ("A01", "mid-year:indicator:A01-S1-01"),  # 45 < 60
    ("A01", "mid-year:staffing:real_name"),  # one problem: 入编出编不及时 (from the workbook)
    ("A02", "mid-year:chain:CT1"),  # responsible for the chain's shortfall
    ("A02", "mid-year:satisfaction"),  # 50 < 70
    ("B01", "mid-year:submission"),  # nothing submitted in the window
}
CHANGED_TABLES = (
    "finding",
    "problemlist",
    "rectificationitem",
    "rectificationevent",
    "notification",
)


def _breakdown(code: str) -> dict[str, Any]:
    if code == "A01":
        return Breakdown(
            code=code,
            indicators=[
                IndicatorLine(
                    code="A01-S1-01", name="重点项目投资额", kind="quantitative", score=45
                ),
                IndicatorLine(
                    code="A01-S1-02", name="制定年度改革方案", kind="qualitative", score=100
                ),
            ],
        ).to_json()
    if code == "A02":
        link = ChainLinkLine(
            task_code="CT1",
            task_name="招商引资",
            department="A02",
            role="cooperating",
            score=60,
            responsible=True,
            chain=[
                ChainLinkView(department="A01", role="lead", delivered_pct=100),
                ChainLinkView(
                    department="A02",
                    role="cooperating",
                    delivered_pct=60,
                    responsible=True,
                    shortfall="签约项目未落地",
                ),
            ],
        )
        return Breakdown(
            code=code,
            components={Component.CENTRAL_TASKS.value: ComponentLine(links=[link])},
        ).to_json()
    return Breakdown(code=code).to_json()


@pytest.fixture
def scored(db_url: str, tmp_path: Path) -> str:
    """The small county, imported, with its mid-year scores stored as the assessment does."""
    import_path(
        db_url, write_small_county(tmp_path / "c"), year=2022, jurisdiction="juxian", actor="t"
    )
    with session_scope(db_url) as session:
        c, p, d = table(Cycle), table(Phase), table(Department)
        phase_id = session.execute(
            select(p.c.id).join(c, c.c.id == p.c.cycle_id).where(p.c.kind == MID.value)
        ).scalar_one()
        depts = dict(session.execute(select(d.c.code, d.c.id)).tuples().all())
        upsert(
            session,
            DepartmentAssessment,
            [
                {
                    "phase_id": phase_id,
                    "department_id": dept_id,
                    "total": 70.0,
                    "satisfaction": 50.0 if code == "A02" else 90.0,
                    "breakdown": _breakdown(code),
                    "as_of": RAISED_ON,
                }
                for code, dept_id in depts.items()
            ],
            keys=["phase_id", "department_id"],
        )
        upsert(
            session,
            SubmissionRequest,
            [
                {
                    "phase_id": phase_id,
                    "department_id": depts["B01"],
                    "status": "missing",
                    "requested_on": date(2022, 6, 1),
                    "due_on": date(2022, 6, 30),
                }
            ],
            keys=["phase_id", "department_id"],
        )
    return db_url


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


def snapshot(url: str) -> dict[str, list[Any]]:
    return {t: rows(url, f"SELECT * FROM {t} ORDER BY id") for t in CHANGED_TABLES}


def audit_since(url: str, last_id: int) -> list[Any]:
    return rows(
        url,
        "SELECT user_id, actor, action, entity_key FROM auditlog WHERE id > :i ORDER BY id",
        i=last_id,
    )


def last_audit_id(url: str) -> int:
    return int(rows(url, "SELECT coalesce(max(id), 0) FROM auditlog")[0][0])


def disabled_office(url: str) -> Actor:
    gone = make_user(url, "gone", UserRole.OFFICE)
    with UnitOfWork(app_for(url)) as uow:
        admin = identity.actor_for(uow, "admin")
        identity.set_active(uow, "gone", False, admin, TODAY)
    return gone


def raise_as(url: str, actor: Actor) -> problems.RaiseResult:
    with UnitOfWork(app_for(url)) as uow:
        return problems.raise_findings(uow, "juxian", 2022, MID, actor, RAISED_ON)


def approve_as(url: str, actor: Actor, cmd: ApproveLists | None = None) -> Any:
    cmd = cmd or ApproveLists(jurisdiction="juxian", year=2022, phase=MID)
    with UnitOfWork(app_for(url)) as uow:
        return problems.approve_problem_lists(uow, cmd, actor, ISSUED_ON)


def finding_id(url: str, key: str) -> int:
    return int(rows(url, "SELECT id FROM finding WHERE key = :k", k=key)[0][0])


# ------------------------------------------------------------------ raising


def test_office_raises_the_findings_once_and_the_audit_names_the_user(scored: str) -> None:
    boss = office(scored)
    raised = raise_as(scored, boss)
    assert (raised.new_findings, raised.drafts, raised.pending) == (5, 3, 5)
    assert {(r.department, r.key) for r in raised.shown} == EXPECTED
    assert raised.office == "莒县县委编办"
    staffing = next(r for r in raised.shown if r.category == "staffing")
    assert (staffing.category_label, staffing.status_label) == ("机构编制执行问题", "待审核")
    assert staffing.supervising_section == CHECK
    chain = next(r for r in raised.shown if r.key.endswith("CT1"))
    assert "签约项目未落地" in chain.title  # the shortfall, read from the typed breakdown
    measures = rows(scored, "SELECT evidence FROM finding WHERE key LIKE '%staffing%'")[0][0]
    assert "莒县县委编办" in str(measures) and "县委编办监督检查科" not in str(measures)
    again = raise_as(scored, boss)
    assert (again.new_findings, again.pending) == (0, 5)
    assert rows(scored, "SELECT count(*) FROM finding")[0][0] == 5
    assert rows(scored, "SELECT count(*) FROM notification")[0][0] == 0  # nothing sent yet
    audit = rows(scored, "SELECT user_id, actor FROM auditlog WHERE action = 'findings_raised'")
    assert audit == [(boss.user_id, "office")] * 2


def test_approval_description_is_a_template_signed_by_the_office(scored: str) -> None:
    raised = raise_as(scored, office(scored))
    text_ = problems.approval_request(raised, problem="approver '王主任' is not a user")
    assert "## 2022年年中问题清单待审核 (5 条问题)" in text_
    assert "| 机构编制执行问题 | 一般 |" in text_
    assert text_.rstrip().endswith("莒县县委编办")
    assert "上次提交未能审核" in text_


# ------------------------------------------------------------------ approving


def test_approval_drops_moves_a_deadline_creates_items_and_queues_the_lists(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    drop, move = (
        finding_id(scored, "mid-year:satisfaction"),
        finding_id(scored, "mid-year:chain:CT1"),
    )
    before = last_audit_id(scored)
    result = approve_as(
        scored,
        boss,
        ApproveLists(
            jurisdiction="juxian",
            year=2022,
            phase=MID,
            drop=[DropFinding(finding_id=drop, reason="镇街评价样本不足")],
            deadlines=[DeadlineChange(finding_id=move, deadline=date(2022, 12, 30))],
        ),
    )
    assert (result.approved_lists, result.items_created, result.dropped) == (3, 4, 1)
    assert result.deadline_changes == 1 and result.by_department == {"A01": 2, "A02": 1, "B01": 1}
    assert (result.approved_by, result.approver_name) == ("office", "编办王主任")
    items = dict(
        rows(
            scored,
            "SELECT f.key, r.deadline FROM rectificationitem r "
            "JOIN finding f ON f.id = r.finding_id",
        )
    )
    assert "mid-year:satisfaction" not in items
    assert str(items["mid-year:chain:CT1"]) == "2022-12-30"
    # 10 working days from 2022-09-28 across National Day (Oct 8 and 9 worked in exchange)
    assert str(items["mid-year:submission"]) == "2022-10-17"
    sections = dict(
        rows(
            scored,
            "SELECT f.key, r.supervising_section FROM rectificationitem r "
            "JOIN finding f ON f.id = r.finding_id",
        )
    )
    assert sections["mid-year:staffing:real_name"] == CHECK
    events = rows(scored, "SELECT seq, to_status, actor, reason FROM rectificationevent")
    assert events == [(1, "open", "编办王主任", "问题清单审核下发")] * 4
    sent = rows(scored, "SELECT recipient_tag, kind, body FROM notification ORDER BY recipient_tag")
    assert [(t, k) for t, k, _ in sent] == [
        ("a01", "problem_list"),
        ("a02", "problem_list"),
        ("b01", "problem_list"),
    ]
    assert all("莒县县委编办" in body for _, _, body in sent)
    lists = rows(scored, "SELECT status, issued_on, approved_by FROM problemlist")
    assert {(s, str(d), a) for s, d, a in lists} == {("sent", "2022-09-28", "office")}
    audit = audit_since(scored, before)
    assert {(u, a) for u, _, a, _ in audit} == {
        (boss.user_id, "finding_dropped"),
        (boss.user_id, "deadline_changed"),
        (boss.user_id, "problem_lists_approved"),
    }
    # nothing is left to approve: a second approval is a clear error
    with pytest.raises(UserError, match="nothing awaits approval"):
        approve_as(scored, boss)


def test_a_list_whose_findings_are_all_dropped_is_approved_and_not_sent(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    drop = finding_id(scored, "mid-year:submission")
    approve_as(
        scored,
        boss,
        ApproveLists(
            jurisdiction="juxian",
            year=2022,
            phase=MID,
            drop=[DropFinding(finding_id=drop, reason="材料已补交")],
        ),
    )
    lists = dict(
        rows(
            scored,
            "SELECT d.code, p.status FROM problemlist p JOIN department d ON d.id = p.department_id",
        )
    )
    assert lists == {"A01": "sent", "A02": "sent", "B01": "approved"}
    assert rows(scored, "SELECT count(*) FROM notification WHERE recipient_tag = 'b01'")[0][0] == 0


def test_a_rejection_sends_nothing_and_is_recorded(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    before = snapshot(scored)
    result = approve_as(
        scored, boss, ApproveLists(jurisdiction="juxian", year=2022, phase=MID, approve=False)
    )
    assert not result.approved and result.items_created == 0
    assert snapshot(scored) == before
    assert rows(scored, "SELECT user_id FROM auditlog WHERE action = 'problem_lists_rejected'") == [
        (boss.user_id,)
    ]


SUBMISSION = "mid-year:submission"
LATER = date(2022, 12, 1)


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        (lambda fid: {"drop": [DropFinding(finding_id=9999, reason="no such")]}, "9999 is not"),
        (lambda fid: {"deadlines": [DeadlineChange(finding_id=-1, deadline=LATER)]}, "-1 is not"),
        (
            lambda fid: {"deadlines": [DeadlineChange(finding_id=fid, deadline=date(2022, 9, 1))]},
            "before the day of approval",
        ),
        (
            lambda fid: {
                "drop": [DropFinding(finding_id=fid, reason="重复")],
                "deadlines": [DeadlineChange(finding_id=fid, deadline=LATER)],
            },
            "both dropped and given a deadline",
        ),
    ],
    ids=["unknown-drop", "unknown-deadline", "past-deadline", "drop-and-move"],
)
def test_an_invalid_decision_changes_nothing(
    scored: str, decision: Callable[[int], dict[str, Any]], message: str
) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    given = decision(finding_id(scored, SUBMISSION))
    before, audit = snapshot(scored), last_audit_id(scored)
    with pytest.raises(UserError, match=message):
        approve_as(scored, boss, ApproveLists(jurisdiction="juxian", year=2022, phase=MID, **given))
    assert snapshot(scored) == before and last_audit_id(scored) == audit


# ------------------------------------------------------------------ refusals


def _actors(url: str) -> dict[str, Actor]:
    return {
        "department": make_user(url, "a02lx", UserRole.DEPARTMENT, department="A02"),
        "leader": make_user(url, "lead", UserRole.LEADER),
        "section": make_user(url, "ops", UserRole.SECTION, section=OPS),
        "disabled": disabled_office(url),
        "admin": identity_actor(url, "admin"),
    }


def identity_actor(url: str, login: str) -> Actor:
    with UnitOfWork(app_for(url)) as uow:
        return identity.actor_for(uow, login)


USE_CASES: dict[str, Callable[[str, Actor], Any]] = {
    "raise_findings": raise_as,
    "approve_problem_lists": approve_as,
}


@pytest.mark.parametrize("use_case", sorted(USE_CASES))
@pytest.mark.parametrize("who", ["department", "leader", "section", "disabled", "admin"])
def test_who_may_not_raise_or_approve_is_refused_and_nothing_changes(
    scored: str, use_case: str, who: str
) -> None:
    boss = office(scored)
    if use_case == "approve_problem_lists":
        raise_as(scored, boss)
    actor = _actors(scored)[who]
    before, audit = snapshot(scored), last_audit_id(scored)
    with pytest.raises(PermissionDenied) as refused:
        USE_CASES[use_case](scored, actor)
    assert refused.value.exit_code == 3
    assert snapshot(scored) == before
    assert audit_since(scored, audit) == [
        (actor.user_id, actor.login, "access_denied", refused.value.action)
    ]


@pytest.mark.parametrize(
    ("login", "why"),
    [
        ("王主任", "no user with this login"),  # a display name, not a login
        ("gone", "the account is disabled"),
        ("a02lx", "department role"),
        ("lead", "leader role"),
    ],
)
def test_a_named_approver_must_be_an_active_office_user(scored: str, login: str, why: str) -> None:
    _actors(scored)
    audit = last_audit_id(scored)
    with pytest.raises(PermissionDenied, match=why), UnitOfWork(app_for(scored)) as uow:
        problems.approver(uow, login, "juxian")
    [(_, actor, action, _key)] = audit_since(scored, audit)
    assert (actor, action) == (login, "access_denied")


def test_an_office_user_of_another_jurisdiction_may_not_approve(scored: str) -> None:
    with UnitOfWork(app_for(scored)) as uow:
        uow.jurisdictions.get_or_create("rizhao", "日照市")
    other = make_user(scored, "rz-office", UserRole.OFFICE, jurisdiction="rizhao")
    assert other.jurisdiction_code == "rizhao"
    with (
        pytest.raises(PermissionDenied, match="another jurisdiction"),
        UnitOfWork(app_for(scored)) as uow,
    ):
        problems.approver(uow, "rz-office", "juxian")


# ------------------------------------------------------------------ listings


def test_listings_are_scoped_by_the_acting_user(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    approve_as(scored, boss)
    users = _actors(scored)
    check = make_user(scored, "check", UserRole.SECTION, section=CHECK)
    with UnitOfWork(app_for(scored), readonly=True) as uow:

        def keys(actor: Actor, **kw: Any) -> set[str]:
            return {r.key for r in problems.list_findings(uow, actor, "juxian", 2022, **kw)}

        assert keys(boss) == {k for _, k in EXPECTED} == keys(users["leader"])
        assert keys(users["department"]) == {"mid-year:chain:CT1", "mid-year:satisfaction"}
        assert keys(check) == {"mid-year:staffing:real_name"}
        assert keys(users["section"]) == {k for _, k in EXPECTED} - {"mid-year:staffing:real_name"}
        assert keys(boss, department="B01") == {"mid-year:submission"}
        assert keys(boss, phase=PhaseKind.YEAR_END) == set()
        row = problems.list_findings(uow, boss, "juxian", 2022, department="B01")[0]
        assert (row.severity_label, row.status_label, row.phase_label) == ("严重", "已审核", "年中")
        assert [r.department for r in problems.list_problem_lists(uow, boss, "juxian", 2022)] == [
            "A01",
            "A02",
            "B01",
        ]
        mine = problems.list_problem_lists(uow, users["department"], "juxian", 2022)
        assert [(r.department, r.status_label, r.findings, r.items) for r in mine] == [
            ("A02", "已发送", 2, 2)
        ]
        assert [r.department for r in problems.list_problem_lists(uow, check, "juxian", 2022)] == [
            "A01"
        ]
        assert problems.pending_findings(uow, boss, "juxian", 2022, MID) == []
    with (
        pytest.raises(PermissionDenied, match="is not of department A02"),
        UnitOfWork(app_for(scored), readonly=True) as uow,
    ):
        problems.list_findings(uow, users["department"], "juxian", 2022, department="B01")
    with (
        pytest.raises(PermissionDenied, match="disabled"),
        UnitOfWork(app_for(scored), readonly=True) as uow,
    ):
        problems.list_findings(uow, users["disabled"], "juxian", 2022)


# ------------------------------------------------------------------ per department, preview, portal


def lists_by_code(url: str) -> dict[str, str]:
    return dict(
        rows(
            url,
            "SELECT d.code, p.status FROM problemlist p JOIN department d ON d.id = p.department_id",
        )
    )


def audit_details(url: str, action: str) -> list[dict[str, Any]]:
    import json

    found = rows(url, "SELECT details FROM auditlog WHERE action = :a ORDER BY id", a=action)
    return [json.loads(d) if isinstance(d, str) else d for (d,) in found]


def test_approving_one_department_leaves_the_others_draft_then_the_rest(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    one = approve_as(
        scored, boss, ApproveLists(jurisdiction="juxian", year=2022, phase=MID, departments=["A01"])
    )
    assert (one.approved_lists, one.items_created, one.by_department) == (1, 2, {"A01": 2})
    assert (one.departments, one.all_departments, one.still_pending) == (["A01"], False, 3)
    assert lists_by_code(scored) == {"A01": "sent", "A02": "draft", "B01": "draft"}
    assert [t for (t,) in rows(scored, "SELECT recipient_tag FROM notification")] == ["a01"]
    assert rows(scored, "SELECT count(*) FROM rectificationitem")[0][0] == 2
    statuses = dict(
        rows(
            scored,
            "SELECT d.code || ':' || f.key, f.status FROM finding f "
            "JOIN department d ON d.id = f.department_id",
        )
    )
    assert {k.split(":")[0] for k, v in statuses.items() if v == "proposed"} == {"A02", "B01"}
    [first] = audit_details(scored, "problem_lists_approved")
    assert (first["departments"], first["all"], first["still_pending"]) == (["A01"], False, 3)
    # A01's list cannot be approved twice; the rest can, all at once
    with pytest.raises(UserError, match="A01 has no draft problem list"):
        approve_as(
            scored,
            boss,
            ApproveLists(jurisdiction="juxian", year=2022, phase=MID, departments=["A01"]),
        )
    rest = approve_as(scored, boss)
    assert (rest.approved_lists, rest.items_created, rest.departments) == (2, 3, ["A02", "B01"])
    assert rest.all_departments and rest.still_pending == 0
    assert lists_by_code(scored) == {"A01": "sent", "A02": "sent", "B01": "sent"}
    assert rows(scored, "SELECT count(*) FROM notification")[0][0] == 3
    second = audit_details(scored, "problem_lists_approved")[1]
    assert (second["departments"], second["all"]) == (["A02", "B01"], True)


def test_a_decision_about_one_department_may_not_touch_anothers_findings(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    other = finding_id(scored, SUBMISSION)  # B01's
    before, audit = snapshot(scored), last_audit_id(scored)
    with pytest.raises(UserError, match=f"finding {other} is of B01, which this decision does"):
        approve_as(
            scored,
            boss,
            ApproveLists(
                jurisdiction="juxian",
                year=2022,
                phase=MID,
                departments=["A01"],
                drop=[DropFinding(finding_id=other, reason="不属本次审核")],
            ),
        )
    with pytest.raises(UserError, match="Z09 has no draft problem list"):
        approve_as(
            scored,
            boss,
            ApproveLists(jurisdiction="juxian", year=2022, phase=MID, departments=["Z09"]),
        )
    assert snapshot(scored) == before and last_audit_id(scored) == audit


@pytest.mark.parametrize(
    ("deadline", "suggested"),
    [
        (date(2022, 10, 15), "the next working day is 2022-10-17 (星期一)"),  # a Saturday
        (date(2022, 10, 3), "the next working day is 2022-10-08 (星期六)"),  # National Day
    ],
    ids=["saturday", "holiday"],
)
def test_a_deadline_on_a_non_working_day_is_refused_with_the_next_working_day(
    scored: str, deadline: date, suggested: str
) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    move = finding_id(scored, SUBMISSION)
    before = snapshot(scored)
    with pytest.raises(UserError, match="is not a working day") as refused:
        approve_as(
            scored,
            boss,
            ApproveLists(
                jurisdiction="juxian",
                year=2022,
                phase=MID,
                deadlines=[DeadlineChange(finding_id=move, deadline=deadline)],
            ),
        )
    assert suggested in str(refused.value)
    assert snapshot(scored) == before
    # a weekend day worked in exchange (调休) is a working day: accepted
    worked = approve_as(
        scored,
        boss,
        ApproveLists(
            jurisdiction="juxian",
            year=2022,
            phase=MID,
            deadlines=[DeadlineChange(finding_id=move, deadline=date(2022, 10, 8))],
        ),
    )
    assert worked.deadline_changes == 1


def test_deadlines_count_from_the_day_of_approval(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)  # raised on 2022-07-01
    approve_as(scored, boss)  # approved on ISSUED_ON, 2022-09-28
    [(issued, deadline)] = rows(
        scored,
        "SELECT r.issued_on, r.deadline FROM rectificationitem r "
        "JOIN finding f ON f.id = r.finding_id WHERE f.key = :k",
        k=SUBMISSION,
    )
    assert (str(issued), str(deadline)) == ("2022-09-28", "2022-10-17")


def test_the_preview_renders_each_list_as_it_will_be_sent_and_changes_nothing(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    before, audit = snapshot(scored), last_audit_id(scored)
    with UnitOfWork(app_for(scored), readonly=True) as uow:
        shown = problems.preview_problem_lists(uow, boss, "juxian", 2022, MID, ISSUED_ON)
        only = problems.preview_problem_lists(uow, boss, "juxian", 2022, MID, ISSUED_ON, ["B01"])
    assert (shown.pending, shown.drafts) == (5, 3)
    assert [p.department for p in shown.lists] == ["A01", "A02", "B01"]
    assert [p.department for p in only.lists] == ["B01"]
    b01 = only.lists[0]
    assert b01.recipients == ["b01"] and "问题清单" in b01.subject
    assert [(f.severity_label, str(f.deadline)) for f in b01.findings] == [("严重", "2022-10-17")]
    assert b01.findings[0].title in b01.text and "2022年10月17日" in b01.text
    assert "<table>" in b01.html and "莒县县委编办" in b01.html
    # the preview is what the approval sends
    approve_as(scored, boss, ApproveLists(jurisdiction="juxian", year=2022, phase=MID))
    [(body,)] = rows(scored, "SELECT body FROM notification WHERE recipient_tag = 'b01'")
    assert body == b01.text
    assert before["notification"] == [] and audit < last_audit_id(scored)
    users = _actors(scored)
    for who in ("leader", "department", "section"):
        with (
            pytest.raises(PermissionDenied),
            UnitOfWork(app_for(scored), readonly=True) as uow,
        ):
            problems.preview_problem_lists(uow, users[who], "juxian", 2022, MID, ISSUED_ON)


class FakeRuns:
    """A Prefect server as the use case sees it: maybe one paused run, and what it was sent."""

    def __init__(self, run_id: str | None) -> None:
        self.run_id = run_id
        self.asked: list[tuple[str, int, PhaseKind]] = []
        self.resumed: list[tuple[str, dict[str, Any]]] = []

    def waiting(self, jurisdiction: str, year: int, phase: PhaseKind) -> str | None:
        self.asked.append((jurisdiction, year, phase))
        return self.run_id

    def resume(self, flow_run_id: str, run_input: dict[str, Any]) -> None:
        self.resumed.append((flow_run_id, run_input))


def submit_as(url: str, actor: Actor, runs: FakeRuns | None, **kw: Any) -> Any:
    cmd = ApproveLists(jurisdiction="juxian", year=2022, phase=MID, **kw)
    with UnitOfWork(app_for(url)) as uow:
        return problems.submit_approval(uow, cmd, actor, ISSUED_ON, runs)


def test_with_no_run_waiting_the_portal_applies_the_decision_itself(scored: str) -> None:
    boss = office(scored)
    raise_as(scored, boss)
    runs = FakeRuns(None)
    outcome = submit_as(scored, boss, runs, departments=["A02"])
    assert not outcome.resumed and outcome.result.approved_lists == 1
    assert runs.asked == [("juxian", 2022, MID)] and runs.resumed == []
    assert rows(scored, "SELECT user_id FROM auditlog WHERE action = 'problem_lists_approved'") == [
        (boss.user_id,)
    ]
    local = submit_as(scored, boss, None)  # local mode: no Prefect server at all
    assert local.result.departments == ["A01", "B01"]


def test_a_waiting_run_is_resumed_with_the_decision_and_nothing_is_applied_here(
    scored: str,
) -> None:
    from flows.problems import ProblemListApproval

    boss = office(scored)
    raise_as(scored, boss)
    drop = finding_id(scored, "mid-year:satisfaction")
    runs = FakeRuns("run-1")
    before = snapshot(scored)
    outcome = submit_as(
        scored,
        boss,
        runs,
        departments=["A02"],
        drop=[DropFinding(finding_id=drop, reason="样本不足")],
    )
    assert (outcome.resumed, outcome.flow_run_id, outcome.approver) == (True, "run-1", "office")
    [(run_id, given)] = runs.resumed
    assert run_id == "run-1"
    form = ProblemListApproval.model_validate(given)  # what the paused run's form accepts
    assert (form.approver, form.departments, form.approved_on) == ("office", ["A02"], ISSUED_ON)
    assert [(d.finding_id, d.reason) for d in form.drop] == [(drop, "样本不足")]
    assert snapshot(scored) == before
    [resumed] = audit_details(scored, "problem_lists_approval_resumed")
    assert (resumed["flow_run_id"], resumed["departments"]) == ("run-1", ["A02"])
    # an invalid decision never reaches the run
    with pytest.raises(UserError, match="9999 is not awaiting"):
        submit_as(scored, boss, runs, drop=[DropFinding(finding_id=9999, reason="无此问题")])
    # who may not approve is refused before any run is looked up
    lead = make_user(scored, "lead", UserRole.LEADER)
    asked = len(runs.asked)
    with pytest.raises(PermissionDenied):
        submit_as(scored, lead, runs)
    assert len(runs.asked) == asked and len(runs.resumed) == 1


def test_one_number_per_problem_in_the_list_the_workbook_and_the_portal(
    scored: str, tmp_path: Path
) -> None:
    """问题编号 in the problem list = 事项编号 in the workbook = the item the CLI names, even
    when a dropped finding leaves a gap (before, the list said 16 where the workbook said 18)."""
    import openpyxl

    from bihuan.rectify_excel import write_workbooks
    from bihuan.services import rectification

    boss = office(scored)
    raise_as(scored, boss)
    first = min(int(r[0]) for r in rows(scored, "SELECT id FROM finding"))
    approve_as(
        scored,
        boss,
        ApproveLists(
            jurisdiction="juxian",
            year=2022,
            phase=MID,
            drop=[DropFinding(finding_id=first, reason="口径有误")],
        ),
    )
    items = rows(
        scored,
        "SELECT r.id, r.finding_id, d.code FROM rectificationitem r "
        "JOIN department d ON d.id = r.department_id",
    )
    assert items and all(item_id == fid for item_id, fid, _ in items)
    bodies = dict(rows(scored, "SELECT recipient_tag, body FROM notification"))
    with UnitOfWork(app_for(scored), readonly=True) as uow:
        export = rectification.export_rows(uow, boss, "juxian")
    books = write_workbooks(export, tmp_path / "books")
    numbers = {
        int(row[0])
        for book in books
        for row in openpyxl.load_workbook(book).worksheets[0].iter_rows(min_row=2, values_only=True)
    }
    assert numbers == {item_id for item_id, _, _ in items}
    for item_id, _, code in items:
        assert f"问题编号 {item_id}" in bodies[code.lower()]
        with UnitOfWork(app_for(scored), readonly=True) as uow:
            doc = problems.problem_list_document(uow, boss, "juxian", 2022, MID, code)
        assert item_id in {f.number for f in doc.findings}
        assert all(f.number == f.item_id for f in doc.findings)
