"""issue-problem-lists: findings from the assessment, problem lists (问题清单), approval, items.

Nothing reaches a department before a coordinator approves: with a Prefect server running, the
flow pauses and the approver uses the form on the flow-run page (approve; change a deadline;
drop a finding with a reason); scripted runs pass `auto_approve` with the approver's name; in
Prefect's local mode without a name the drafts wait for `bihuan problems approve`. Either way the
approval, and every drop and deadline change, is in the audit log. On approval, in ONE
transaction: findings approved or dropped, one rectification item (整改事项) per finding with a
deadline in Chinese working days, the problem list marked sent, and its notification written to
the outbox (the dispatcher sends it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlmodel import Session

from bihuan.app import AppContext
from bihuan.core.findings import (
    ChainFact,
    DepartmentFacts,
    FindingDraft,
    IndicatorFact,
    StaffingFact,
    derive_findings,
)
from bihuan.core.workdays import WorkCalendar
from bihuan.db import audit, session_scope, table, upsert
from bihuan.errors import UserError
from bihuan.policy import Policy
from bihuan.repositories.ledger import Scope, load_scope
from flows.common import artifact_key, flow_context, parse_phase, resolve_as_of
from models import (
    Department,
    DepartmentAssessment,
    Finding,
    FindingCategory,
    FindingStatus,
    HotlineCase,
    PhaseKind,
    ProblemList,
    ProblemListStatus,
    RectificationEvent,
    RectificationItem,
    RectificationStatus,
    StaffingCheck,
    SubmissionRequest,
    SubmissionStatus,
    utc_now,
)
from notifications.outbox import enqueue
from notifications.render import FindingLine, ProblemListContext, render_problem_list
from notifications.tags import contact_tags


class DropFinding(BaseModel):
    finding_id: int = Field(description="Finding id (问题编号) as listed above")
    reason: str = Field(min_length=2, description="Why it is dropped (剔除理由)")


class DeadlineChange(BaseModel):
    finding_id: int = Field(description="Finding id (问题编号)")
    deadline: date = Field(description="New rectification deadline (整改期限)")


class ProblemListApproval(RunInput):
    """The coordinator's decision on the phase's draft problem lists (问题清单审核)."""

    approver: str = Field(min_length=1, description="Approver's name (审核人)")
    approve: bool = Field(default=True, description="Approve and send (同意下发)")
    drop: list[DropFinding] = Field(default_factory=list, description="Findings to drop (剔除)")
    deadlines: list[DeadlineChange] = Field(
        default_factory=list, description="Deadlines to change (调整整改期限)"
    )


@dataclass
class ProblemSummary:
    year: int
    phase: str
    as_of: date
    new_findings: int = 0
    drafts: int = 0
    approved_lists: int = 0
    items_created: int = 0
    dropped: int = 0
    approved_by: str = ""
    awaiting_approval: bool = False
    by_department: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ facts → findings


def gather_facts(session: Session, scope: Scope, policy: Policy) -> dict[int, DepartmentFacts]:
    """Each department's facts for the phase, from what collection and assessment stored."""
    d, da = table(Department), table(DepartmentAssessment)
    depts = dict(
        session.execute(
            select(d.c.id, d.c.code).where(
                d.c.jurisdiction_id == scope.jurisdiction_id, d.c.active.is_(True)
            )
        ).all()
    )
    sr = table(SubmissionRequest)
    missing = set(
        session.execute(
            select(sr.c.department_id).where(
                sr.c.phase_id == scope.phase_id, sr.c.status == SubmissionStatus.MISSING.value
            )
        ).scalars()
    )
    sc = table(StaffingCheck)
    staffing: dict[int, list[StaffingFact]] = defaultdict(list)
    for dept_id, kind, problems, ptype, note in session.execute(
        select(sc.c.department_id, sc.c.kind, sc.c.problems, sc.c.problem_type, sc.c.note).where(
            sc.c.phase_id == scope.phase_id
        )
    ):
        staffing[dept_id].append(StaffingFact(kind, problems, ptype, note or ""))
    hc = table(HotlineCase)
    cutoff = scope.phase.window_end
    hotline: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for dept_id, due_on, closed_on in session.execute(
        select(hc.c.department_id, hc.c.due_on, hc.c.closed_on).where(
            hc.c.cycle_id == scope.cycle_id, hc.c.received_on <= cutoff, hc.c.due_on <= cutoff
        )
    ):
        hotline[dept_id][0] += 1
        if closed_on is None or closed_on > due_on:
            hotline[dept_id][1] += 1
    window = f"{scope.phase.window_start}至{scope.phase.window_end}"
    facts: dict[int, DepartmentFacts] = {}
    for dept_id, breakdown, satisfaction in session.execute(
        select(da.c.department_id, da.c.breakdown, da.c.satisfaction).where(
            da.c.phase_id == scope.phase_id
        )
    ):
        if dept_id not in depts:
            continue
        indicators = [
            IndicatorFact(i["code"], i.get("name", ""), float(i["score"]), bool(i["missing"]))
            for i in breakdown.get("indicators", [])
        ]
        links = breakdown.get("components", {}).get("central_tasks", {}).get("links", [])
        chains = [
            ChainFact(
                link["task_code"],
                link["task_name"],
                float(link["score"]),
                _link_shortfall(link, depts[dept_id]),
            )
            for link in links
            if link.get("responsible")
        ]
        cases, late = hotline.get(dept_id, [0, 0])
        facts[dept_id] = DepartmentFacts(
            code=depts[dept_id],
            submission_missing=dept_id in missing,
            window=window,
            indicators=indicators,
            staffing=staffing.get(dept_id, []),
            satisfaction=satisfaction,
            hotline_cases=cases,
            hotline_late=late,
            chains=chains,
        )
    return facts


def _link_shortfall(link: dict[str, Any], code: str) -> str:
    for view in link.get("chain", []):
        if view.get("department") == code:
            return str(view.get("shortfall") or "")
    return ""


def open_subjects(session: Session, scope: Scope) -> dict[int, frozenset[str]]:
    """Per department, the subjects not to raise again: those of this cycle's findings whose
    items are still open (a year-end run does not repeat what mid-year put on the ledger), and
    those the re-check carried from last year (the carried finding, serious and with its
    lineage, stands for a problem that came back; raising it twice would count it twice)."""
    f, ri = table(Finding), table(RectificationItem)
    closed = (RectificationStatus.VERIFIED_CLOSED.value, RectificationStatus.CANNOT_SOLVE.value)
    out: dict[int, set[str]] = defaultdict(set)
    for dept_id, key in session.execute(
        select(f.c.department_id, f.c.key)
        .join(ri, ri.c.finding_id == f.c.id)
        .where(
            f.c.cycle_id == scope.cycle_id,
            f.c.phase_kind != scope.phase.kind,
            ri.c.status.not_in(closed),
        )
    ):
        out[dept_id].add(key.split(":", 1)[1])
    for dept_id, key in session.execute(
        select(f.c.department_id, f.c.key).where(
            f.c.cycle_id == scope.cycle_id,
            f.c.category == FindingCategory.CARRIED_OVER.value,
            f.c.status != FindingStatus.DROPPED.value,
        )
    ):
        # carried:<last year>:<phase>:<rule>:<subject> -> <rule>:<subject>
        parts = key.split(":", 3)
        if len(parts) == 4 and parts[0] == "carried":
            out[dept_id].add(parts[3])
    return {k: frozenset(v) for k, v in out.items()}


def raise_findings(
    session: Session, scope: Scope, policy: Policy
) -> tuple[int, list[FindingDraft]]:
    """Insert the phase's findings (ON CONFLICT DO NOTHING on the natural key); return how many
    were new and all drafts."""
    facts = gather_facts(session, scope, policy)
    if not facts:
        raise UserError(
            f"no scores for {scope.cycle.year} {scope.phase.kind}; run `bihuan assess` first"
        )
    skip = open_subjects(session, scope)
    drafts: list[tuple[int, FindingDraft]] = []
    for dept_id, fact in facts.items():
        for draft in derive_findings(
            fact,
            phase=scope.phase.kind,
            rules=policy.findings,
            open_subjects=skip.get(dept_id, frozenset()),
        ):
            drafts.append((dept_id, draft))
    f = table(Finding)
    before = session.execute(
        select(func.count()).select_from(f).where(f.c.cycle_id == scope.cycle_id)
    ).scalar_one()
    now = utc_now()
    upsert(
        session,
        Finding,
        [
            {
                "cycle_id": scope.cycle_id,
                "phase_kind": scope.phase.kind,
                "department_id": dept_id,
                "key": dr.key,
                "category": dr.category,
                "severity": dr.severity,
                "source": dr.source,
                "title": dr.title,
                "evidence": {**dr.evidence, "measures": dr.measures},
                "status": FindingStatus.PROPOSED.value,
                "carried_from_id": dr.carried_from_id,
                "created_at": now,
            }
            for dept_id, dr in drafts
        ],
        keys=["cycle_id", "department_id", "key"],
    )
    after = session.execute(
        select(func.count()).select_from(f).where(f.c.cycle_id == scope.cycle_id)
    ).scalar_one()
    return after - before, [dr for _, dr in drafts]


def draft_problem_lists(session: Session, scope: Scope) -> int:
    """A draft problem list for every department with proposed findings in the phase."""
    f = table(Finding)
    dept_ids = sorted(
        set(
            session.execute(
                select(f.c.department_id).where(
                    f.c.cycle_id == scope.cycle_id,
                    f.c.phase_kind == scope.phase.kind,
                    f.c.status == FindingStatus.PROPOSED.value,
                )
            ).scalars()
        )
    )
    upsert(
        session,
        ProblemList,
        [
            {
                "cycle_id": scope.cycle_id,
                "phase_kind": scope.phase.kind,
                "department_id": dept_id,
                "status": ProblemListStatus.DRAFT.value,
                "approved_by": "",
            }
            for dept_id in dept_ids
        ],
        keys=["cycle_id", "phase_kind", "department_id"],
    )
    return len(dept_ids)


def pending_findings(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """The proposed findings of the phase, for the approval form and `bihuan findings`."""
    f, d = table(Finding), table(Department)
    return [
        dict(row._mapping)
        for row in session.execute(
            select(
                f.c.id,
                d.c.code.label("department"),
                d.c.name.label("department_name"),
                f.c.key,
                f.c.category,
                f.c.severity,
                f.c.title,
            )
            .join(d, d.c.id == f.c.department_id)
            .where(
                f.c.cycle_id == scope.cycle_id,
                f.c.phase_kind == scope.phase.kind,
                f.c.status == FindingStatus.PROPOSED.value,
            )
            .order_by(d.c.code, f.c.key)
        )
    ]


# ------------------------------------------------------------------ approval → items, outbox


def apply_approval(
    session: Session,
    scope: Scope,
    policy: Policy,
    decision: ProblemListApproval,
    *,
    as_of: date,
    cal: WorkCalendar,
) -> ProblemSummary:
    """Approve (or reject) the phase's drafts in one transaction: items, lists, outbox, audit."""
    summary = ProblemSummary(year=scope.cycle.year, phase=scope.phase.kind, as_of=as_of)
    pending = pending_findings(session, scope)
    ids = {row["id"] for row in pending}
    for ref in [
        *(x.finding_id for x in decision.drop),
        *(x.finding_id for x in decision.deadlines),
    ]:
        if ref not in ids:
            raise UserError(
                f"finding {ref} is not awaiting approval in {scope.cycle.year} {scope.phase.kind}; "
                f"see `bihuan findings --year {scope.cycle.year} --phase {scope.phase.kind}`"
            )
    if not decision.approve:
        audit(
            session,
            actor=decision.approver,
            action="problem_lists_rejected",
            entity="phase",
            entity_key=f"{scope.cycle.year}/{scope.phase.kind}",
            jurisdiction_id=scope.jurisdiction_id,
            details={"pending": len(pending)},
        )
        return summary
    f = table(Finding)
    drops = {x.finding_id: x.reason for x in decision.drop}
    for fid, reason in drops.items():
        session.execute(
            update(f)
            .where(f.c.id == fid)
            .values(status=FindingStatus.DROPPED.value, dropped_reason=reason)
        )
        audit(
            session,
            actor=decision.approver,
            action="finding_dropped",
            entity="finding",
            entity_key=str(fid),
            jurisdiction_id=scope.jurisdiction_id,
            details={"reason": reason},
        )
    keep = [row for row in pending if row["id"] not in drops]
    session.execute(
        update(f)
        .where(f.c.id.in_([r["id"] for r in keep]))
        .values(status=FindingStatus.APPROVED.value)
    )
    overrides = {x.finding_id: x.deadline for x in decision.deadlines}
    days = policy.deadlines
    by_dept: dict[str, list[dict[str, Any]]] = defaultdict(list)
    items = []
    for row in keep:
        deadline = overrides.get(row["id"]) or cal.add_workdays(
            as_of, getattr(days, row["severity"])
        )
        if deadline < as_of:
            raise UserError(f"finding {row['id']}: deadline {deadline} is before {as_of}")
        section = policy.findings.sections[row["category"]]
        row = {**row, "deadline": deadline, "section": section.name}
        by_dept[row["department"]].append(row)
        items.append(row)
        if row["id"] in overrides:
            audit(
                session,
                actor=decision.approver,
                action="deadline_changed",
                entity="finding",
                entity_key=str(row["id"]),
                jurisdiction_id=scope.jurisdiction_id,
                details={"deadline": deadline},
            )
    measures = dict(
        session.execute(
            select(f.c.id, f.c.evidence).where(f.c.id.in_([r["id"] for r in keep]))
        ).all()
    )
    dept_rows = {
        code: (dept_id, name, tags)
        for dept_id, code, name, tags in session.execute(
            select(
                table(Department).c.id,
                table(Department).c.code,
                table(Department).c.name,
                table(Department).c.notify_tags,
            ).where(table(Department).c.jurisdiction_id == scope.jurisdiction_id)
        )
    }
    now = utc_now()
    upsert(
        session,
        RectificationItem,
        [
            {
                "finding_id": r["id"],
                "department_id": dept_rows[r["department"]][0],
                "supervising_section": r["section"],
                "measures": (measures.get(r["id"]) or {}).get("measures", ""),
                "issued_on": as_of,
                "deadline": r["deadline"],
                "status": RectificationStatus.OPEN.value,
                "extensions": 0,
                "version": 1,
                "updated_at": now,
            }
            for r in items
        ],
        keys=["finding_id"],
    )
    ri = table(RectificationItem)
    item_ids = dict(
        session.execute(
            select(ri.c.finding_id, ri.c.id).where(ri.c.finding_id.in_([r["id"] for r in items]))
        ).all()
    )
    upsert(
        session,
        RectificationEvent,
        [
            {
                "item_id": item_ids[r["id"]],
                "seq": 1,
                "from_status": None,
                "to_status": RectificationStatus.OPEN.value,
                "actor": decision.approver,
                "on_date": as_of,
                "reason": "问题清单审核下发",
                "evidence": [],
                "at": now,
            }
            for r in items
        ],
        keys=["item_id", "seq"],
    )
    pl = table(ProblemList)
    phase = PhaseKind(scope.phase.kind)
    for code, rows in sorted(by_dept.items()):
        dept_id, name, tags = dept_rows[code]
        reply = max(r["deadline"] for r in rows)
        subject, _html, text = render_problem_list(
            ProblemListContext(
                department=name,
                year=scope.cycle.year,
                phase=phase,
                findings=[
                    FindingLine(
                        title=r["title"],
                        category=_enum_label(r["category"]),
                        severity=_enum_label(r["severity"]),
                        evidence=f"问题编号 {r['id']}",
                        deadline=r["deadline"],
                        section=r["section"],
                    )
                    for r in rows
                ],
                reply_deadline=reply,
                issued_on=as_of,
            )
        )
        for tag in contact_tags(code, tags):
            enqueue(
                session,
                jurisdiction_id=scope.jurisdiction_id,
                key=f"problem-list:{scope.cycle.year}:{phase.value}:{code}:{tag}",
                department_id=dept_id,
                recipient_tag=tag,
                kind="problem_list",
                subject=subject,
                body=text,
                business_date=as_of,
            )
        summary.by_department[code] = len(rows)
    session.execute(
        update(pl)
        .where(
            pl.c.cycle_id == scope.cycle_id,
            pl.c.phase_kind == scope.phase.kind,
            pl.c.status == ProblemListStatus.DRAFT.value,
        )
        .values(
            status=ProblemListStatus.SENT.value,
            issued_on=as_of,
            approved_by=decision.approver,
            approved_at=now,
        )
    )
    audit(
        session,
        actor=decision.approver,
        action="problem_lists_approved",
        entity="phase",
        entity_key=f"{scope.cycle.year}/{scope.phase.kind}",
        jurisdiction_id=scope.jurisdiction_id,
        details={"lists": len(by_dept), "items": len(items), "dropped": len(drops)},
    )
    summary.approved_lists = len(by_dept)
    summary.items_created = len(items)
    summary.dropped = len(drops)
    summary.approved_by = decision.approver
    return summary


def _enum_label(value: str) -> str:
    from bihuan.vocab import label

    return label(value)


def work_calendar(policy: Policy) -> WorkCalendar:
    return WorkCalendar.from_policy(policy.calendar)


def approve_drafts(
    ctx: AppContext, year: int, kind: PhaseKind, decision: ProblemListApproval, as_of: date
) -> ProblemSummary:
    """Approve the drafts of a phase outside Prefect (`bihuan problems approve`)."""
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, kind)
        return apply_approval(
            session, scope, ctx.policy, decision, as_of=as_of, cal=work_calendar(ctx.policy)
        )


# ------------------------------------------------------------------ the flow


@task(name="raise-findings", cache_policy=NO_CACHE)
def raise_findings_task(year: int, phase: PhaseKind) -> tuple[int, int, list[dict[str, Any]]]:
    ctx = flow_context()
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, phase)
        new, _drafts = raise_findings(session, scope, ctx.policy)
        lists = draft_problem_lists(session, scope)
        pending = pending_findings(session, scope)
    return new, lists, pending


def _approval_description(year: int, phase: PhaseKind, pending: list[dict[str, Any]]) -> str:
    lines = [
        f"## {year}年{phase.label}问题清单待审核 ({len(pending)} 条问题)",
        "",
        "同意下发请勾选 approve 并填写审核人; 如需剔除某条问题, 在 drop 中填写问题编号和理由;"
        " 如需调整整改期限, 在 deadlines 中填写问题编号和新期限。",
        "",
        "| 编号 | 部门 | 类别 | 程度 | 问题 |",
        "|---|---|---|---|---|",
    ]
    for row in pending[:300]:
        lines.append(
            f"| {row['id']} | {row['department_name']} | {_enum_label(row['category'])} | "
            f"{_enum_label(row['severity'])} | {row['title']} |"
        )
    if len(pending) > 300:
        lines.append(f"| … | 另有 {len(pending) - 300} 条, 见 `bihuan findings` | | | |")
    return "\n".join(lines)


def prefect_server_running() -> bool:
    """True when runs go to a real Prefect server (PREFECT_API_URL set), where pauses have a UI."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


@flow(name="issue-problem-lists", flow_run_name="issue-problem-lists-{year}-{phase}")
def issue_problem_lists(
    year: int,
    phase: PhaseKind = PhaseKind.MID_YEAR,
    as_of: date | None = None,
    auto_approve: str | None = None,
    wait_for_approval: bool | None = None,
    approval_timeout_hours: int = 72,
) -> ProblemSummary:
    """Raise findings, draft the problem lists, and issue them once a coordinator approves.

    `auto_approve` names the approver of a scripted run. Otherwise the run pauses for the
    approval form in the Prefect UI when `wait_for_approval` is true (default: when a Prefect
    server is configured), or leaves the drafts for `bihuan problems approve`."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    ctx = flow_context()
    new, lists, pending = raise_findings_task(year, kind)
    summary = ProblemSummary(year=year, phase=kind.value, as_of=day, new_findings=new, drafts=lists)
    if not pending:
        return summary
    create_table_artifact(
        key=artifact_key("findings", year, kind.value),
        table=[{k: v for k, v in row.items() if k != "key"} for row in pending],
        description=f"{year} {kind.label} 待审核问题 (findings awaiting approval)",
    )
    decision: ProblemListApproval | None = None
    if auto_approve:
        decision = ProblemListApproval(approver=auto_approve)
    elif wait_for_approval or (wait_for_approval is None and prefect_server_running()):
        from prefect.flow_runs import pause_flow_run

        get_run_logger().info("waiting for a coordinator to approve %d findings", len(pending))
        decision = pause_flow_run(
            wait_for_input=ProblemListApproval.with_initial_data(
                description=_approval_description(year, kind, pending), approver=""
            ),
            timeout=approval_timeout_hours * 3600,
        )
    if decision is None:
        summary.awaiting_approval = True
        return summary
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, kind)
        approved = apply_approval(
            session, scope, ctx.policy, decision, as_of=day, cal=work_calendar(ctx.policy)
        )
    approved.new_findings, approved.drafts = new, lists
    create_markdown_artifact(
        key=artifact_key("problem-lists", year, kind.value),
        markdown=(
            f"# {year}年{kind.label}问题清单\n\n- 审核人: {approved.approved_by}\n"
            f"- 下发部门: {approved.approved_lists} 个; 整改事项: {approved.items_created} 项;"
            f" 剔除: {approved.dropped} 项\n"
        ),
        description=f"{year} {kind.label} problem lists issued",
    )
    return approved
