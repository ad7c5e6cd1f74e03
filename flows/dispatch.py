"""dispatch-notifications: send what is due in the outbox (发件箱) through the apprise channels.

The flow is an adapter over `bihuan.services.notifications.dispatch` (claims, retries, backoff,
dead letters; the guarantees are stated there) run as one Prefect task through
`notifications.dispatcher.run_dispatch`, the same function `bihuan dispatch` calls without
Prefect. The task is never retried by Prefect: a retry after a message was accepted would send
it again; the dispatcher retries what can be retried (the writes of outcomes) itself, and the
rows it could not send wait for the next run. The tracker calls the same task after its own
transaction has committed.

The clock (`bihuan.core.outbox.run_clock`), read at every claim and every outcome: a run for
today uses the real clock; a run for a past day (the demo and tests simulate the calendar) the
start of that day plus the real time elapsed; a run for a future day is clamped to the real
clock, so tomorrow's messages are never sent today.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from bihuan.core.access import Permission
from bihuan.services.notifications import DepartmentFailures, DispatchReport
from flows.common import flow_app, resolve_as_of, run_actor
from notifications import dispatcher
from notifications.channels import default_config_path


@task(name="send-due-notifications", cache_policy=NO_CACHE, retries=0)
def send_due(jurisdiction: str, run_as: str, as_of: date) -> DispatchReport:
    """Send every due pending row of the jurisdiction's outbox; one task per run, never per
    message, and never retried (see the module docstring)."""
    app = flow_app(jurisdiction)
    actor = run_actor(app, run_as, Permission.SEND_NOTIFICATIONS, "send notifications")
    return dispatcher.run_dispatch(app, actor, as_of)


def failure_rows(failures: list[DepartmentFailures]) -> list[dict[str, Any]]:
    """The failures of a run as table rows (artifacts, the command line)."""
    return [
        {
            "department": f.department,
            "department_name": f.department_name,
            "failed_attempts": f.failed_attempts,
            "retrying": f.retrying,
            "config_errors": f.config_errors,
            "dead": f.dead,
            "tags": ", ".join(f.tags),
            "errors": " | ".join(f.errors) + (f" (+{f.more_errors})" if f.more_errors else ""),
        }
        for f in failures
    ]


def report_dispatch(report: DispatchReport, as_of: date) -> None:
    """Artifacts of one dispatcher run: a summary, and failures per department if any."""
    create_markdown_artifact(
        key="dispatch-notifications-summary",
        markdown=(
            f"# 通知发送 {report.jurisdiction} {as_of.isoformat()}\n\n"
            f"- 取出待发: {report.claimed}; 已发送: {report.sent}; 待重试: {report.retrying}; "
            f"配置错误: {report.failed}; 已停止重试: {report.dead}; 顺延至下次: {report.deferred}\n"
            + (
                f"- 本次停用的通道: {', '.join(report.closed_channels)}\n"
                if report.closed_channels
                else ""
            )
            + (f"- 提前结束: {report.stopped}\n" if report.stopped else "")
            + (
                f"- 有发送失败的部门: {len(report.failures)} 个, 见失败明细\n"
                if report.failures
                else ""
            )
        ),
        description=f"dispatch on {as_of}: {report.counts()}",
    )
    if report.failures:
        create_table_artifact(
            key="dispatch-notifications-failures",
            table=failure_rows(report.failures),
            description=f"failed deliveries per department on {as_of} (errors masked)",
        )


@flow(
    name="dispatch-notifications",
    flow_run_name="dispatch-notifications-{jurisdiction}-{as_of}",
)
def dispatch_notifications(
    jurisdiction: str, run_as: str, as_of: date | None = None
) -> DispatchReport:
    """Send the outbox's due notifications, with retries, backoff and dead-lettering, as
    `run_as` (an office user)."""
    run_actor(flow_app(jurisdiction), run_as, Permission.SEND_NOTIFICATIONS, "send notifications")
    day = resolve_as_of(as_of)
    report = send_due(jurisdiction, run_as, day)
    report_dispatch(report, day)
    return report


# ------------------------------------------------------------------ embedded default config


def ensure_channels_config(jurisdiction: str, run_as: str) -> Path | None:
    """With no apprise config at the default place, write the demo one (every recipient tag of
    the jurisdiction to the local sink var/outbox/) and return its path; None when a config
    exists or one was configured (notifications.dispatcher.ensure_channels_config)."""
    app = flow_app(jurisdiction)
    if app.settings.apprise_config or default_config_path(app.settings).exists():
        return None
    actor = run_actor(app, run_as, Permission.SEND_NOTIFICATIONS, "configure channels")
    return dispatcher.ensure_channels_config(app, actor)


__all__ = [
    "dispatch_notifications",
    "ensure_channels_config",
    "failure_rows",
    "report_dispatch",
    "send_due",
]
