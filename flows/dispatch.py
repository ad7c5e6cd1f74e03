"""dispatch-notifications: send what is due in the outbox (发件箱) through the apprise channels.

The dispatcher is `notifications.outbox.dispatch` run as one Prefect task (retried on I/O
errors, never on a configuration error), with the policy's `reminders.max_attempts` and
`reminders.retry_backoff_minutes`. The tracker calls the same task after its commit.

The clock: rows become due at the start of their business day (Asia/Shanghai). A run for today
uses the real clock, so backoff between attempts works in real time; a run for a past day (the
demo and tests simulate the calendar) uses the start of that day, so rows of that day and earlier
are due and a retry after backoff comes due on the next simulated day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select

from bihuan.app import AppContext
from bihuan.core.reminders import LEADERSHIP_TAG
from bihuan.db import session_scope, table
from bihuan.errors import UserError
from flows.common import flow_context, resolve_as_of
from models import BUSINESS_TZ, Department, utc_now
from notifications.channels import default_config_path, load_channels, write_demo_config
from notifications.outbox import DispatchReport, dispatch
from notifications.tags import contact_tags, head_tag


def start_of(day: date) -> datetime:
    """00:00 of a business day in Asia/Shanghai (when enqueue makes that day's rows due)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=BUSINESS_TZ)


def dispatch_clock(as_of: date, real_now: datetime) -> datetime:
    """The `now` a dispatcher run for `as_of` uses (see the module docstring)."""
    today = real_now.astimezone(BUSINESS_TZ).date()
    if as_of < today:
        return start_of(as_of)
    return max(real_now, start_of(as_of))


def _no_retry_on_user_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O hiccups (a locked database, a dropped connection), not a bad configuration."""
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
def send_due(as_of: date) -> DispatchReport:
    """Send every due pending row of the outbox; one task per run, never per message."""
    ctx = flow_context()
    channels = load_channels(ctx.settings)
    reminders = ctx.policy.reminders
    return dispatch(
        ctx.db_url,
        sender=channels,
        now=dispatch_clock(as_of, utc_now()),
        max_attempts=reminders.max_attempts,
        backoff_minutes=reminders.retry_backoff_minutes,
    )


def failures_by_department(url: str, report: DispatchReport) -> list[dict[str, Any]]:
    """One row per department with failed attempts: counts by outcome and the distinct errors.

    A configuration error ("no channel configured for tag ...") is reported here per department,
    never counted as sent."""
    d = table(Department)
    ids = {p["department_id"] for p in report.problems if p["department_id"] is not None}
    names: dict[int, tuple[str, str]] = {}
    if ids:
        with session_scope(url) as session:
            names = {
                int(i): (str(c), str(n))
                for i, c, n in session.execute(
                    select(d.c.id, d.c.code, d.c.name).where(d.c.id.in_(ids))
                )
            }
    grouped: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for problem in report.problems:
        grouped[problem["department_id"]].append(problem)
    rows = []
    for dept_id, problems in grouped.items():
        code, name = names.get(dept_id, ("", "(编办 / 无部门)")) if dept_id else ("", "(编办)")
        errors = list(dict.fromkeys(p["error"] for p in problems))
        rows.append(
            {
                "department": code,
                "department_name": name,
                "failed_attempts": len(problems),
                "retrying": sum(p["status"] == "pending" for p in problems),
                "config_errors": sum(p["status"] == "failed" for p in problems),
                "dead": sum(p["status"] == "dead" for p in problems),
                "tags": ", ".join(sorted({p["tag"] for p in problems})),
                "errors": " | ".join(errors[:3])
                + (f" (+{len(errors) - 3})" if len(errors) > 3 else ""),
            }
        )
    return sorted(rows, key=lambda r: (r["department"], r["department_name"]))


def report_dispatch(url: str, report: DispatchReport, as_of: date) -> list[dict[str, Any]]:
    """Artifacts of one dispatcher run: a summary, and failures per department if any."""
    failures = failures_by_department(url, report)
    counts = {k: v for k, v in asdict(report).items() if k != "problems"}
    create_markdown_artifact(
        key="dispatch-notifications-summary",
        markdown=(
            f"# 通知发送 {as_of.isoformat()}\n\n"
            f"- 取出待发: {report.claimed}; 已发送: {report.sent}; 待重试: {report.retrying}; "
            f"配置错误: {report.failed}; 已停止重试: {report.dead}\n"
            + (f"- 有发送失败的部门: {len(failures)} 个, 见失败明细\n" if failures else "")
        ),
        description=f"dispatch on {as_of}: {counts}",
    )
    if failures:
        create_table_artifact(
            key="dispatch-notifications-failures",
            table=failures,
            description=f"failed deliveries per department on {as_of} (errors masked)",
        )
    return failures


@flow(name="dispatch-notifications", flow_run_name="dispatch-notifications-{as_of}")
def dispatch_notifications(as_of: date | None = None) -> DispatchReport:
    """Send the outbox's due notifications, with retries, backoff and dead-lettering."""
    day = resolve_as_of(as_of)
    report = send_due(day)
    report_dispatch(flow_context().db_url, report, day)
    return report


# ------------------------------------------------------------------ embedded default config


def recipient_tags(ctx: AppContext) -> list[str]:
    """Every apprise tag the loop can address: department contacts and heads, the supervising
    sections, the office leadership."""
    from models import Jurisdiction

    d, j = table(Department), table(Jurisdiction)
    tags: set[str] = {LEADERSHIP_TAG}
    tags.update(s.tag for s in ctx.policy.findings.sections.values())
    with session_scope(ctx.db_url) as session:
        for code, notify_tags in session.execute(
            select(d.c.code, d.c.notify_tags)
            .join(j, j.c.id == d.c.jurisdiction_id)
            .where(j.c.code == ctx.jurisdiction)
        ):
            tags.update(contact_tags(code, notify_tags))
            tags.add(head_tag(code))
    return sorted(tags)


def ensure_channels_config(ctx: AppContext) -> Path | None:
    """With no apprise config at the default place, write the demo one (every tag to the local
    sink var/outbox/) and return its path; None when a config exists or one was configured."""
    if ctx.settings.apprise_config:
        return None  # configured explicitly: a missing file is the user's to fix (clear error)
    path = default_config_path(ctx.settings)
    if path.exists():
        return None
    return write_demo_config(path, recipient_tags(ctx), ctx.settings.outbox_dir)


__all__ = [
    "dispatch_clock",
    "dispatch_notifications",
    "ensure_channels_config",
    "failures_by_department",
    "head_tag",
    "recipient_tags",
    "send_due",
    "start_of",
]
