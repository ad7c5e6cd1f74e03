"""Reminder and notification commands: track (整改跟踪), dispatch (发送), notifications (通知)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bihuan.cli import (
    AsOpt,
    DbOpt,
    JsonOpt,
    JurOpt,
    acting,
    console,
    ctx_for,
    err_console,
    print_json,
    print_table,
)
from bihuan.commands.cycle import AsOfOpt, parse_date
from bihuan.vocab import NotificationStatus

if TYPE_CHECKING:
    from bihuan.services.notifications import DispatchReport

notifications_app = typer.Typer(
    help="The notification outbox (通知发件箱): list what was written and sent, re-send failures.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.command("track")(track_cmd)
    app.command("dispatch")(dispatch_cmd)
    app.add_typer(notifications_app, name="notifications")


def _channels_note(jurisdiction: str, run_as: str, outbox_dir: object) -> None:
    """The embedded default: without an apprise config, every tag goes to the local sink."""
    from flows.dispatch import ensure_channels_config

    written = ensure_channels_config(jurisdiction, run_as)
    if written is not None:
        _wrote_demo_config(written, outbox_dir)


def _wrote_demo_config(written: object, outbox_dir: object) -> None:
    console.print(
        f"no apprise config found: wrote {written}, which sends every recipient tag to the "
        f"local sink {outbox_dir}/ (replace it with real URLs; see config/apprise.example.yml)"
    )


def _dispatch_line(report: DispatchReport) -> str:
    line = (
        f"sent {report.sent}, retrying {report.retrying}, config errors {report.failed}, "
        f"dead {report.dead}"
    )
    if report.deferred:
        line += f", deferred to the next run {report.deferred}"
    if report.closed_channels:
        line += f" (channels not answering: {', '.join(report.closed_channels)})"
    return line


def _print_failures(report: DispatchReport) -> None:
    from flows.dispatch import failure_rows

    if report.failures:
        print_table(
            "发送失败 failures by department",
            [
                "department 部门",
                "failed attempts 失败次数",
                "config errors 配置错误",
                "dead 已停止重试",
                "tags 标签",
                "errors 错误",
            ],
            [
                [
                    r["department"] or r["department_name"],
                    r["failed_attempts"],
                    r["config_errors"],
                    r["dead"],
                    r["tags"],
                    r["errors"],
                ]
                for r in failure_rows(report.failures)
            ],
        )


def track_cmd(
    as_of: AsOfOpt = None,
    no_dispatch: Annotated[
        bool,
        typer.Option(
            "--no-dispatch", help="Only write the outbox; send later with `bihuan dispatch`."
        ),
    ] = False,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Daily rectification tracking (整改跟踪): reminders, escalation, one digest per recipient."""
    from bihuan.runtime import no_flow_heartbeat

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    day = parse_date(as_of)
    if not no_dispatch:
        _channels_note(ctx.jurisdiction, actor.login, ctx.settings.outbox_dir)
    from flows.local_server import server_dies_with_parent
    from flows.track import track_rectifications

    server_dies_with_parent()
    with no_flow_heartbeat():
        summary = track_rectifications(
            jurisdiction=ctx.jurisdiction, run_as=actor.login, as_of=day, dispatch=not no_dispatch
        )
    if json:
        print_json(summary.model_dump(mode="json"))
        return
    if not summary.working_day:
        console.print(f"{summary.as_of} is not a working day (非工作日): nothing to do")
        return
    for warning in summary.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    console.print(
        f"{summary.as_of}: {summary.notices} notices over {summary.active_items} active items "
        f"(last run {summary.last_run or 'never'}), {summary.escalated} escalated, "
        f"{summary.digests + summary.supplementary_digests} digests written"
    )
    if summary.rows:
        print_table(
            f"整改提醒 notices {summary.as_of}",
            ["item 事项", "department 部门", "step 步骤", "level 层级", "recipients 收件人"],
            [
                [r.item, r.department_name, r.step, r.level_label, ", ".join(r.recipients)]
                for r in summary.rows
            ],
        )
    if summary.dispatch is not None:
        console.print(_dispatch_line(summary.dispatch))
        _print_failures(summary.dispatch)


def dispatch_cmd(
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Send the due notifications of the outbox (with retries, backoff and dead-lettering).

    Runs the dispatcher directly; only with a real Prefect server configured (PREFECT_API_URL)
    does it run the `dispatch-notifications` flow, so the run shows in the Prefect UI. A future
    --as-of is clamped to now: a day's messages are never sent before that day."""
    from bihuan.clock import utc_now
    from bihuan.core.outbox import is_future

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    day = parse_date(as_of)
    if is_future(day, utc_now()):
        err_console.print(
            f"--as-of {day} is after today: sending only what is due now (a day's messages "
            "are never sent before that day)"
        )
    if _prefect_server():
        _channels_note(ctx.jurisdiction, actor.login, ctx.settings.outbox_dir)
        from bihuan.runtime import no_flow_heartbeat
        from flows.dispatch import dispatch_notifications

        with no_flow_heartbeat():
            report = dispatch_notifications(
                jurisdiction=ctx.jurisdiction, run_as=actor.login, as_of=day
            )
    else:
        from notifications import dispatcher

        written = dispatcher.ensure_channels_config(ctx, actor)
        if written is not None:
            _wrote_demo_config(written, ctx.settings.outbox_dir)
        report = dispatcher.run_dispatch(ctx, actor, day)
    if json:
        print_json(report.model_dump(mode="json"))
    else:
        console.print(_dispatch_line(report))
        _print_failures(report)
    if report.stopped:
        err_console.print(f"stopped early: {report.stopped}")
        raise typer.Exit(1)


def _prefect_server() -> bool:
    """Whether a real Prefect server is configured (the installation's bihuan.env sets
    PREFECT_API_URL); without one a flow would start a temporary server for nothing."""
    import os

    return bool(os.environ.get("PREFECT_API_URL"))


StatusOpt = Annotated[
    NotificationStatus | None,
    typer.Option("--status", help="Only this status: pending, sent, failed, dead, digested."),
]
DepartmentOpt = Annotated[
    str | None, typer.Option("--department", help="Only this department code (部门代码).")
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
        int, typer.Option("--limit", min=1, help="At most N rows, newest first.")
    ] = 200,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the notification outbox (通知): what was written, to whom, and whether it was sent."""
    if typer_ctx.invoked_subcommand is not None:
        return
    from bihuan.services import notifications as service
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        page = service.list_notifications(
            uow,
            actor,
            ctx.jurisdiction,
            status=status,
            department=department,
            kind=kind,
            limit=limit,
        )
    shown = len(page.rows)
    if shown < page.total:
        err_console.print(f"showing the newest {shown} of {page.total}; see --limit")
    if json:
        print_json([r.model_dump(mode="json") for r in page.rows])
        return
    print_table(
        f"通知 notifications ({shown} of {page.total})"
        if shown < page.total
        else f"通知 notifications ({shown})",
        [
            "id",
            "date 日期",
            "department 部门",
            "to 收件人",
            "kind 类型",
            "status 状态",
            "tries 次数",
            "subject 标题",
            "last error 错误",
        ],
        [
            [
                r.id,
                r.business_date,
                r.department,
                r.recipient_label,
                r.kind_label,
                r.status_label,
                r.attempts,
                r.subject,
                r.last_error,
            ]
            for r in page.rows
        ],
    )


@notifications_app.command("resend")
def resend_cmd(
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Notification id; repeat for several.")
    ] = None,
    status: Annotated[
        NotificationStatus | None,
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
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Re-queue dead or failed notifications (重新发送); `bihuan dispatch` then sends them."""
    from bihuan.clock import utc_now
    from bihuan.core.outbox import start_of
    from bihuan.services import notifications as service
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    now = start_of(parse_date(as_of)) if as_of else utc_now()
    cmd = service.Resend(ids=ids or [], status=status, department=department)
    with UnitOfWork(ctx) as uow:
        result = service.resend(uow, actor, ctx.jurisdiction, cmd, now)
    console.print(
        f"re-queued {result.count} notification(s)"
        + (
            "; send them with `bihuan dispatch`"
            if result.count
            else " (nothing dead or failed matched)"
        )
    )


__all__ = ["register"]
