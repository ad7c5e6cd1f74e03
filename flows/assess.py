"""assess: the double-random draw, chain assessment and scoring of every department in a phase.

Scoring is one task per batch of up to 400 departments (services.assessment.BATCH). A task gets
department ids only, loads its batch's inputs and chains itself and stores its scores: Prefect
walks (and copies) every task parameter, so handing the phase's data to tasks made a province's
assessment quadratic, and even the batches' chain links cost a city's phase a tenth of a second
(issue 13.4).
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from bihuan.core.access import Actor, Permission
from bihuan.runtime import collector_paused
from bihuan.services import assessment
from bihuan.services.assessment import (
    AssessmentPlan,
    AssessmentResult,
    BatchScores,
    ChainRow,
    DrawOutcome,
)
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from flows.common import (
    artifact_key,
    artifact_rows,
    flow_app,
    parse_phase,
    resolve_as_of,
    run_actor,
)
from flows.runners import make_task_runner


@task(name="double-random-draw", cache_policy=NO_CACHE)
def draw_task(
    jurisdiction: str, year: int, phase: PhaseKind, seed: int | None, actor: Actor
) -> DrawOutcome:
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        return assessment.make_or_load_draw(uow, jurisdiction, year, phase, actor, seed=seed)


@task(name="plan-assessment", cache_policy=NO_CACHE)
def plan_task(jurisdiction: str, year: int, phase: PhaseKind, actor: Actor) -> AssessmentPlan:
    with UnitOfWork(flow_app(jurisdiction), readonly=True) as uow:
        return assessment.plan_assessment(uow, jurisdiction, year, phase, actor)


@task(name="score-departments", cache_policy=NO_CACHE)
def score_batch(
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    department_ids: list[int],
    actor: Actor,
    as_of: date,
) -> BatchScores:
    """Score and store one batch of departments (one task per batch, never per indicator):
    scored in a read transaction, so batches score side by side, stored in a short write."""
    app = flow_app(jurisdiction)
    with collector_paused():  # the batch's objects go when it ends: see bihuan/runtime.py
        with UnitOfWork(app, readonly=True) as uow:
            scores = assessment.score_batch(uow, jurisdiction, year, phase, department_ids, actor)
        with UnitOfWork(app) as uow:
            return assessment.store_scores(uow, jurisdiction, year, phase, scores, actor, as_of)


@task(name="finish-assessment", cache_policy=NO_CACHE)
def finish_task(
    jurisdiction: str, year: int, phase: PhaseKind, actor: Actor, as_of: date, changed: int
) -> None:
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        assessment.finish_assessment(uow, jurisdiction, year, phase, actor, as_of, changed=changed)


def _markdown(result: AssessmentResult, draw: DrawOutcome, chains: list[ChainRow]) -> str:
    totals = [row.total for row in result.scores]
    top, bottom = result.scores[:3], result.scores[-3:]
    lines = [
        f"# {result.year}年{result.phase_label}监管评估 (assessment summary)",
        "",
        f"- 评估日期 (as of): {result.as_of}",
        f"- 参评部门: {result.departments} 个; 本次结果有变化: {result.changed} 个",
        f"- 平均分 {sum(totals) / len(totals):.1f}, 最高 {max(totals):.1f}, 最低 {min(totals):.1f}"
        if totals
        else "- 无评分",
        f"- 双随机抽取驻点评估部门 {len(draw.departments)} 个 (种子 seed {draw.seed}): "
        + "、".join(draw.departments),
        "",
        "## 前三名",
        *[f"- {r.rank}. {r.name} ({r.code}) {r.total:.1f}" for r in top],
        "## 后三名",
        *[f"- {r.rank}. {r.name} ({r.code}) {r.total:.1f}" for r in bottom],
        "## 中心工作链条 (chain assessment)",
    ]
    for chain in chains:
        score = "未评估" if chain.score is None else f"{chain.score:.1f}"
        lines.append(
            f"- {chain.task_name} ({chain.task_code}): 链条得分 {score}"
            + (f", 短板归责: {'、'.join(chain.responsible)}" if chain.responsible else "")
        )
    return "\n".join(lines) + "\n"


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _artifacts(jurisdiction: str, result: AssessmentResult, draw: DrawOutcome) -> None:
    year, kind = result.year, result.phase
    scores, cut = artifact_rows(
        [
            {
                "rank": r.rank,
                "code": r.code,
                "name": r.name,
                "category": r.category_label,
                "total": round(r.total, 1),
                "ledger": _r(r.ledger),
                "staffing": _r(r.staffing),
                "central_tasks": _r(r.central_tasks),
                "satisfaction": _r(r.satisfaction),
                "onsite": "是" if r.onsite else "",
            }
            for r in result.scores
        ]
    )
    create_table_artifact(
        key=artifact_key("scores", jurisdiction, year, kind.value),
        table=scores,
        description=f"{jurisdiction} {year} {kind.label} 部门得分 (department scores){cut}",
    )
    create_table_artifact(
        key=artifact_key("draw", jurisdiction, year, kind.value),
        table=[
            {"department": dept, "inspectors": "、".join(insps)}
            for dept, insps in draw.assignments.items()
        ],
        description=f"{jurisdiction} {year} {kind.label} 双随机抽查 seed={draw.seed}, "
        f"candidates={len(draw.candidates)}",
    )
    create_markdown_artifact(
        key=artifact_key("assessment-summary", jurisdiction, year, kind.value),
        markdown=_markdown(result, draw, result.chains),
        description=f"{jurisdiction} {year} {kind.label} assessment summary",
    )


@flow(
    name="assess",
    flow_run_name="assess-{jurisdiction}-{year}-{phase}",
    task_runner=make_task_runner("threads"),  # bounded: see flows/runners.py THREADS
)
def assess(
    jurisdiction: str,
    run_as: str,
    year: int,
    phase: PhaseKind = PhaseKind.MID_YEAR,
    as_of: date | None = None,
    seed: int | None = None,
) -> AssessmentResult:
    """Draw departments for on-site assessment (双随机), assess central tasks as chains
    (链条式评估), and score every department with its breakdown down to the indicator."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    actor = run_actor(
        flow_app(jurisdiction), run_as, Permission.RUN_CYCLE, f"assess {year} {kind.value}"
    )
    drawn = draw_task(jurisdiction, year, kind, seed, actor)
    plan = plan_task(jurisdiction, year, kind, actor)
    futures = [
        score_batch.submit(jurisdiction, year, kind, b.department_ids, actor, day)
        for b in plan.batches
    ]
    batches = [f.result() for f in futures]
    result = assessment.summarise(
        jurisdiction, year, kind, day, draw=drawn, chains=plan.chains, batches=batches
    )
    finish_task(jurisdiction, year, kind, actor, day, result.changed)
    _artifacts(jurisdiction, result, drawn)
    return result
