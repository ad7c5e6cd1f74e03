"""Bulk loaders: one query per table for a whole phase, shaped into the scoring core's inputs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlmodel import Session

from bihuan.core.chain import CentralTaskInput, ChainLinkInput
from bihuan.core.scoring import (
    DepartmentInput,
    IndicatorInput,
    SatisfactionInput,
    StaffingCheckInput,
)
from bihuan.db import table
from flows.common import Scope
from models import (
    BusinessSection,
    CentralTask,
    CentralTaskLink,
    CentralTaskResult,
    Department,
    Finding,
    FindingCategory,
    FindingStatus,
    HotlineCase,
    Indicator,
    IndicatorHistory,
    PeerRating,
    PhaseKind,
    PublicRating,
    StaffingCheck,
    Submission,
    TownRating,
)

TOWN_DIMS = ("overall", "efficiency", "policy_effect", "guidance", "unblocking")
PEER_DIMS = ("style", "efficiency", "quality", "cooperation", "one_go")


@dataclass(frozen=True)
class DeptRow:
    id: int
    code: str
    name: str
    category: str
    team_id: int | None


@dataclass(frozen=True)
class PhaseInputs:
    departments: list[DeptRow]
    inputs: dict[str, DepartmentInput]
    tasks: list[CentralTaskInput]


def load_departments(session: Session, jurisdiction_id: int) -> list[DeptRow]:
    d = table(Department)
    rows = session.execute(
        select(d.c.id, d.c.code, d.c.name, d.c.category, d.c.team_id)
        .where(d.c.jurisdiction_id == jurisdiction_id, d.c.active.is_(True))
        .order_by(d.c.code)
    ).all()
    return [DeptRow(*row) for row in rows]


def load_phase_inputs(session: Session, scope: Scope) -> PhaseInputs:
    """Everything the scoring core needs for one phase, in a handful of bulk queries."""
    depts = load_departments(session, scope.jurisdiction_id)
    by_id = {d.id: d for d in depts}

    ind, sec, sub, hist = (
        table(Indicator),
        table(BusinessSection),
        table(Submission),
        table(IndicatorHistory),
    )
    history: dict[int, dict[int, float]] = defaultdict(dict)
    for ind_id, year, value in session.execute(
        select(hist.c.indicator_id, hist.c.year, hist.c.value)
        .join(ind, ind.c.id == hist.c.indicator_id)
        .where(ind.c.cycle_id == scope.cycle_id)
    ):
        history[ind_id][year] = value
    indicators: dict[int, list[IndicatorInput]] = defaultdict(list)
    for row in session.execute(
        select(
            ind.c.id,
            ind.c.department_id,
            ind.c.code,
            ind.c.name,
            ind.c.kind,
            ind.c.weight,
            ind.c.direction,
            ind.c.target,
            sec.c.code.label("section"),
            sub.c.value,
            sub.c.level,
        )
        .join(sec, sec.c.id == ind.c.section_id)
        .outerjoin(
            sub,
            and_(
                sub.c.indicator_id == ind.c.id,
                sub.c.phase_id == scope.phase_id,
                sub.c.submitted_on <= scope.phase.window_end,
            ),
        )
        .where(ind.c.cycle_id == scope.cycle_id)
        .order_by(ind.c.code)
    ):
        indicators[row.department_id].append(
            IndicatorInput(
                code=row.code,
                kind=row.kind,
                name=row.name,
                section=row.section,
                weight=row.weight,
                direction=row.direction,
                target=row.target,
                value=row.value,
                level=row.level,
                history=history.get(row.id, {}),
            )
        )

    sc = table(StaffingCheck)
    staffing: dict[int, list[StaffingCheckInput]] = defaultdict(list)
    for dept_id, kind, problems, ptype, note in session.execute(
        select(sc.c.department_id, sc.c.kind, sc.c.problems, sc.c.problem_type, sc.c.note).where(
            sc.c.phase_id == scope.phase_id
        )
    ):
        staffing[dept_id].append(StaffingCheckInput(kind, problems, ptype, note))

    town: dict[int, list[tuple[float, ...]]] = defaultdict(list)
    tr = table(TownRating)
    for row in session.execute(
        select(tr.c.department_id, *[tr.c[d] for d in TOWN_DIMS]).where(
            tr.c.phase_id == scope.phase_id
        )
    ):
        town[row[0]].append(tuple(row[1:]))
    peer: dict[int, list[tuple[float, ...]]] = defaultdict(list)
    pr = table(PeerRating)
    for row in session.execute(
        select(pr.c.ratee_department_id, *[pr.c[d] for d in PEER_DIMS]).where(
            pr.c.phase_id == scope.phase_id
        )
    ):
        peer[row[0]].append(tuple(row[1:]))
    public: dict[int, list[str]] = defaultdict(list)
    pu = table(PublicRating)
    for dept_id, level, count in session.execute(
        select(pu.c.department_id, pu.c.level, func.count())
        .where(pu.c.phase_id == scope.phase_id)
        .group_by(pu.c.department_id, pu.c.level)
    ):
        public[dept_id].extend([level] * count)
    hotline: dict[int, list[bool]] = defaultdict(list)
    hc = table(HotlineCase)
    # Mid-year looks at cases received by the end of its window; year-end at the whole year.
    cutoff = scope.phase.window_end
    for dept_id, due_on, closed_on in session.execute(
        select(hc.c.department_id, hc.c.due_on, hc.c.closed_on).where(
            hc.c.cycle_id == scope.cycle_id, hc.c.received_on <= cutoff
        )
    ):
        if due_on <= cutoff:
            hotline[dept_id].append(closed_on is not None and closed_on <= due_on)

    f = table(Finding)
    # Last year's items carried by the re-check (flows/recheck.py) count again in this year's
    # score, unless the coordinator dropped the finding when approving the problem list.
    carried = dict(
        session.execute(
            select(f.c.department_id, func.count())
            .where(
                f.c.cycle_id == scope.cycle_id,
                f.c.category == FindingCategory.CARRIED_OVER.value,
                f.c.status != FindingStatus.DROPPED.value,
            )
            .group_by(f.c.department_id)
        ).all()
    )
    inputs = {
        d.code: DepartmentInput(
            code=d.code,
            name=d.name,
            category=d.category,
            indicators=tuple(indicators.get(d.id, ())),
            staffing=tuple(staffing.get(d.id, ())),
            satisfaction=SatisfactionInput(
                town=tuple(town.get(d.id, ())),
                peer=tuple(peer.get(d.id, ())),
                public=tuple(public.get(d.id, ())),
                hotline_on_time=tuple(hotline.get(d.id, ())),
            ),
            carried_items=int(carried.get(d.id, 0)),
        )
        for d in depts
    }
    return PhaseInputs(departments=depts, inputs=inputs, tasks=load_chains(session, scope, by_id))


def load_chains(
    session: Session, scope: Scope, by_id: dict[int, DeptRow]
) -> list[CentralTaskInput]:
    ct, cl, cr = table(CentralTask), table(CentralTaskLink), table(CentralTaskResult)
    links: dict[int, list[ChainLinkInput]] = defaultdict(list)
    for task_id, dept_id, role, duty, pct, shortfall in session.execute(
        select(
            cl.c.task_id,
            cl.c.department_id,
            cl.c.role,
            cl.c.duty,
            cr.c.delivered_pct,
            cr.c.shortfall,
        )
        .outerjoin(cr, and_(cr.c.link_id == cl.c.id, cr.c.phase_id == scope.phase_id))
        .join(ct, ct.c.id == cl.c.task_id)
        .where(ct.c.cycle_id == scope.cycle_id)
        .order_by(cl.c.task_id, cl.c.role.desc(), cl.c.department_id)
    ):
        if dept_id in by_id:
            links[task_id].append(
                ChainLinkInput(
                    department=by_id[dept_id].code,
                    role=role,
                    delivered_pct=pct,
                    shortfall=shortfall or "",
                    duty=duty or "",
                )
            )
    return [
        CentralTaskInput(code=code, name=name, links=tuple(links.get(task_id, ())))
        for task_id, code, name in session.execute(
            select(ct.c.id, ct.c.code, ct.c.name)
            .where(ct.c.cycle_id == scope.cycle_id)
            .order_by(ct.c.code)
        )
    ]


def phase_label(kind: str) -> str:
    return PhaseKind(kind).label


__all__: list[Any] = ["DeptRow", "PhaseInputs", "load_departments", "load_phase_inputs"]
