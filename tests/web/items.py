"""The test county's rectification items: one issued YEAR year-end problem list for D01 and one
for D02 (the mid-year findings await approval, tests/web/cycle.py), and the items in the states
the portal's tests need, made through the production use cases.

The ids are fixed (the findings are inserted in this order after the mid-year ones, and
each item takes its finding's id), so the access table can name them; `add_items` checks that.
The items are issued 30 working days before today, so that most of them are 10 working days
overdue (medium severity: 20 working days) and the tracker has reminders to send.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from bihuan.app import AppContext, app_context
from bihuan.clock import BUSINESS_TZ
from bihuan.core.rectification import Action
from bihuan.core.workdays import WorkCalendar
from bihuan.db import session_scope, table, upsert
from bihuan.services import identity, rectification
from bihuan.services.problems import ApproveLists, approve_problem_lists
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Capacity, FindingStatus, PhaseKind
from models import Department, Finding, RectificationItem
from tests.integration.workbooks import YEAR

PHASE = PhaseKind.YEAR_END
# The findings' ids, and so their items' (one number per problem: an item takes its
# finding's id): after the four mid-year findings tests/web/cycle.py raises (ids 1-4).
FIRST = 5
# (department, key, category, severity, title): ids FIRST.. in this order
FINDINGS: list[tuple[str, str, str, str, str]] = [
    ("D01", "w01-progress", "indicator", "medium", "重点项目审批时限未达标"),
    ("D01", "w02-report", "indicator", "medium", "政务服务好差评整改不到位"),
    ("D01", "w03-askext", "indicator", "medium", "招商引资签约项目落地率偏低"),
    ("D01", "w04-cannot", "indicator", "medium", "市场主体培育数量未达目标"),
    ("D01", "w05-verify", "indicator", "medium", "固定资产投资入库率偏低"),
    ("D01", "w06-extend", "indicator", "medium", "规上工业增加值增速未达标"),
    ("D01", "w07-decline", "indicator", "medium", "营商环境评价得分偏低"),
    ("D01", "w08-decide", "indicator", "medium", "重大项目前期经费执行率低"),
    ("D01", "w09-api", "indicator", "medium", "专项债券项目支出进度慢"),
    ("D01", "w10-browser", "indicator", "medium", "节能审查办结超时"),
    ("D01", "w11-staffing", "staffing", "medium", "实名制管理信息更新不及时"),
    ("D01", "w12-conflict", "indicator", "medium", "价格监测报送不及时"),
    ("D01", "w13-upload", "indicator", "medium", "粮食收购资金拨付滞后"),
    ("D02", "w01-open", "indicator", "medium", "财政资金直达使用率偏低"),
    ("D02", "w02-evidence", "indicator", "medium", "预算绩效自评覆盖率不足"),
]
ITEM = {
    key.split("-", 1)[1]: i
    for i, (code, key, *_rest) in enumerate(FINDINGS, FIRST)
    if code == "D01"
}
D02_ITEM = {
    key.split("-", 1)[1]: i
    for i, (code, key, *_rest) in enumerate(FINDINGS, FIRST)
    if code == "D02"
}
D02 = D02_ITEM["open"]

# Evidence files of the setup moves (PDFs by their magic number)
EVIDENCE_D01 = b"%PDF-1.4\n% bihuan test evidence of D01\n%%EOF\n"
EVIDENCE_D02 = b"%PDF-1.4\n% bihuan test evidence of D02\n%%EOF\n"
SHA_D01 = hashlib.sha256(EVIDENCE_D01).hexdigest()
SHA_D02 = hashlib.sha256(EVIDENCE_D02).hexdigest()
GUESSED_SHA = "0" * 64

ISSUE_WORKDAYS_AGO = 30
SETUP_WORKDAYS_AGO = 25


def business_today() -> date:
    return datetime.now(BUSINESS_TZ).date()


def issue_day(cal: WorkCalendar, today: date | None = None) -> date:
    return cal.add_workdays(today or business_today(), -ISSUE_WORKDAYS_AGO)


def add_items(url: str) -> None:
    """Issue the YEAR mid-year problem lists of D01 and D02 (as `office`) and make the setup
    moves: item `verify` reported fixed with a PDF, `extend` and `decline` with an extension
    request pending, `decide` with "cannot be solved" asked for, D02's `evidence` reported
    fixed with its own PDF."""
    ctx = app_context(url, "juxian")
    cal = WorkCalendar.from_policy(ctx.policy.calendar)
    issued = issue_day(cal)
    setup_day = cal.add_workdays(business_today(), -SETUP_WORKDAYS_AGO)
    with UnitOfWork(ctx) as uow:
        jur = uow.jurisdictions.require("juxian")
        assert jur.id is not None
        ref = uow.findings.phase(jur.id, YEAR, PHASE)
        assert ref is not None, "the county's ledger creates the phases"
        cycle_id = ref.cycle_id
    with session_scope(url) as session:
        d = table(Department)
        depts = dict(session.execute(select(d.c.code, d.c.id)).tuples().all())
        upsert(
            session,
            Finding,
            [
                {
                    "cycle_id": cycle_id,
                    "phase_kind": PHASE.value,
                    "department_id": depts[code],
                    "key": key,
                    "category": category,
                    "severity": severity,
                    "source": "test",
                    "title": title,
                    "evidence": {"measures": "按要求整改"},
                    "status": FindingStatus.PROPOSED.value,
                }
                for code, key, category, severity, title in FINDINGS
            ],
            keys=["cycle_id", "department_id", "key"],
        )
    # issued by an installation with a portal (BIHUAN_BASE_URL): the lists link to it rather
    # than carry a workbook under this process's var/, which a copy of the database would lack
    portal = AppContext(
        ctx.settings.model_copy(update={"base_url": "http://127.0.0.1:8000"}),
        ctx.db_url,
        ctx.jurisdiction,
    )
    with UnitOfWork(portal) as uow:
        office = identity.actor_for(uow, "office")
        approve_problem_lists(
            uow, ApproveLists(jurisdiction="juxian", year=YEAR, phase=PHASE), office, issued
        )
    with session_scope(url) as session:
        f, ri = table(Finding), table(RectificationItem)
        made = dict(
            session.execute(select(f.c.key, ri.c.id).join(ri, ri.c.finding_id == f.c.id))
            .tuples()
            .all()
        )
    expected = {key: i for i, (_c, key, *_r) in enumerate(FINDINGS, FIRST)}
    assert made == expected, f"item ids moved: {made}"

    with tempfile.TemporaryDirectory() as tmp:
        d01_pdf, d02_pdf = Path(tmp) / "d01" / "整改报告.pdf", Path(tmp) / "d02" / "整改报告.pdf"
        for path, body in ((d01_pdf, EVIDENCE_D01), (d02_pdf, EVIDENCE_D02)):
            path.parent.mkdir()
            path.write_bytes(body)
        moves = [
            (
                "D01lx",
                ITEM["verify"],
                Action.REPORT_FIXED,
                {"reason": "已完成整改", "evidence": (d01_pdf,)},
            ),
            (
                "D01lx",
                ITEM["extend"],
                Action.REQUEST_EXTENSION,
                {"reason": "需省级批复", "extend_by": 20},
            ),
            (
                "D01lx",
                ITEM["decline"],
                Action.REQUEST_EXTENSION,
                {"reason": "人手不足", "extend_by": 10},
            ),
            (
                "D01lx",
                ITEM["decide"],
                Action.REQUEST_CANNOT_SOLVE,
                {"explanation": "属省级事权", "alternative": "按季度报送进展"},
            ),
            (
                "office",
                D02_ITEM["evidence"],
                Action.REPORT_FIXED,
                {"reason": "部门书面报告", "evidence": (d02_pdf,), "capacity": Capacity.DEPARTMENT},
            ),
        ]
        for login, item_id, action, fields in moves:
            with UnitOfWork(ctx) as uow:
                actor = identity.actor_for(uow, login)
                rectification.act(
                    uow,
                    rectification.Act(
                        jurisdiction="juxian", item_id=item_id, action=action, **fields
                    ),
                    actor,
                    setup_day,
                )


__all__ = [
    "D02",
    "D02_ITEM",
    "EVIDENCE_D01",
    "GUESSED_SHA",
    "ITEM",
    "SHA_D01",
    "SHA_D02",
    "YEAR",
    "add_items",
]
