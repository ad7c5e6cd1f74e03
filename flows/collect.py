"""collect-indicators: open the phase, request submissions, pull prior-year values, mark missing."""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from bihuan.core.access import Actor, Permission
from bihuan.services import assessment
from bihuan.services.assessment import CollectionResult
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from flows.common import artifact_key, flow_app, parse_phase, resolve_as_of, run_actor


@task(name="collect-phase")
def collect_task(
    jurisdiction: str, year: int, phase: PhaseKind, as_of: date, actor: Actor
) -> CollectionResult:
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        return assessment.open_and_collect(uow, jurisdiction, year, phase, actor, as_of)


def _summary_markdown(s: CollectionResult) -> str:
    missing = "、".join(s.missing) if s.missing else "无"
    state = "已结束" if s.closed else "进行中"
    return (
        f"# {s.year}年{s.phase_label}指标采集\n\n"
        f"- 集中评估窗口: {s.window_start} 至 {s.window_end} ({state})\n"
        f"- 截至 {s.as_of}: 应报送部门 {s.departments} 个, 已报送 {s.submitted} 个, "
        f"待报送 {s.requested} 个, 未报送 {len(s.missing)} 个\n"
        f"- 未报送部门: {missing}\n"
        f"- 自上年度结果补入往年数据: {s.history_pulled} 条\n"
    )


@flow(
    name="collect-indicators",
    flow_run_name="collect-indicators-{jurisdiction}-{year}-{phase}",
)
def collect_indicators(
    jurisdiction: str,
    run_as: str,
    year: int,
    phase: PhaseKind = PhaseKind.MID_YEAR,
    as_of: date | None = None,
) -> CollectionResult:
    """Open the phase's window, request one submission per department, pull prior-year values,
    and, once the window is over, record the departments that did not submit as missing."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    actor = run_actor(
        flow_app(jurisdiction), run_as, Permission.RUN_CYCLE, f"collect {year} {kind.value}"
    )
    summary = collect_task(jurisdiction, year, kind, day, actor)
    create_markdown_artifact(
        key=artifact_key("collection", jurisdiction, year, kind.value),
        markdown=_summary_markdown(summary),
        description=f"{jurisdiction} {year} {kind.value} indicator collection",
    )
    return summary
