"""Reminder and notification commands: track (整改跟踪), dispatch (发送), notifications (通知)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import select

from bihuan.cli import DbOpt, JsonOpt, JurOpt, console, print_json, print_table
from bihuan.commands.cycle import AsOfOpt, bind_flows_to, parse_date
from bihuan.db import session_scope, table
from bihuan.errors import UserError
from models import Department, Jurisdiction, Notification
from models.enums import NotificationStatus

notifications_app = typer.Typer(
    help="The notification outbox (通知发件箱): list what was written and sent, re-send failures.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.command("track")(track_cmd)
    app.command("dispatch")(dispatch_cmd)
    app.add_typer(notifications_app, name="notifications")


def _channels_note(ctx: Any) -> None:
    """The embedded default: without an apprise config, every tag goes to the local sink."""
    from flows.dispatch import ensure_channels_config

    written = ensure_channels_config(ctx)
    if written is not None:
        console.print(
            f"no apprise config found: wrote {written}, which sends every recipient tag to the "
            f"local sink {ctx.settings.outbox_dir}/ (replace it with real URLs; see "
            "config/apprise.example.yml)"
        )


def _dispatch_line(report: dict[str, Any]) -> str:
    return (
        f"sent {report['sent']}, retrying {report['retrying']}, config errors {report['failed']}, "
        f"dead {report['dead']}"
    )


def track_cmd(
    as_of: AsOfOpt = None,
    no_dispatch: Annotated[
        bool,
        typer.Option(
            "--no-dispatch", help="Only write the outbox; send later with `bihuan dispatch`."
        ),
    ] = False,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Daily rectification tracking (整改跟踪): reminders, escalation, one digest per recipient."""
    ctx = bind_flows_to(db, jurisdiction)
    if not no_dispatch:
        _channels_note(ctx)
    from flows.track import track_rectifications

    summary = track_rectifications(as_of=parse_date(as_of), dispatch=not no_dispatch)
    if json:
        data = summary.to_dict()
        data["notices"] = data.pop("rows")
        data["notice_count"] = summary.notices
        print_json(data)
        return
    if not summary.working_day:
        console.print(f"{summary.as_of} is not a working day (非工作日): nothing to do")
        return
    console.print(
        f"{summary.as_of}: {summary.notices} notices over {summary.active_items} active items "
        f"(last run {summary.last_run or 'never'}), {summary.escalated} escalated, "
        f"{summary.digests + summary.supplementary_digests} digests written"
    )
    if summary.rows:
        print_table(
            f"整改提醒 notices {summary.as_of}",
            ["item", "department", "step", "level", "recipients"],
            [
                [r["item"], r["department_name"], r["step"], r["level"], r["recipients"]]
                for r in summary.rows
            ],
        )
    if summary.dispatch is not None:
        console.print(_dispatch_line(summary.dispatch))


def dispatch_cmd(
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Send the due notifications of the outbox (with retries, backoff and dead-lettering)."""
    ctx = bind_flows_to(db, jurisdiction)
    _channels_note(ctx)
    from dataclasses import asdict

    from flows.dispatch import dispatch_notifications, failures_by_department

    report = dispatch_notifications(as_of=parse_date(as_of))
    failures = failures_by_department(ctx.db_url, report)
    if json:
        print_json(
            {**{k: v for k, v in asdict(report).items() if k != "problems"}, "failures": failures}
        )
        return
    console.print(_dispatch_line(asdict(report)))
    if failures:
        print_table(
            "发送失败 failures by department",
            ["department", "failed attempts", "config errors", "dead", "tags", "errors"],
            [
                [
                    r["department"] or r["department_name"],
                    r["failed_attempts"],
                    r["config_errors"],
                    r["dead"],
                    r["tags"],
                    r["errors"],
                ]
                for r in failures
            ],
        )


StatusOpt = Annotated[
    NotificationStatus | None,
    typer.Option("--status", help="Only this status: pending, sent, failed, dead, digested."),
]
DepartmentOpt = Annotated[
    str | None, typer.Option("--department", help="Only this department code (部门代码).")
]


def list_notifications(
    url: str,
    *,
    jurisdiction: str,
    status: str | None = None,
    department: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Outbox rows, newest first. Errors were masked when stored; no URL is ever stored."""
    n, d, j = table(Notification), table(Department), table(Jurisdiction)
    stmt = (
        select(
            n.c.id,
            n.c.idempotency_key,
            d.c.code,
            n.c.recipient_tag,
            n.c.kind,
            n.c.subject,
            n.c.status,
            n.c.attempts,
            n.c.last_error,
            n.c.business_date,
            n.c.sent_at,
        )
        .join(j, j.c.id == n.c.jurisdiction_id)
        .outerjoin(d, d.c.id == n.c.department_id)
        .where(j.c.code == jurisdiction)
        .order_by(n.c.business_date.desc(), n.c.id.desc())
    )
    if status:
        stmt = stmt.where(n.c.status == status)
    if department:
        stmt = stmt.where(d.c.code == department)
    if kind:
        stmt = stmt.where(n.c.kind == kind)
    if limit:
        stmt = stmt.limit(limit)
    with session_scope(url) as session:
        return [
            {
                "id": r.id,
                "key": r.idempotency_key,
                "department": r.code,
                "recipient_tag": r.recipient_tag,
                "kind": r.kind,
                "subject": r.subject,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "business_date": r.business_date,
                "sent_at": r.sent_at,
            }
            for r in session.execute(stmt)
        ]


@notifications_app.callback()
def notifications(
    typer_ctx: typer.Context,
    status: StatusOpt = None,
    department: DepartmentOpt = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="Only this kind: digest, reminder (markers), problem_list, ..."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most N rows, newest first.")
    ] = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the notification outbox (通知): what was written, to whom, and whether it was sent."""
    if typer_ctx.invoked_subcommand is not None:
        return
    ctx = bind_flows_to(db, jurisdiction)
    rows = list_notifications(
        ctx.db_url,
        jurisdiction=ctx.jurisdiction,
        status=status.value if status else None,
        department=department,
        kind=kind,
        limit=limit,
    )
    if json:
        print_json(rows)
        return
    print_table(
        f"通知 notifications ({len(rows)})",
        ["id", "date", "department", "to", "kind", "status", "tries", "subject", "last error"],
        [
            [
                r["id"],
                r["business_date"],
                r["department"],
                r["recipient_tag"],
                r["kind"],
                r["status"],
                r["attempts"],
                r["subject"],
                r["last_error"],
            ]
            for r in rows
        ],
    )


@notifications_app.command("resend")
def resend_cmd(
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Notification id; repeat for several.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Re-queue all notifications in this status: dead or failed."),
    ] = None,
    department: DepartmentOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Due from the start of this business day (for a simulated calendar); default now.",
        ),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who re-sends (for the audit log).")] = "cli",
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Re-queue dead or failed notifications (重新发送); `bihuan dispatch` then sends them."""
    ctx = bind_flows_to(db, jurisdiction)
    from flows.dispatch import start_of
    from notifications.outbox import resend

    if status is not None and status not in ("dead", "failed"):
        raise UserError(f"--status {status}: only 'dead' or 'failed' notifications can be re-sent")
    if ids:
        n, j = table(Notification), table(Jurisdiction)
        with session_scope(ctx.db_url) as session:
            known = set(
                session.execute(
                    select(n.c.id)
                    .join(j, j.c.id == n.c.jurisdiction_id)
                    .where(j.c.code == ctx.jurisdiction, n.c.id.in_(ids))
                ).scalars()
            )
        missing = sorted(set(ids) - known)
        if missing:
            raise UserError(
                f"--id {', '.join(map(str, missing))}: no such notification in {ctx.jurisdiction!r};"
                " see `bihuan notifications`"
            )
    now = start_of(parse_date(as_of)) if as_of else None
    count = resend(
        ctx.db_url, ids=ids or None, status=status, department=department, now=now, actor=actor
    )
    console.print(
        f"re-queued {count} notification(s)"
        + ("; send them with `bihuan dispatch`" if count else " (nothing dead or failed matched)")
    )


__all__ = ["list_notifications", "register"]
