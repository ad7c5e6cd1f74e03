"""The rectification use cases without Prefect, on SQLite and PostgreSQL: who may make which move
on which item, what a refusal leaves behind (only its own audit row), and that every audit row
of a move names the real user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bihuan.core.access import Actor
from bihuan.core.rectification import Action
from bihuan.db import get_engine, table
from bihuan.errors import PermissionDenied, UserError
from bihuan.services import identity, notifications, rectification
from bihuan.services.rectification import Act, ItemNotFound
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from models import AuditLog
from tests.users import TODAY, app_for, make_user

from .rectify_items import REPO_CONFIG, make_items, snapshot

STAFFING, CHAIN, SATISFACTION, MISSING = (
    "staffing:real_name",  # A01, supervised by the inspection section
    "central:CT1",  # A02
    "satisfaction:low",  # A02
    "submission:missing",  # B01
)
D = date(2022, 7, 11)

# Every move with the inputs it needs, so that only the permission can refuse it.
MOVES: dict[str, dict[str, Any]] = {
    "respond": {"reason": "已启动"},
    Action.START: {"reason": "已启动"},
    Action.REPORT_FIXED: {"reason": "已整改", "evidence_refs": ("整改报告",)},
    Action.REQUEST_CANNOT_SOLVE: {"explanation": "省级事权", "alternative": "按季度报送"},
    Action.VERIFY_ACCEPT: {"reason": "到位"},
    Action.VERIFY_REJECT: {"reason": "材料不足"},
    Action.EXTEND: {"reason": "等待批复", "extend_by": 5},
    Action.APPROVE_CANNOT_SOLVE: {"reason": "同意"},
    Action.DENY_CANNOT_SOLVE: {"reason": "不同意"},
    Action.REOPEN: {"reason": "问题复发"},
    Action.REQUEST_EXTENSION: {"reason": "等待批复", "extend_by": 10},
    Action.DECLINE_EXTENSION: {"reason": "理由不充分"},
}
RESPONSES = (
    "respond",
    Action.START,
    Action.REPORT_FIXED,
    Action.REQUEST_CANNOT_SOLVE,
    Action.REQUEST_EXTENSION,
)
VERIFICATIONS = (Action.VERIFY_ACCEPT, Action.VERIFY_REJECT)


@pytest.fixture
def county(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The small county's four mid-year items and one user of every kind."""
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(REPO_CONFIG))
    from bihuan.settings import reset_settings

    reset_settings()
    items = make_items(db_url, tmp_path)
    with UnitOfWork(app_for(db_url), readonly=True) as uow:
        jur = uow.jurisdictions.require("juxian")
        assert jur.id is not None
        sections = {r.id: r.supervising_section for r in uow.rectification.views(jur.id)}
    staffing_section = sections[items[STAFFING]]
    other_section = next(s for s in sections.values() if s != staffing_section)
    user: Callable[..., Actor] = lambda login, role, **kw: make_user(db_url, login, role, **kw)  # noqa: E731
    people = {
        "office": user("likz", UserRole.OFFICE, name="李科长"),
        "a01": user("A01lx", UserRole.DEPARTMENT, department="A01", name="张三"),
        "a02": user("A02lx", UserRole.DEPARTMENT, department="A02", name="财政局联络人"),
        "b01": user("B01lx", UserRole.DEPARTMENT, department="B01"),
        "inspection": user("jck", UserRole.SECTION, section=staffing_section, name="监督检查科"),
        "ops": user("ops", UserRole.SECTION, section=other_section),
        "leader": user("lead", UserRole.LEADER),
        "auditor": user("audit", UserRole.AUDITOR),
        "admin": user("root", UserRole.ADMIN),
        "old_office": user("oldoffice", UserRole.OFFICE),
        "old_a01": user("oldA01", UserRole.DEPARTMENT, department="A01"),
    }
    with UnitOfWork(app_for(db_url)) as uow:
        for login in ("oldoffice", "oldA01"):
            identity.set_active(uow, login, False, people["admin"], TODAY)
    return {"url": db_url, "items": items, "people": people}


def act(url: str, actor: Actor, item_id: int, action: Action | str, **kw: Any) -> Any:
    cmd = Act(jurisdiction="juxian", item_id=item_id, action=action, **kw)
    with UnitOfWork(app_for(url)) as uow:
        return rectification.act(uow, cmd, actor, D)


def refusals(url: str) -> list[tuple[int | None, str]]:
    al = table(AuditLog)
    with get_engine(url).connect() as conn:
        return [
            (r.user_id, r.entity_key)
            for r in conn.execute(
                select(al).where(al.c.action == "access_denied").order_by(al.c.id)
            )
        ]


def move_audits(url: str, item_id: int) -> list[Any]:
    al = table(AuditLog)
    with get_engine(url).connect() as conn:
        return list(
            conn.execute(
                select(al)
                .where(al.c.entity == "rectification_item", al.c.entity_key == str(item_id))
                .order_by(al.c.id)
            )
        )


def refused_cases() -> list[tuple[str, str, str]]:
    """(who, move, why) for every move: another department, the leader, disabled users, and
    every role that lacks the move's permission or scope. All on A01's staffing item."""
    cases = []
    for move in MOVES:
        cases += [
            (who, str(move), why)
            for who, why in (
                ("b01", "not of department B01" if move in RESPONSES else "may not"),
                ("leader", "the leader role"),
                ("auditor", "the auditor role"),
                ("admin", "the admin role"),
                ("old_office", "the account is disabled"),
                ("old_a01", "the account is disabled"),
            )
        ]
        if move in RESPONSES:
            cases += [(s, str(move), "the section role") for s in ("inspection", "ops")]
        elif move in VERIFICATIONS:
            cases += [("a01", str(move), "the department role"), ("ops", str(move), "supervised")]
        else:  # the office's decisions
            cases += [
                ("a01", str(move), "the department role"),
                ("inspection", str(move), "the section role"),
            ]
    return cases


def test_every_move_is_refused_to_whoever_may_not_make_it_and_changes_nothing(
    county: dict[str, Any],
) -> None:
    url, item = county["url"], county["items"][STAFFING]
    people = county["people"]
    cases = refused_cases()
    assert len(cases) == len(MOVES) * 8
    for who, move, why in cases:
        actor = people[who]
        before = snapshot(url, without_refusals=True)
        with pytest.raises(PermissionDenied, match=why):
            act(url, actor, item, move, **MOVES[move])
        assert snapshot(url, without_refusals=True) == before, (who, move)
        assert refusals(url)[-1] == (actor.user_id, f"{move} item {item}"), (who, move)


def test_each_move_by_whoever_may_make_it_is_audited_under_the_real_user(
    county: dict[str, Any],
) -> None:
    url, items, p = county["url"], county["items"], county["people"]
    staffing, chain, missing = items[STAFFING], items[CHAIN], items[MISSING]
    script = [
        # (who, item, move, status after, capacity recorded)
        ("a01", staffing, "respond", "in_progress", "department"),
        ("a01", staffing, "respond", "in_progress", "department"),  # a progress note
        ("a01", staffing, Action.REPORT_FIXED, "reported_fixed", "department"),
        ("inspection", staffing, Action.VERIFY_REJECT, "reopened", "coordinator"),
        ("office", staffing, Action.EXTEND, "reopened", "coordinator"),
        ("a01", staffing, Action.REPORT_FIXED, "reported_fixed", "department"),
        ("inspection", staffing, Action.VERIFY_ACCEPT, "verified_closed", "coordinator"),
        ("office", staffing, Action.REOPEN, "reopened", "coordinator"),
        ("a02", chain, Action.REQUEST_CANNOT_SOLVE, "cannot_solve_requested", "department"),
        ("office", chain, Action.DENY_CANNOT_SOLVE, "in_progress", "coordinator"),
        ("a02", chain, Action.REQUEST_CANNOT_SOLVE, "cannot_solve_requested", "department"),
        ("office", chain, Action.APPROVE_CANNOT_SOLVE, "cannot_solve", "coordinator"),
        # the office answers on a department's behalf, and the whole ladder of office moves
        ("office", missing, "respond", "in_progress", "coordinator"),
        ("office", missing, Action.REPORT_FIXED, "reported_fixed", "coordinator"),
        ("office", missing, Action.VERIFY_ACCEPT, "verified_closed", "coordinator"),
    ]
    for who, item, move, status, capacity in script:
        actor = p[who]
        out = act(url, actor, item, move, **MOVES[move])
        assert (out.status.value, out.capacity.value) == (status, capacity), (who, move)
        audit = move_audits(url, item)[-1]
        assert (audit.user_id, audit.actor) == (actor.user_id, actor.login), (who, move)
        assert audit.details["by"] == actor.display_name and audit.details["seq"] == out.seq
    assert refusals(url) == []
    with UnitOfWork(app_for(url), readonly=True) as uow:
        history = rectification.item_history(uow, p["office"], "juxian", staffing).history
    assert [h.actor for h in history] == ["编办王主任", "张三", "张三", "张三", "监督检查科", "李科长",
                                          "张三", "监督检查科", "李科长"]  # fmt: skip
    assert [h.action for h in history][1:3] == ["start", "progress"]


def test_the_office_records_a_departments_own_answer_in_its_capacity(
    county: dict[str, Any],
) -> None:
    from bihuan.core.rectification import TransitionError
    from bihuan.vocab import Capacity

    url, item, office = county["url"], county["items"][MISSING], county["people"]["office"]
    out = act(url, office, item, "respond", reason="纸质答复", capacity=Capacity.DEPARTMENT)
    assert out.capacity is Capacity.DEPARTMENT
    # and a department user cannot act as the office: its capacity is always its department's
    a01 = county["people"]["a01"]
    staffing = county["items"][STAFFING]
    out = act(url, a01, staffing, "respond", reason="x", capacity=Capacity.COORDINATOR)
    assert out.capacity is Capacity.DEPARTMENT
    with pytest.raises(TransitionError, match="a department cannot extend"):
        act(url, office, item, Action.EXTEND, capacity=Capacity.DEPARTMENT, **MOVES[Action.EXTEND])


# ------------------------------------------------------------------ reading


def listed(url: str, actor: Actor, **kw: Any) -> list[str]:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        return [
            f"{r.department}:{r.category}"
            for r in rectification.list_items(uow, actor, "juxian", **kw)
        ]


def test_the_ledger_is_scoped_to_what_the_user_may_see(county: dict[str, Any]) -> None:
    url, p = county["url"], county["people"]
    everything = ["A01:staffing", "A02:central_task", "A02:satisfaction", "B01:missing_submission"]
    assert listed(url, p["office"]) == everything
    assert listed(url, p["leader"]) == everything
    assert listed(url, p["a02"]) == ["A02:central_task", "A02:satisfaction"]
    assert listed(url, p["a02"], department="A02", status="open") == [
        "A02:central_task",
        "A02:satisfaction",
    ]
    assert listed(url, p["inspection"]) == ["A01:staffing"]
    assert listed(url, p["inspection"], department="A02") == []
    assert listed(url, p["office"], department="B01", year=2022) == ["B01:missing_submission"]
    with UnitOfWork(app_for(url), readonly=True) as uow:
        (row,) = rectification.list_items(uow, p["a01"], "juxian")
    assert (row.status_label, row.category_label, row.severity_label) == (
        "待整改",
        "机构编制执行问题",
        "一般",
    )
    assert row.escalation_level is None and row.escalation_level_label == ""
    for who, kw, why in (
        ("a01", {"department": "A02"}, "is not of department A01"),
        ("old_a01", {}, "disabled"),
        ("old_office", {}, "disabled"),
    ):
        with pytest.raises(PermissionDenied, match=why):
            listed(url, p[who], **kw)
    with pytest.raises(UserError, match="'done' is not a status"):
        listed(url, p["office"], status="done")


def test_an_item_the_user_may_not_see_is_answered_like_one_that_does_not_exist(
    county: dict[str, Any],
) -> None:
    url, items, p = county["url"], county["items"], county["people"]
    staffing = items[STAFFING]

    def show(who: str, item_id: int) -> rectification.ItemHistory:
        with UnitOfWork(app_for(url), readonly=True) as uow:
            return rectification.item_history(uow, p[who], "juxian", item_id)

    with pytest.raises(ItemNotFound) as missing:
        show("a02", 999_999)
    for who in ("a02", "ops"):
        with pytest.raises(ItemNotFound) as hidden:
            show(who, staffing)
        assert str(hidden.value) == str(missing.value).replace("999999", str(staffing))
    for who in ("old_a01", "old_office"):
        with pytest.raises(PermissionDenied, match="disabled"):
            show(who, staffing)
    # what each may do next, by the state machine and the user's permission
    assert show("a01", staffing).allowed == [
        Action.START,
        Action.REPORT_FIXED,
        Action.REQUEST_CANNOT_SOLVE,
        Action.REQUEST_EXTENSION,
    ]
    # the office may also extend; declining needs a request pending
    assert show("office", staffing).allowed[-2:] == [Action.EXTEND, Action.REQUEST_EXTENSION]
    assert show("leader", staffing).allowed == []
    assert show("inspection", staffing).allowed == []  # nothing to verify yet
    assert show("leader", staffing).item.department == "A01"


def test_an_unknown_item_is_refused_to_a_role_that_may_not_act_and_missing_for_others(
    county: dict[str, Any],
) -> None:
    url, p = county["url"], county["people"]
    with pytest.raises(PermissionDenied, match="the leader role"):
        act(url, p["leader"], 999_999, "respond", reason="x")
    with pytest.raises(ItemNotFound, match="no rectification item 999999"):
        act(url, p["a01"], 999_999, "respond", reason="x")


# ------------------------------------------------------------------ the re-check's input


def test_only_the_office_records_a_lapsed_alternative(county: dict[str, Any]) -> None:
    url, items, p = county["url"], county["items"], county["people"]
    chain = items[CHAIN]
    act(url, p["a02"], chain, Action.REQUEST_CANNOT_SOLVE, **MOVES[Action.REQUEST_CANNOT_SOLVE])
    act(url, p["office"], chain, Action.APPROVE_CANNOT_SOLVE, reason="同意")

    def lapse(who: str, item_id: int = chain) -> bool:
        with UnitOfWork(app_for(url)) as uow:
            return rectification.mark_alternative_lapsed(uow, item_id, "上级文件已废止", p[who], D)

    for who, why in (
        ("a02", "the department role"),
        ("b01", "the department role"),
        ("leader", "the leader role"),
        ("ops", "the section role"),
        ("old_office", "disabled"),
    ):
        before = snapshot(url, without_refusals=True)
        with pytest.raises(PermissionDenied, match=why):
            lapse(who)
        assert snapshot(url, without_refusals=True) == before, who
    assert lapse("office") is True
    assert lapse("office") is False  # recorded once
    al = table(AuditLog)
    with get_engine(url).connect() as conn:
        (row,) = conn.execute(select(al).where(al.c.action == "alternative_lapsed")).all()
    assert (row.user_id, row.entity, row.entity_key) == (
        p["office"].user_id,
        "rectificationitem",
        str(chain),
    )
    with pytest.raises(UserError, match="not cannot_solve"):
        lapse("office", items[STAFFING])


# ------------------------------------------------------------------ the workbooks


def test_workbooks_are_exported_within_the_users_scope_and_imported_by_departments_and_office(
    county: dict[str, Any],
) -> None:
    url, items, p = county["url"], county["items"], county["people"]

    def exported(who: str, department: str | None = None) -> dict[int, str]:
        with UnitOfWork(app_for(url), readonly=True) as uow:
            rows = rectification.export_rows(uow, p[who], "juxian", department)
        return {r.id: r.department for r in rows}

    def may_import(who: str) -> None:
        with UnitOfWork(app_for(url), readonly=True) as uow:
            rectification.check_workbook_import(uow, p[who], "juxian")

    assert set(exported("a01").values()) == {"A01"}
    assert set(exported("office").values()) == {"A01", "A02", "B01"}
    assert set(exported("leader", "B01").values()) == {"B01"}
    # a section user: the items it supervises (the staffing item is the inspection's)
    assert items[STAFFING] in exported("inspection")
    assert items[STAFFING] not in exported("ops")
    assert not set(exported("inspection")) & set(exported("ops"))
    # only the items the department still owes an answer on
    act(url, p["a02"], items[CHAIN], Action.REPORT_FIXED, **MOVES[Action.REPORT_FIXED])
    assert items[CHAIN] not in exported("office")
    for who, department, why in (
        ("a01", "A02", "not of department A01"),
        ("old_a01", "A01", "disabled"),
    ):
        with pytest.raises(PermissionDenied, match=why):
            exported(who, department)
    may_import("office")
    may_import("a01")
    for who, why in (
        ("inspection", "the section role"),
        ("leader", "the leader role"),
        ("auditor", "the auditor role"),
        ("admin", "the admin role"),
        ("old_office", "disabled"),
    ):
        with pytest.raises(PermissionDenied, match=why):
            may_import(who)


# ------------------------------------------------------------------ extension requests (申请延期)


def test_an_extension_request_waits_for_the_office_which_grants_or_declines_it(
    county: dict[str, Any],
) -> None:
    from bihuan.services import rectification_views

    url, items, p = county["url"], county["items"], county["people"]
    staffing, chain = items[STAFFING], items[CHAIN]

    def pending() -> list[tuple[int, int | None]]:
        with UnitOfWork(app_for(url), readonly=True) as uow:
            found = rectification_views.pending_requests(uow, p["office"], "juxian", D)
        return [(r.id, r.extension_request_days) for r in found.extensions]

    out = act(
        url, p["a01"], staffing, Action.REQUEST_EXTENSION, reason="需等待省级批复", extend_by=15
    )
    assert (out.status.value, out.from_status.value, out.notices) == ("open", "open", 0)
    assert pending() == [(staffing, 15)]
    with pytest.raises(UserError, match="no extension request pending"):
        act(url, p["a01"], staffing, Action.REQUEST_EXTENSION, reason="再申请", extend_by=5)
    # only the office sees the queue of requests
    for who in ("a01", "inspection", "leader"):
        with UnitOfWork(app_for(url), readonly=True) as uow, pytest.raises(PermissionDenied):
            rectification_views.pending_requests(uow, p[who], "juxian", D)
    before = out.deadline
    granted = act(url, p["office"], staffing, Action.EXTEND, reason="同意", extend_by=10)
    assert granted.deadline > before and granted.extensions == 1 and granted.notices >= 1
    assert pending() == []
    audit = move_audits(url, staffing)[-1]
    assert audit.details["requested_days"] == "15" and audit.details["extend_by"] == "10"

    act(url, p["a02"], chain, Action.REQUEST_EXTENSION, reason="人手不足", extend_by=5)
    declined = act(url, p["office"], chain, Action.DECLINE_EXTENSION, reason="理由不充分")
    assert declined.status.value == "open" and declined.extensions == 0
    assert declined.notices >= 1  # the department hears of it
    assert pending() == []
    with UnitOfWork(app_for(url), readonly=True) as uow:
        history = rectification.item_history(uow, p["a02"], "juxian", chain)
    assert [h.action for h in history.history][-2:] == ["request_extension", "decline_extension"]
    assert history.history[-2].reason == "人手不足 (申请延期 5 个工作日)"
    assert Action.REQUEST_EXTENSION in history.allowed  # may ask again


def test_a_verification_dated_before_the_report_it_verifies_is_refused(
    county: dict[str, Any],
) -> None:
    url, item_id, p = county["url"], county["items"][STAFFING], county["people"]

    def move(actor: Actor, action: Action, day: date, **kw: Any) -> Any:
        cmd = Act(jurisdiction="juxian", item_id=item_id, action=action, **kw)
        with UnitOfWork(app_for(url)) as uow:
            return rectification.act(uow, cmd, actor, day)

    move(p["a01"], Action.REPORT_FIXED, date(2022, 7, 20), **MOVES[Action.REPORT_FIXED])
    before = snapshot(url, without_refusals=True)
    with pytest.raises(UserError, match="before the report it verifies"):
        move(p["office"], Action.VERIFY_ACCEPT, date(2022, 7, 18), reason="到位")
    assert snapshot(url, without_refusals=True) == before
    done = move(p["office"], Action.VERIFY_ACCEPT, date(2022, 7, 20), reason="到位")
    assert done.status == "verified_closed"


# ------------------------------------------------------------------ corrections after issue


def notices(url: str, kind: str = "correction") -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT recipient_tag, subject, body, idempotency_key FROM notification "
                    "WHERE kind = :k ORDER BY id"
                ),
                {"k": kind},
            )
        )


def correct(url: str, actor: Actor, cmd: Any, day: date = D) -> Any:
    from bihuan.services import corrections

    with UnitOfWork(app_for(url)) as uow:
        if isinstance(cmd, corrections.WithdrawFinding):
            return corrections.withdraw_finding(uow, cmd, actor, day)
        return corrections.amend_finding(uow, cmd, actor, day)


def test_the_office_amends_an_issued_finding_once_with_a_correction_notice(
    county: dict[str, Any],
) -> None:
    from bihuan.services.corrections import AmendFinding

    url, item_id, p = county["url"], county["items"][STAFFING], county["people"]
    amend = AmendFinding(
        jurisdiction="juxian",
        finding_id=item_id,  # one number per problem: the finding's id is the item's
        reason="核实后问题表述有误",
        title="实名制管理情况:出编不及时(1个问题)",
        deadline=date(2022, 8, 31),
    )
    before = snapshot(url, without_refusals=True)
    with pytest.raises(PermissionDenied):
        correct(url, p["a01"], amend)
    with pytest.raises(UserError, match="the next working day is 2022-07-18"):
        correct(url, p["office"], amend.model_copy(update={"deadline": date(2022, 7, 16)}))
    assert snapshot(url, without_refusals=True) == before

    done = correct(url, p["office"], amend)
    assert (done.changed, done.item_id, done.deadline) == (True, item_id, date(2022, 8, 31))
    assert done.title == amend.title and done.notices == 1
    with UnitOfWork(app_for(url), readonly=True) as uow:
        shown = rectification.item_history(uow, p["office"], "juxian", item_id)
    assert shown.item.title == amend.title and shown.item.deadline == date(2022, 8, 31)
    assert "修改问题: 核实后问题表述有误" in shown.history[-1].reason
    [(tag, subject, body, _key)] = notices(url)
    assert tag == "a01" and "更正通知" in subject and f"问题编号 {item_id}" in subject
    assert "问题表述更正为：实名制管理情况:出编不及时(1个问题)" in body
    assert "2022年8月31日" in body and "核实后问题表述有误" in body
    audits = [
        (r.user_id, r.action)
        for r in rows_of(url, "auditlog")
        if r.action in ("finding_amended", "rectify_amend")
    ]
    assert audits == [
        (p["office"].user_id, "finding_amended"),
        (p["office"].user_id, "rectify_amend"),
    ]
    # the same correction again: nothing written, nothing sent twice
    again = correct(url, p["office"], amend)
    assert again.changed is False and len(notices(url)) == 1


def test_the_office_withdraws_an_issued_finding_and_its_item_closes_as_withdrawn(
    county: dict[str, Any],
) -> None:
    from bihuan.services.corrections import AmendFinding, WithdrawFinding

    url, item_id, p = county["url"], county["items"][CHAIN], county["people"]
    cmd = WithdrawFinding(jurisdiction="juxian", finding_id=item_id, reason="该任务不由本部门牵头")
    before = snapshot(url, without_refusals=True)
    with pytest.raises(PermissionDenied):
        correct(url, p["a02"], cmd)
    assert snapshot(url, without_refusals=True) == before

    done = correct(url, p["office"], cmd)
    assert (done.changed, done.status, done.status_label) == (True, "withdrawn", "已撤销")
    [(tag, subject, body, _key)] = notices(url)
    assert tag == "a02" and "撤销" in subject and "该问题予以撤销" in body
    assert "该任务不由本部门牵头" in body
    with UnitOfWork(app_for(url), readonly=True) as uow:
        shown = rectification.item_history(uow, p["office"], "juxian", item_id)
        owed = rectification.export_rows(uow, p["office"], "juxian", department="A02")
    assert shown.item.status == "withdrawn" and shown.allowed == []
    with UnitOfWork(app_for(url), readonly=True) as uow:
        listed = notifications.item_notices(uow, p["a02"], "juxian", item_id)
    assert [(n.kind_label, n.recipients) for n in listed] == [("更正通知", ["a02"])]
    assert item_id not in {r.id for r in owed}  # nothing left to answer
    finding = next(r for r in rows_of(url, "finding") if r.id == item_id)
    assert (finding.status, finding.dropped_reason) == ("withdrawn", "该任务不由本部门牵头")
    # a re-run sends nothing twice; a withdrawn finding cannot be amended
    assert correct(url, p["office"], cmd).changed is False and len(notices(url)) == 1
    with pytest.raises(UserError, match="withdrawn"):
        correct(
            url,
            p["office"],
            AmendFinding(jurisdiction="juxian", finding_id=item_id, reason="再改", title="新"),
        )


def rows_of(url: str, name: str) -> list[Any]:
    from .rectify_items import table_by_name

    t = table_by_name(name)
    with get_engine(url).connect() as conn:
        return list(conn.execute(select(t).order_by(t.c.id)))
