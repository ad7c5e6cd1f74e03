"""track-rectifications: the daily reminder and escalation run over the rectification ledger (整改台账).

An adapter over `bihuan.services.tracking.track` (one transaction: levels, markers, digests and
the last run; its exactly-once design is stated there), then the dispatcher task of
flows/dispatch.py sends the outbox. Nothing happens on a non-working day.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

import bihuan.services.tracking as tracking_service
from bihuan.core.access import Permission
from bihuan.core.reminders import describe_step
from bihuan.policy import Policy
from bihuan.services.notifications import DispatchReport, recipient_label
from bihuan.services.tracking import TrackSummary
from bihuan.services.uow import UnitOfWork
from flows.common import flow_app, resolve_as_of, run_actor
from flows.dispatch import report_dispatch, send_due

ARTIFACT_ROWS = 1000


@task(name="plan-and-record-reminders", cache_policy=NO_CACHE)
def plan_and_record(jurisdiction: str, run_as: str, as_of: date) -> TrackSummary:
    app = flow_app(jurisdiction)
    actor = run_actor(app, run_as, Permission.RUN_CYCLE, "track rectifications")
    with UnitOfWork(app) as uow:
        summary = tracking_service.track(uow, actor, jurisdiction, as_of)
    for warning in summary.warnings:
        get_run_logger().warning(warning)
    if summary.unknown_sections:
        get_run_logger().warning(
            "supervising sections %s are not in config/policy.toml [findings.sections]; their "
            "escalations go to tag %r",
            summary.unknown_sections,
            tracking_service.UNKNOWN_SECTION_TAG,
        )
    return summary


# What a tracker run planned, per kind of step, in the summary's words (by_step keys).
STEP_KINDS = {
    "pre": "到期前提醒",
    "due": "到期当日提醒",
    "overdue": "逾期催办",
    "escalate": "升级提醒",
}


def notice_rows(summary: TrackSummary, policy: Policy) -> list[dict[str, object]]:
    """The day's notices as the artifact's table: steps and recipients in Chinese."""
    return [
        {
            "事项 item": r.item,
            "部门 department": r.department,
            "部门名称 name": r.department_name,
            "提醒 step": describe_step(r.step),
            "补发 skipped": "、".join(describe_step(s) for s in r.skipped),
            "层级 level": r.level_label,
            "升级 escalated": "是" if r.escalated else "",
            "收件人 recipients": "、".join(
                recipient_label(policy, summary.jurisdiction, t) for t in r.recipients
            ),
        }
        for r in summary.rows[:ARTIFACT_ROWS]
    ]


def summary_markdown(summary: TrackSummary, dispatched: DispatchReport | None) -> str:
    """The run's summary artifact (Chinese labels only)."""
    day = summary.as_of.isoformat()
    steps = (
        "、".join(f"{STEP_KINDS.get(k, k)} {v}" for k, v in sorted(summary.by_step.items())) or "无"
    )
    sent = ""
    if dispatched is not None:
        sent = (
            f"- 发送: 已发送 {dispatched.sent}, 待重试 {dispatched.retrying}, "
            f"配置错误 {dispatched.failed}, 已停止重试 {dispatched.dead}\n"
        )
    return (
        f"# 整改跟踪 {summary.jurisdiction} {day}\n\n"
        f"- 上次运行: {summary.last_run or '无'}; 在办整改事项: {summary.active_items}\n"
        f"- 今日提醒: {summary.notices} 项 ({steps}); 层级上升: {summary.escalated} 项\n"
        f"- 每日汇总: {summary.digests} 份"
        + (
            f", 补充汇总 {summary.supplementary_digests} 份"
            if summary.supplementary_digests
            else ""
        )
        + "\n"
        + sent
    )


def _artifacts(summary: TrackSummary, dispatched: DispatchReport | None) -> None:
    day = summary.as_of.isoformat()
    if summary.rows:
        create_table_artifact(
            key="track-rectifications-notices",
            table=notice_rows(summary, flow_app(summary.jurisdiction).policy),
            description=f"整改提醒 {summary.jurisdiction} {day}: {summary.notices} notices"
            + (f" (first {ARTIFACT_ROWS} shown)" if summary.notices > ARTIFACT_ROWS else ""),
        )
    create_markdown_artifact(
        key="track-rectifications-summary",
        markdown=summary_markdown(summary, dispatched),
        description=f"track-rectifications {summary.jurisdiction} {day}",
    )


@flow(
    name="track-rectifications",
    flow_run_name="track-rectifications-{jurisdiction}-{as_of}",
)
def track_rectifications(
    jurisdiction: str, run_as: str, as_of: date | None = None, dispatch: bool = True
) -> TrackSummary:
    """Plan the day's reminders and escalations, write them to the outbox, then send them, as
    `run_as` (an office user)."""
    run_actor(flow_app(jurisdiction), run_as, Permission.RUN_CYCLE, "track rectifications")
    day = resolve_as_of(as_of)
    summary = plan_and_record(jurisdiction, run_as, day)
    if not summary.working_day:
        get_run_logger().info("%s is not a working day: nothing to do", day)
        return summary
    report = None
    if dispatch:
        report = send_due(jurisdiction, run_as, day)
        report_dispatch(report, day)
        summary = summary.model_copy(update={"dispatch": report})
    _artifacts(summary, report)
    return summary


__all__ = ["TrackSummary", "plan_and_record", "track_rectifications"]
