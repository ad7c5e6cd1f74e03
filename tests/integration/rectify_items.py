"""Rectification items for DB tests, made through the production path without Prefect.

The small county is imported by the real importer; its mid-year findings are the four the
assessment flow raises for it (see tests/flows/test_rectify_flow.py, which runs the flows), and
the coordinator's approval goes through bihuan.services.problems.approve_problem_lists (as the
office user `office`), which creates the items, their first history event and the problem-list
notices exactly as the flow does.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bihuan.app import app_context
from bihuan.db import get_engine, session_scope, table, upsert
from bihuan.ingest.load import import_path
from bihuan.repositories.ledger import load_scope
from bihuan.services.problems import ApproveLists, approve_problem_lists
from bihuan.services.uow import UnitOfWork
from models import Department, Finding, FindingStatus, Jurisdiction, PhaseKind, RectificationItem
from tests.flows.small_county import write_small_county
from tests.users import office

ISSUED_ON = date(2022, 7, 4)
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"

# (department, key, category, severity, title) as the mid-year rules raise them.
FINDINGS = [
    ("A01", "staffing:real_name", "staffing", "medium", "实名制管理情况:入编出编不及时(1个问题)"),
    ("A02", "central:CT1", "central_task", "medium", "中心工作“招商引资”链条短板:本部门完成60%"),
    ("A02", "satisfaction:low", "satisfaction", "medium", "三评满意度50.0分,低于70分"),
    (
        "B01",
        "submission:missing",
        "missing_submission",
        "high",
        "年中集中评估期内未报送履职成效材料",
    ),
]


def make_items(url: str, tmp_path: Path, jurisdiction: str = "juxian") -> dict[str, int]:
    """Import the small county (as `jurisdiction`) and issue its mid-year problem lists; item ids
    by finding key (of every jurisdiction in the database)."""
    import_path(
        url, write_small_county(tmp_path / jurisdiction), year=2022, jurisdiction=jurisdiction,
        actor="t",
    )  # fmt: skip
    ctx = app_context(url, jurisdiction)
    with session_scope(url) as session:
        scope = load_scope(session, ctx, 2022, PhaseKind.MID_YEAR)
        d, j = table(Department), table(Jurisdiction)
        depts = dict(
            session.execute(
                select(d.c.code, d.c.id)
                .join(j, j.c.id == d.c.jurisdiction_id)
                .where(j.c.code == jurisdiction)
            ).all()
        )
        upsert(
            session,
            Finding,
            [
                {
                    "cycle_id": scope.cycle_id,
                    "phase_kind": PhaseKind.MID_YEAR.value,
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
    login = "office" if jurisdiction == "juxian" else f"office-{jurisdiction}"
    with UnitOfWork(ctx) as uow:
        approve_problem_lists(
            uow,
            ApproveLists(jurisdiction=jurisdiction, year=2022, phase=PhaseKind.MID_YEAR),
            office(url, login, jurisdiction),
            ISSUED_ON,
        )
    return item_ids(url)


def item_ids(url: str) -> dict[str, int]:
    f, ri = table(Finding), table(RectificationItem)
    with get_engine(url).connect() as conn:
        return dict(
            conn.execute(select(f.c.key, ri.c.id).join(ri, ri.c.finding_id == f.c.id)).all()
        )


def snapshot(url: str, *, without_refusals: bool = False) -> dict[str, Any]:
    """Everything a rectification move may write, to prove that a refused move wrote nothing
    (`without_refusals`: but the audit rows that record refusals, which a refusal does write)."""
    out: dict[str, Any] = {}
    with get_engine(url).connect() as conn:
        for name in ("rectificationitem", "rectificationevent", "auditlog", "notification"):
            t = table_by_name(name)
            stmt = select(t).order_by(t.c.id)
            if name == "auditlog" and without_refusals:
                stmt = stmt.where(t.c.action != "access_denied")
            out[name] = [tuple(r) for r in conn.execute(stmt)]
    return out


def table_by_name(name: str) -> Any:
    from sqlmodel import SQLModel

    return SQLModel.metadata.tables[name]
