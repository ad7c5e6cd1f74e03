"""recheck: the next-year re-check (次年复查) of last year's rectification items, as a Prefect flow.

The rules are in bihuan/services/recheck.py (and the decision table in bihuan/core/recheck.py);
this flow runs the use case for the user `run_as` in `jurisdiction` and shows the decisions as
artifacts. Run it in January (carries what was not fixed) and again after the mid-year
assessment, before the problem lists are issued (finds verified items whose indicator fails
again).
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from bihuan.core.access import Permission
from bihuan.services import identity
from bihuan.services import recheck as service
from bihuan.services.recheck import RecheckResult
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import RecheckOutcome
from flows.common import artifact_key, artifact_rows, flow_app, resolve_as_of, run_actor


@task(name="recheck-items", cache_policy=NO_CACHE)
def recheck_task(jurisdiction: str, run_as: str, year: int, as_of: date) -> RecheckResult:
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        actor = identity.actor_for(uow, run_as)
        return service.recheck(uow, jurisdiction, year, actor, as_of)


def _markdown(result: RecheckResult) -> str:
    lines = [
        f"# {result.jurisdiction} {result.year}年次年复查 (re-check of {result.year - 1} items)",
        "",
        f"- 复查日期 (as of): {result.as_of}",
        f"- {result.year - 1}年整改事项: {result.prior_items} 项; 新增延续问题: "
        f"{result.new_findings} 项",
    ]
    for outcome, n in result.counts.items():
        lines.append(f"- {RecheckOutcome(outcome).label}: {n} 项")
    return "\n".join(lines) + "\n"


@flow(name="recheck", flow_run_name="recheck-{jurisdiction}-{year}")
def recheck(jurisdiction: str, run_as: str, year: int, as_of: date | None = None) -> RecheckResult:
    """Re-check last year's rectification items (次年复查): keep verified ones closed, carry what
    was not fixed (or came back) into this year's problem list, never reopen a cannot-solve item
    whose agreed alternative still holds."""
    run_actor(flow_app(jurisdiction), run_as, Permission.RUN_CYCLE, f"re-check {year}")
    day = resolve_as_of(as_of)
    result = recheck_task(jurisdiction, run_as, year, day)
    if result.decisions:
        # capped: a province-sized re-check (~94,000 items) made an event Prefect refuses
        table, cut = artifact_rows(
            [
                {
                    "事项 item": d.item,
                    "部门 department": d.department,
                    "类别 category": d.category_label,
                    "上年状态 status": d.status_label,
                    "复查结论 outcome": d.outcome_label,
                    "延续问题 new finding": d.new_finding or "",
                    "理由 reason": d.reason,
                }
                for d in result.decisions
            ]
        )
        create_table_artifact(
            key=artifact_key("recheck", jurisdiction, year),
            table=table,
            description=f"{jurisdiction} {year}年次年复查 decisions on {year - 1} items{cut}",
        )
    create_markdown_artifact(
        key=artifact_key("recheck-summary", jurisdiction, year),
        markdown=_markdown(result),
        description=f"{jurisdiction} {year} re-check summary",
    )
    return result
