"""dispatch-notifications: send what is due in the outbox (发件箱) through the apprise channels.

The flow is an adapter over `bihuan.services.notifications.dispatch` (claims, retries, backoff,
dead letters; the guarantees are stated there) run as one Prefect task: retried on I/O errors,
never on a user's or a configuration error. The tracker calls the same task after its commit.

The clock (`bihuan.core.outbox.dispatch_clock`): a run for today uses the real clock, so backoff
between attempts works in real time; a run for a past day (the demo and tests simulate the
calendar) uses the start of that day.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

import bihuan.services.notifications as notification_service
from bihuan.clock import utc_now
from bihuan.core.access import Permission
from bihuan.core.outbox import dispatch_clock
from bihuan.errors import UserError
from bihuan.services.notifications import DepartmentFailures, DispatchReport
from bihuan.services.uow import UnitOfWork
from flows.common import flow_app, resolve_as_of, run_actor
from notifications.channels import default_config_path, load_channels, write_demo_config


def _no_retry_on_user_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O hiccups (a locked database, a dropped connection), not a bad configuration
    or a refused user."""
    try:
        state.result()
    except UserError:
        return False
    except Exception:
        return True
    return False


@task(
    name="send-due-notifications",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_no_retry_on_user_error,
)
def send_due(jurisdiction: str, run_as: str, as_of: date) -> DispatchReport:
    """Send every due pending row of the jurisdiction's outbox; one task per run, never per
    message."""
    app = flow_app(jurisdiction)
    actor = run_actor(app, run_as, Permission.SEND_NOTIFICATIONS, "send notifications")
    return notification_service.dispatch(
        lambda: UnitOfWork(app),
        load_channels(app.settings),
        dispatch_clock(as_of, utc_now()),
        actor=actor,
        jurisdiction=jurisdiction,
    )


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
            f"配置错误: {report.failed}; 已停止重试: {report.dead}\n"
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
    exists or one was configured."""
    app = flow_app(jurisdiction)
    if app.settings.apprise_config:
        return None  # configured explicitly: a missing file is the user's to fix (clear error)
    path = default_config_path(app.settings)
    if path.exists():
        return None
    actor = run_actor(app, run_as, Permission.SEND_NOTIFICATIONS, "configure channels")
    with UnitOfWork(app, readonly=True) as uow:
        tags = notification_service.recipient_tags(uow, actor, jurisdiction)
    return write_demo_config(path, tags, app.settings.outbox_dir)


__all__ = [
    "dispatch_notifications",
    "ensure_channels_config",
    "failure_rows",
    "report_dispatch",
    "send_due",
]
