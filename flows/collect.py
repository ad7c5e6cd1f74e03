"""collect-indicators: open the phase, request submissions, pull prior-year values, mark missing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import and_, bindparam, func, update
from sqlmodel import Session, col, select

from bihuan.db import audit, session_scope, table, upsert
from bihuan.errors import UserError
from flows.common import Scope, artifact_key, flow_context, load_scope, parse_phase, resolve_as_of
from models import (
    Cycle,
    Department,
    Indicator,
    IndicatorHistory,
    IndicatorKind,
    PhaseKind,
    Submission,
    SubmissionRequest,
    SubmissionStatus,
)


@dataclass
class CollectionSummary:
    year: int
    phase: str
    as_of: date
    window_start: date
    window_end: date
    departments: int = 0
    submitted: int = 0
    requested: int = 0
    missing: list[str] = field(default_factory=list)
    history_pulled: int = 0
    closed: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def open_phase(session: Session, scope: Scope, as_of: date) -> int:
    """Create one submission request per active department (idempotent); returns how many."""
    phase = scope.phase
    if as_of < phase.window_start:
        raise UserError(
            f"the {scope.cycle.year} {phase.kind} window opens on {phase.window_start}; "
            f"as_of {as_of} is before it (config/policy.toml [phases])"
        )
    if phase.opened_on is None:
        phase.opened_on = as_of
        session.add(phase)
    dept_ids = session.exec(
        select(Department.id).where(
            Department.jurisdiction_id == scope.jurisdiction_id,
            Department.active == True,  # noqa: E712
        )
    ).all()
    upsert(
        session,
        SubmissionRequest,
        [
            {
                "phase_id": scope.phase_id,
                "department_id": d,
                "status": SubmissionStatus.REQUESTED.value,
                "requested_on": phase.window_start,
                "due_on": phase.window_end,
            }
            for d in dept_ids
        ],
        keys=["phase_id", "department_id"],
    )
    return len(dept_ids)


def pull_prior_year_values(session: Session, scope: Scope) -> int:
    """Copy last year's year-end results of quantitative indicators into this year's history
    (纵向比对), matching indicators by code; values already imported are kept."""
    year = scope.cycle.year
    prev = session.exec(
        select(Cycle).where(Cycle.jurisdiction_id == scope.jurisdiction_id, Cycle.year == year - 1)
    ).first()
    if prev is None:
        return 0
    from models import Phase

    prev_phase = session.exec(
        select(Phase).where(Phase.cycle_id == prev.id, Phase.kind == PhaseKind.YEAR_END)
    ).first()
    if prev_phase is None:
        return 0
    old = Indicator.__table__.alias("old")  # type: ignore[attr-defined]
    new = Indicator.__table__.alias("new")  # type: ignore[attr-defined]
    sub = Submission.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(new.c.id, sub.c.value)
        .select_from(new)
        .join(old, and_(old.c.code == new.c.code, old.c.cycle_id == prev.id))
        .join(sub, and_(sub.c.indicator_id == old.c.id, sub.c.phase_id == prev_phase.id))
        .where(
            new.c.cycle_id == scope.cycle_id,
            new.c.kind == IndicatorKind.QUANTITATIVE.value,
            sub.c.value.is_not(None),
        )
    ).all()
    existing = set(
        session.execute(
            select(IndicatorHistory.indicator_id)  # type: ignore[call-overload]
            .join(Indicator, col(Indicator.id) == col(IndicatorHistory.indicator_id))
            .where(Indicator.cycle_id == scope.cycle_id, IndicatorHistory.year == year - 1)
        ).scalars()
    )
    fresh = [
        {"indicator_id": ind_id, "year": year - 1, "value": value, "source": "previous_cycle"}
        for ind_id, value in rows
        if ind_id not in existing
    ]
    upsert(session, IndicatorHistory, fresh, keys=["indicator_id", "year"])
    return len(fresh)


def settle_requests(session: Session, scope: Scope, as_of: date) -> CollectionSummary:
    """Mark requests submitted (by the window's end) and, once the window is over, missing."""
    phase = scope.phase
    summary = CollectionSummary(
        year=scope.cycle.year,
        phase=phase.kind,
        as_of=as_of,
        window_start=phase.window_start,
        window_end=phase.window_end,
    )
    first_submission: dict[int, date] = dict(
        session.execute(
            select(Indicator.department_id, func.min(Submission.submitted_on))  # type: ignore[call-overload]
            .join(Indicator, col(Indicator.id) == col(Submission.indicator_id))
            .where(
                Submission.phase_id == scope.phase_id, Submission.submitted_on <= phase.window_end
            )
            .group_by(col(Indicator.department_id))
        ).all()
    )
    sr = table(SubmissionRequest)
    requests = session.execute(
        select(sr.c.id, sr.c.department_id, sr.c.status).where(sr.c.phase_id == scope.phase_id)
    ).all()
    closed = as_of > phase.window_end
    codes = dict(
        session.execute(
            select(Department.id, Department.code).where(  # type: ignore[call-overload]
                Department.jurisdiction_id == scope.jurisdiction_id
            )
        ).all()
    )
    # Decide in Python, then one bulk UPDATE per outcome (Core statements: an ORM update per row
    # re-evaluated every loaded request and made a province's 10,000 quadratic).
    submitted: list[dict[str, object]] = []
    missing: list[dict[str, object]] = []
    for req_id, dept_id, status in requests:
        on = first_submission.get(dept_id)
        if on is not None and status != SubmissionStatus.SUBMITTED:
            submitted.append({"rid": req_id, "on": on})
            status = SubmissionStatus.SUBMITTED
        elif on is None and closed and status == SubmissionStatus.REQUESTED:
            missing.append({"rid": req_id})
            status = SubmissionStatus.MISSING
            audit(
                session,
                actor="collect-indicators",
                action="submission_missing",
                entity="submissionrequest",
                entity_key=f"{scope.cycle.year}/{phase.kind}/{codes[dept_id]}",
                jurisdiction_id=scope.jurisdiction_id,
                details={"window_end": phase.window_end},
            )
        summary.departments += 1
        if status == SubmissionStatus.SUBMITTED:
            summary.submitted += 1
        elif status == SubmissionStatus.MISSING:
            summary.missing.append(codes[dept_id])
        else:
            summary.requested += 1
    if submitted:
        session.execute(
            update(sr)
            .where(sr.c.id == bindparam("rid"))
            .values(status=SubmissionStatus.SUBMITTED.value, submitted_on=bindparam("on")),
            submitted,
        )
    if missing:
        session.execute(
            update(sr)
            .where(sr.c.id == bindparam("rid"))
            .values(status=SubmissionStatus.MISSING.value),
            missing,
        )
    summary.missing.sort()
    if closed and phase.closed_on is None:
        phase.closed_on = phase.window_end
        session.add(phase)
    summary.closed = phase.closed_on is not None
    return summary


@task(name="collect-phase")
def collect_task(year: int, phase: PhaseKind, as_of: date) -> CollectionSummary:
    ctx = flow_context()
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, phase)
        open_phase(session, scope, as_of)
        pulled = pull_prior_year_values(session, scope)
        summary = settle_requests(session, scope, as_of)
        summary.history_pulled = pulled
    return summary


def _summary_markdown(s: CollectionSummary) -> str:
    missing = "、".join(s.missing) if s.missing else "无"
    state = "已结束" if s.closed else "进行中"
    return (
        f"# {s.year}年{PhaseKind(s.phase).label}指标采集 (indicator collection)\n\n"
        f"- 集中评估窗口: {s.window_start} 至 {s.window_end} ({state})\n"
        f"- 截至 {s.as_of}: 应报送部门 {s.departments} 个, 已报送 {s.submitted} 个, "
        f"待报送 {s.requested} 个, 未报送 {len(s.missing)} 个\n"
        f"- 未报送部门: {missing}\n"
        f"- 自上年度结果补入往年数据: {s.history_pulled} 条\n"
    )


@flow(name="collect-indicators", flow_run_name="collect-indicators-{year}-{phase}")
def collect_indicators(
    year: int, phase: PhaseKind = PhaseKind.MID_YEAR, as_of: date | None = None
) -> CollectionSummary:
    """Open the phase's window, request one submission per department, pull prior-year values,
    and, once the window is over, record the departments that did not submit as missing."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    summary = collect_task(year, kind, day)
    create_markdown_artifact(
        key=artifact_key("collection", year, kind.value),
        markdown=_summary_markdown(summary),
        description=f"{year} {kind.value} indicator collection",
    )
    return summary
