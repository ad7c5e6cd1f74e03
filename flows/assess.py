"""assess: the double-random draw, chain assessment and scoring of every department in a phase."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select
from sqlmodel import Session

from bihuan.core.chain import ChainResult, LinkResult, assess_chains
from bihuan.core.draw import DrawDepartment, DrawResult, Inspector, draw_with_policy
from bihuan.core.scoring import DepartmentInput, DepartmentScore, score_department
from bihuan.db import audit, session_scope, table, upsert
from bihuan.policy import Policy
from flows.common import Scope, artifact_key, flow_context, load_scope, parse_phase, resolve_as_of
from flows.loaders import DeptRow, load_departments, load_phase_inputs
from models import (
    AssessmentTeam,
    Commissioner,
    Department,
    DepartmentAssessment,
    OnsiteAssignment,
    OnsiteDraw,
    PhaseKind,
    utc_now,
)

BATCH = 50  # departments per scoring task: a task costs 5–20 ms, a department far less


@dataclass
class AssessmentSummary:
    year: int
    phase: str
    as_of: date
    departments: int = 0
    changed: int = 0
    onsite: list[str] = field(default_factory=list)
    draw_seed: int | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    chains: list[dict[str, Any]] = field(default_factory=list)


def policy_hash(policy: Policy) -> str:
    """Which scoring policy produced a score (stored beside it)."""
    text = json.dumps(policy.scoring.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ the draw (双随机)


def load_stored_draw(session: Session, scope: Scope) -> DrawResult | None:
    od, oa = table(OnsiteDraw), table(OnsiteAssignment)
    d, c = table(Department), table(Commissioner)
    row = session.execute(select(od).where(od.c.phase_id == scope.phase_id)).first()
    if row is None:
        return None
    assignments: dict[str, list[str]] = {}
    for dept, insp in session.execute(
        select(d.c.code, c.c.code)
        .join(oa, oa.c.department_id == d.c.id)
        .join(c, c.c.id == oa.c.commissioner_id)
        .where(oa.c.draw_id == row.id)
        .order_by(d.c.code, c.c.code)
    ):
        assignments.setdefault(dept, []).append(insp)
    return DrawResult(
        seed=row.seed,
        share=row.share,
        per_department=int(row.exclusions.get("per_department", 0)),
        candidates=tuple(row.candidates),
        departments=tuple(sorted(assignments)),
        assignments={k: tuple(v) for k, v in assignments.items()},
        exclusions=row.exclusions.get("departments", {}),
    )


def make_draw(
    session: Session,
    scope: Scope,
    policy: Policy,
    departments: list[DeptRow],
    *,
    seed: int | None,
    triggered_by: str,
) -> tuple[DrawResult, bool]:
    """The phase's draw: the stored one if it exists (re-runs never redraw), else a new one."""
    stored = load_stored_draw(session, scope)
    if stored is not None:
        return stored, False
    teams = {
        tid: code
        for tid, code in session.execute(
            select(table(AssessmentTeam).c.id, table(AssessmentTeam).c.code).where(
                table(AssessmentTeam).c.jurisdiction_id == scope.jurisdiction_id
            )
        )
    }
    codes = {d.id: d.code for d in departments}
    c = table(Commissioner)
    pool = session.execute(
        select(c.c.id, c.c.code, c.c.team_id, c.c.former_department_id)
        .where(c.c.jurisdiction_id == scope.jurisdiction_id, c.c.active.is_(True))
        .order_by(c.c.code)
    ).all()
    inspectors = [
        Inspector(code=code, team=teams.get(team_id), former_department=codes.get(former))
        for _id, code, team_id, former in pool
    ]
    candidates = [DrawDepartment(code=d.code, team=teams.get(d.team_id)) for d in departments]
    chosen_seed = seed if seed is not None else secrets.randbits(31)
    result = draw_with_policy(candidates, inspectors, chosen_seed, policy.draw)
    draw_row = OnsiteDraw(
        phase_id=scope.phase_id,
        seed=result.seed,
        share=result.share,
        triggered_by=triggered_by,
        candidates=result.candidates_json(),
        exclusions=result.exclusions_json(),
        drawn_at=utc_now(),
    )
    session.add(draw_row)
    session.flush()
    dept_ids = {d.code: d.id for d in departments}
    insp_ids = {code: cid for cid, code, _t, _f in pool}
    upsert(
        session,
        OnsiteAssignment,
        [
            {
                "draw_id": draw_row.id,
                "department_id": dept_ids[dept],
                "commissioner_id": insp_ids[i],
            }
            for dept, insps in result.assignments.items()
            for i in insps
        ],
        keys=["draw_id", "department_id", "commissioner_id"],
    )
    audit(
        session,
        actor=triggered_by,
        action="onsite_draw",
        entity="onsitedraw",
        entity_key=f"{scope.cycle.year}/{scope.phase.kind}",
        jurisdiction_id=scope.jurisdiction_id,
        details={"seed": result.seed, "departments": list(result.departments)},
    )
    return result, True


@task(name="double-random-draw", cache_policy=NO_CACHE)
def draw_task(year: int, phase: PhaseKind, seed: int | None, triggered_by: str) -> DrawResult:
    ctx = flow_context()
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, phase)
        result, _new = make_draw(
            session,
            scope,
            ctx.policy,
            load_departments(session, scope.jurisdiction_id),
            seed=seed,
            triggered_by=triggered_by,
        )
    return result


# ------------------------------------------------------------------ scoring


@task(name="score-departments", cache_policy=NO_CACHE)
def score_batch(
    batch: list[DepartmentInput],
    links: dict[str, list[LinkResult]],
    year: int,
    policy: Policy,
) -> list[DepartmentScore]:
    """Score a batch of departments (one task per batch, never per indicator)."""
    return [
        score_department(d, year=year, scoring=policy.scoring, links=links.get(d.code, ()))
        for d in batch
    ]


def store_scores(
    session: Session,
    scope: Scope,
    scores: list[DepartmentScore],
    *,
    dept_ids: dict[str, int],
    onsite: set[str],
    as_of: date,
    phash: str,
) -> int:
    """Upsert the phase's assessments; rows whose result did not change are left untouched."""
    da = table(DepartmentAssessment)
    existing = {
        row.department_id: row
        for row in session.execute(
            select(
                da.c.department_id, da.c.total, da.c.breakdown, da.c.onsite, da.c.policy_hash
            ).where(da.c.phase_id == scope.phase_id)
        )
    }
    rows = []
    for s in scores:
        # the explanation is built from the breakdown when someone asks (bihuan scores
        # --department), not stored for every department
        breakdown = s.breakdown().to_json()
        dept_id = dept_ids[s.code]
        row = {
            "phase_id": scope.phase_id,
            "department_id": dept_id,
            "total": s.total if s.total is not None else 0.0,
            "ledger": s.component("ledger"),
            "staffing": s.component("staffing"),
            "central_tasks": s.component("central_tasks"),
            "satisfaction": s.component("satisfaction"),
            "breakdown": breakdown,
            "onsite": s.code in onsite,
            "as_of": as_of,
            "policy_hash": phash,
            "computed_at": utc_now(),
        }
        old = existing.get(dept_id)
        if (
            old is not None
            and old.total == row["total"]
            and old.breakdown == breakdown
            and old.onsite == row["onsite"]
            and old.policy_hash == phash
        ):
            continue
        rows.append(row)
    upsert(
        session,
        DepartmentAssessment,
        rows,
        keys=["phase_id", "department_id"],
        update=[
            "total",
            "ledger",
            "staffing",
            "central_tasks",
            "satisfaction",
            "breakdown",
            "onsite",
            "as_of",
            "policy_hash",
            "computed_at",
        ],
    )
    return len(rows)


def _score_rows(scores: list[DepartmentScore], onsite: set[str]) -> list[dict[str, Any]]:
    ranked = sorted(scores, key=lambda s: (-(s.total or 0.0), s.code))
    return [
        {
            "rank": i,
            "code": s.code,
            "name": s.name,
            "category": s.category,
            "total": round(s.total or 0.0, 1),
            "ledger": _r(s.component("ledger")),
            "staffing": _r(s.component("staffing")),
            "central_tasks": _r(s.component("central_tasks")),
            "satisfaction": _r(s.component("satisfaction")),
            "onsite": "是" if s.code in onsite else "",
        }
        for i, s in enumerate(ranked, 1)
    ]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _markdown(summary: AssessmentSummary, draw: DrawResult, chains: list[ChainResult]) -> str:
    label = PhaseKind(summary.phase).label
    totals = [row["total"] for row in summary.scores]
    top = summary.scores[:3]
    bottom = summary.scores[-3:]
    lines = [
        f"# {summary.year}年{label}监管评估 (assessment summary)",
        "",
        f"- 评估日期 (as of): {summary.as_of}",
        f"- 参评部门: {summary.departments} 个; 本次结果有变化: {summary.changed} 个",
        f"- 平均分 {sum(totals) / len(totals):.1f}, 最高 {max(totals):.1f}, 最低 {min(totals):.1f}"
        if totals
        else "- 无评分",
        f"- 双随机抽取驻点评估部门 {len(draw.departments)} 个 (种子 seed {draw.seed}): "
        + "、".join(draw.departments),
        "",
        "## 前三名",
        *[f"- {r['rank']}. {r['name']} ({r['code']}) {r['total']}" for r in top],
        "## 后三名",
        *[f"- {r['rank']}. {r['name']} ({r['code']}) {r['total']}" for r in bottom],
        "## 中心工作链条 (chain assessment)",
    ]
    for chain in chains:
        score = "未评估" if chain.score is None else f"{chain.score:.1f}"
        lines.append(
            f"- {chain.task_name} ({chain.task_code}): 链条得分 {score}"
            + (f", 短板归责: {'、'.join(chain.responsible)}" if chain.responsible else "")
        )
    return "\n".join(lines) + "\n"


@flow(name="assess", flow_run_name="assess-{year}-{phase}")
def assess(
    year: int,
    phase: PhaseKind = PhaseKind.MID_YEAR,
    as_of: date | None = None,
    triggered_by: str = "scheduler",
    seed: int | None = None,
) -> AssessmentSummary:
    """Draw departments for on-site assessment (双随机), assess central tasks as chains
    (链条式评估), and score every department with its breakdown down to the indicator."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    ctx = flow_context()
    policy = ctx.policy
    drawn = draw_task(year, kind, seed, triggered_by)
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, kind)
        inputs = load_phase_inputs(session, scope)
    chains, links = assess_chains(inputs.tasks, policy.scoring.chain)
    departments = [inputs.inputs[d.code] for d in inputs.departments]
    batches = [departments[i : i + BATCH] for i in range(0, len(departments), BATCH)]
    # each task gets only its own departments' chain links: Prefect walks every task's
    # parameters, so handing all links to every batch made a province's assessment quadratic
    futures = [
        score_batch.submit(batch, {d.code: links.get(d.code, []) for d in batch}, year, policy)
        for batch in batches
    ]
    scores = [s for f in futures for s in f.result()]
    onsite = set(drawn.departments)
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, kind)
        changed = store_scores(
            session,
            scope,
            scores,
            dept_ids={d.code: d.id for d in inputs.departments},
            onsite=onsite,
            as_of=day,
            phash=policy_hash(policy),
        )
        if scope.phase.assessed_on is None or changed:
            scope.phase.assessed_on = day
            session.add(scope.phase)
        if changed:
            audit(
                session,
                actor=triggered_by,
                action="assess",
                entity="phase",
                entity_key=f"{year}/{kind.value}",
                jurisdiction_id=scope.jurisdiction_id,
                details={"changed": changed, "as_of": day},
            )
    summary = AssessmentSummary(
        year=year,
        phase=kind.value,
        as_of=day,
        departments=len(scores),
        changed=changed,
        onsite=sorted(onsite),
        draw_seed=drawn.seed,
        scores=_score_rows(scores, onsite),
        chains=[c.as_dict() for c in chains],
    )
    create_table_artifact(
        key=artifact_key("scores", year, kind.value),
        table=summary.scores,
        description=f"{year} {kind.label} 部门得分 (department scores)",
    )
    create_table_artifact(
        key=artifact_key("draw", year, kind.value),
        table=[
            {"department": dept, "inspectors": "、".join(insps)}
            for dept, insps in sorted(drawn.assignments.items())
        ],
        description=f"{year} {kind.label} 双随机抽查 seed={drawn.seed}, "
        f"candidates={len(drawn.candidates)}",
    )
    create_markdown_artifact(
        key=artifact_key("assessment-summary", year, kind.value),
        markdown=_markdown(summary, drawn, chains),
        description=f"{year} {kind.label} assessment summary",
    )
    return summary
