"""A cycle for the portal's office and leadership pages: scores, findings awaiting approval, a
board, over the test county (tests/web/conftest.py build_county).

The YEAR mid-year scores are stored as the assessment stores them (a typed Breakdown per
department, with an explanation to show); the findings are raised and the board computed by
the production use cases, as the office user.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bihuan.core.breakdown import (
    Breakdown,
    ComponentLine,
    IndicatorLine,
    PartLine,
    SectionLine,
    StaffingCheckLine,
)
from bihuan.db import session_scope, table, upsert
from bihuan.services import identity, problems, results
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Component, PhaseKind
from models import Cycle, Department, DepartmentAssessment, Phase
from tests.integration.workbooks import YEAR
from tests.users import app_for

MID = PhaseKind.MID_YEAR
ASSESSED_ON = date(YEAR, 7, 4)
# D01's total: 0.5 × 62 + 0.2 × 90 + 0.1 × 90 + 0.2 × 67 = 71.4
TOTALS = {"D01": 71.4, "D02": 83.0, "D03": 90.0}


def breakdown(code: str, name: str, total: float) -> Breakdown:
    """A department's score as scoring writes it: D01's ledger has a failed indicator and
    D01's and D02's satisfaction is low, so both get findings; D03 gets none."""
    failed = code == "D01"
    ledger = 62.0 if failed else 88.0
    satisfaction = {"D01": 67.0, "D02": 50.0}.get(code, 80.0)
    indicators = [
        IndicatorLine(
            code=f"{code}-S1-01",
            name="重点项目投资额",
            section="综合科",
            kind="quantitative",
            score=45.0 if failed else 90.0,
            value=4.5,
            target=10.0,
            rule="完成值4.5,目标10,完成率45%" if failed else "完成率90%",
        ),
        IndicatorLine(
            code=f"{code}-S1-02",
            name="制定年度改革方案",
            section="综合科",
            kind="qualitative",
            score=79.0 if failed else 86.0,
            level="良好",
            rule="评定等次良好",
        ),
    ]
    return Breakdown(
        code=code,
        name=name,
        total=total,
        total_display=f"{total:.1f}",
        indicators=indicators,
        components={
            Component.LEDGER.value: ComponentLine(
                label="主责主业履职成效",
                score=ledger,
                weight=0.5,
                effective_weight=0.5,
                sections=[
                    SectionLine(section="综合科", score=ledger, weight=1, indicators=2, missing=0)
                ],
            ),
            Component.STAFFING.value: ComponentLine(
                label="机构编制执行情况",
                score=90.0,
                weight=0.2,
                effective_weight=0.2,
                checks=[StaffingCheckLine(kind="real_name", problems=1, score=90.0)],
            ),
            Component.CENTRAL_TASKS.value: ComponentLine(
                label="中心工作", score=90.0, weight=0.1, effective_weight=0.1
            ),
            Component.SATISFACTION.value: ComponentLine(
                label="三评满意度",
                score=satisfaction,
                weight=0.2,
                effective_weight=0.2,
                min_raters=5,
                parts={
                    "town": PartLine(score=satisfaction, raters=12, weight=0.4, effective_weight=1)
                },
            ),
        },
    )


def add_cycle(url: str, office: str = "office") -> None:
    """Scores for every department of YEAR's mid-year, its findings raised (awaiting approval:
    D01 and D02 have draft lists, D03 none) and the YEAR board computed."""
    with session_scope(url) as session:
        c, p, d = table(Cycle), table(Phase), table(Department)
        phase_id = session.execute(
            select(p.c.id)
            .join(c, c.c.id == p.c.cycle_id)
            .where(c.c.year == YEAR, p.c.kind == MID.value)
        ).scalar_one()
        depts = session.execute(select(d.c.code, d.c.id, d.c.name)).all()
        rows = []
        for code, dept_id, name in depts:
            b = breakdown(code, name, TOTALS[code])
            parts = {k: b.component(k).score for k in Component}
            rows.append(
                {
                    "phase_id": phase_id,
                    "department_id": dept_id,
                    "total": TOTALS[code],
                    "ledger": parts[Component.LEDGER],
                    "staffing": parts[Component.STAFFING],
                    "central_tasks": parts[Component.CENTRAL_TASKS],
                    "satisfaction": parts[Component.SATISFACTION],
                    "breakdown": b.to_json(),
                    "onsite": code == "D01",
                    "as_of": ASSESSED_ON,
                }
            )
        upsert(session, DepartmentAssessment, rows, keys=["phase_id", "department_id"])
    with UnitOfWork(app_for(url)) as uow:
        actor = identity.actor_for(uow, office)
        problems.raise_findings(uow, "juxian", YEAR, MID, actor, ASSESSED_ON)
        # mid-year only: a provisional board (暂定), as before the year-end assessment
        results.compute_results(uow, "juxian", YEAR, actor, ASSESSED_ON, provisional=True)
