"""Rectification commands (整改台账): department responses, office decisions, Excel round trip."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

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
from bihuan.core.rectification import Action, Status

if TYPE_CHECKING:
    from bihuan.ingest.issues import ImportIssue

rectify_app = typer.Typer(
    help="Rectification ledger (整改台账): report, verify, extend, request-extension, "
    "decline-extension, cannot-solve, decide, show, export/import workbooks.",
    no_args_is_help=True,
)

ItemArg = Annotated[
    int, typer.Argument(help="Item number (事项编号), see `bihuan rectifications`.")
]
VersionOpt = Annotated[
    int | None,
    typer.Option(
        "--version",
        help="The version you saw (版本); refuse if the item changed since (optimistic lock).",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(rectify_app, name="rectify")
    app.command("rectifications")(rectifications)


def _act(
    db: str | None,
    jurisdiction: str | None,
    as_: str | None,
    item: int,
    action: str,
    *,
    as_of: str | None,
    version: int | None,
    json: bool = False,
    **kw: Any,
) -> None:
    from bihuan.services import rectification
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    cmd = rectification.Act(
        jurisdiction=ctx.jurisdiction,
        item_id=item,
        action=action,
        expected_version=version,
        **kw,
    )
    with UnitOfWork(ctx) as uow:
        out = rectification.act(uow, cmd, actor, parse_date(as_of))
    if json:
        print_json(out.model_dump(mode="json"))
        return
    arrow = (
        f"{out.from_status_label} → {out.status_label}"
        if out.from_status is not out.status
        else f"{out.status_label} (progress recorded 已记录进展)"
        if out.action == "progress"
        else out.status_label
    )
    console.print(
        f"item {out.item_id}: {arrow}; deadline {out.deadline}; version {out.version}; "
        f"history #{out.seq} (by {actor.display_name})",
        highlight=False,
    )
    for ev in out.evidence:
        console.print(f"  evidence {ev.name} → var/{ev.path} (sha256 {ev.sha256[:16]}…)")
    if out.notices:
        console.print(f"  {out.notices} notice(s) to the department queued in the outbox")


@rectify_app.command("report")
def report(
    item: ItemArg,
    progress: Annotated[str, typer.Option("--progress", help="What was done (整改进展).")],
    evidence: Annotated[
        list[Path] | None,
        typer.Option("--evidence", help="Evidence file (佐证材料); repeat for several."),
    ] = None,
    fixed: Annotated[
        bool,
        typer.Option(
            "--fixed/--in-progress",
            help="--fixed reports the item fixed (报告整改完成, needs --evidence); "
            "default: start or record progress (整改中).",
        ),
    ] = False,
    as_of: AsOfOpt = None,
    version: VersionOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """A department reports progress or completion (部门报告整改进展/整改完成); the office may
    answer on a department's behalf."""
    _act(
        db,
        jurisdiction,
        as_,
        item,
        Action.REPORT_FIXED if fixed else "respond",
        as_of=as_of,
        version=version,
        json=json,
        reason=progress,
        evidence=tuple(evidence or ()),
    )


@rectify_app.command("verify")
def verify(
    item: ItemArg,
    accept: Annotated[
        bool | None,
        typer.Option("--accept/--reject", help="Accept and close (验收销号) or reject (不通过)."),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="The verification note (验收意见).")] = "",
    as_of: AsOfOpt = None,
    version: VersionOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """The office or the supervising section verifies a reported fix (验收): --accept closes
    it, --reject reopens it."""
    if accept is None:
        raise typer.BadParameter("say --accept or --reject", param_hint="--accept/--reject")
    _act(
        db,
        jurisdiction,
        as_,
        item,
        Action.VERIFY_ACCEPT if accept else Action.VERIFY_REJECT,
        as_of=as_of,
        version=version,
        json=json,
        reason=note,
    )


@rectify_app.command("extend")
def extend(
    item: ItemArg,
    days: Annotated[int, typer.Option("--days", help="Working days (工作日) to add.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (延期理由).")],
    as_of: AsOfOpt = None,
    version: VersionOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """The office extends a deadline by N Chinese working days (延期, counted and recorded)."""
    _act(
        db,
        jurisdiction,
        as_,
        item,
        Action.EXTEND,
        as_of=as_of,
        version=version,
        json=json,
        reason=reason,
        extend_by=days,
    )


@rectify_app.command("request-extension")
def request_extension(
    item: ItemArg,
    days: Annotated[int, typer.Option("--days", help="Working days (工作日) asked for.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (延期理由).")],
    as_of: AsOfOpt = None,
    version: VersionOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """A department asks for more time (申请延期): recorded on the item, no status change; the
    office grants it (`bihuan rectify extend`) or declines it (`decline-extension`)."""
    _act(
        db,
        jurisdiction,
        as_,
        item,
        Action.REQUEST_EXTENSION,
        as_of=as_of,
        version=version,
        json=json,
        reason=reason,
        extend_by=days,
    )


@rectify_app.command("decline-extension")
def decline_extension(
    item: ItemArg,
    note: Annotated[str, typer.Option("--note", help="Why not (不同意延期的理由).")],
    as_of: AsOfOpt = None,
    version: VersionOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """The office declines a pending extension request (不同意延期); the department is told."""
    _act(
        db,
        jurisdiction,
        as_,
        item,
        Action.DECLINE_EXTENSION,
        as_of=as_of,
        version=version,
        json=json,
        reason=note,
    )


@rectify_app.command("cannot-solve")
def cannot_solve(
    item: ItemArg,
    explanation: Annotated[
        str, typer.Option("--explanation", help="Policy explanation (政策解释).")
    ],
    alternative: Annotated[
        str, typer.Option("--alternative", help="Agreed alternative measure (替代措施).")
    ],
    note: Annotated[str, typer.Option("--note", help="A note for the office.")] = "",
    as_of: AsOfOpt = None,
    version: VersionOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """A department asks for 'cannot be solved' (申请无法解决), which the office then decides."""
    _act(
        db,
        jurisdiction,
        as_,
        item,
        Action.REQUEST_CANNOT_SOLVE,
        as_of=as_of,
        version=version,
        json=json,
        reason=note,
        explanation=explanation,
        alternative=alternative,
    )


@rectify_app.command("decide")
def decide(
    item: ItemArg,
    approve: Annotated[
        bool | None,
        typer.Option("--approve/--deny", help="Approve (同意无法解决) or deny (不同意)."),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="The decision note (审核意见).")] = "",
    as_of: AsOfOpt = None,
    version: VersionOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """The office decides a 'cannot be solved' request (审核无法解决申请)."""
    if approve is None:
        raise typer.BadParameter("say --approve or --deny", param_hint="--approve/--deny")
    _act(
        db,
        jurisdiction,
        as_,
        item,
        Action.APPROVE_CANNOT_SOLVE if approve else Action.DENY_CANNOT_SOLVE,
        as_of=as_of,
        version=version,
        json=json,
        reason=note,
    )


@rectify_app.command("show")
def show(
    item: ItemArg,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show one item (整改事项) with its full history (who, when, why, evidence)."""
    from bihuan.services import rectification
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        data = rectification.item_history(uow, actor, ctx.jurisdiction, item)
    if json:
        print_json(data.model_dump(mode="json"))
        return
    it = data.item
    console.print(
        f"[bold]item {it.id}[/bold] {it.department} {it.department_name}: {it.title}\n"
        f"status {it.status.value} ({it.status_label}); deadline {it.deadline}; "
        f"extensions {it.extensions}; escalation {it.escalation_level_label or '—'}; "
        f"section {it.supervising_section}; version {it.version}\n"
        f"you may next: {', '.join(f'{a.value} ({a.label})' for a in data.allowed) or '—'}",
        highlight=False,
    )
    if it.explanation or it.alternative:
        console.print(f"政策解释: {it.explanation}\n替代措施: {it.alternative}", highlight=False)
    print_table(
        "history 整改记录",
        [
            "# 序号",
            "date 日期",
            "action 事项",
            "from → to 状态",
            "actor 经办",
            "reason 说明",
            "evidence 佐证",
        ],
        [
            [
                h.seq,
                h.on_date,
                h.action_label,
                f"{h.from_status_label} → {h.to_status_label}",
                h.actor,
                h.reason,
                "\n".join(h.evidence),
            ]
            for h in data.history
        ],
    )


@rectify_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Folder for the workbooks.")],
    department: Annotated[
        str | None, typer.Option("--department", help="Only this department code.")
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="Only items of this cycle year.")
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Write one workbook per department listing the open items you may see, to fill in
    (整改台账-<code>-<name>.xlsx): a department its own, a section the items it supervises,
    the office any department's or all."""
    from bihuan.rectify_excel import export_open_items

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    paths = export_open_items(ctx, actor, out, department=department, year=year)
    if not paths:
        console.print("no open items to export")
        return
    for p in paths:
        console.print(f"wrote {p}", highlight=False)


@rectify_app.command("import")
def import_cmd(
    file: Annotated[
        Path, typer.Argument(help="A filled-in workbook from `bihuan rectify export`.")
    ],
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Apply a department's filled-in workbook: a department user its own, the office any
    department's on its behalf. Every row is checked first, then all or nothing."""
    from bihuan.rectify_excel import ResponsesRejected, import_responses

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    try:
        result = import_responses(ctx, file, actor=actor, as_of=parse_date(as_of))
    except ResponsesRejected as exc:
        console.print(_issue_table(f"{len(exc.issues)} error(s) 错误", exc.issues))
        err_console.print(
            f"[red]error:[/red] {file.name}: {len(exc.issues)} error(s); nothing was applied. "
            "Correct the rows above (or export a fresh workbook) and import again.",
            highlight=False,
        )
        raise typer.Exit(exc.exit_code) from None
    console.print(
        f"{result.file}: {result.applied} row(s) applied, {result.skipped} left blank"
        + (
            f" ({', '.join(f'{k} {v}' for k, v in sorted(result.by_action.items()))})"
            if result.by_action
            else ""
        ),
        highlight=False,
    )


def _issue_table(title: str, issues: list[ImportIssue]) -> Table:
    table = Table(title=title, title_style="bold red")
    for col in ("file 文件", "sheet 工作表", "row 行", "column 列", "reason 原因"):
        table.add_column(col, overflow="fold")
    for i in issues:
        table.add_row(i.file, i.sheet, "" if i.row is None else str(i.row), i.column, i.message)
    return table


def rectifications(
    year: Annotated[
        int | None, typer.Option("--year", help="Only items of this cycle year.")
    ] = None,
    department: Annotated[
        str | None, typer.Option("--department", help="Only this department code.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only this status: " + ", ".join(s.value for s in Status) + "."
        ),
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List rectification items (整改台账) you may see: status, deadline, escalation, section,
    version."""
    from bihuan.services import rectification
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = rectification.list_items(uow, actor, ctx.jurisdiction, year, department, status)
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"整改台账 rectification items ({len(rows)})",
        [
            "id 编号",
            "dept 部门",
            "name 名称",
            "finding 问题",
            "category 类别",
            "severity 程度",
            "status 状态",
            "deadline 期限",
            "level 提醒层级",
            "section 督促科室",
            "ext 延期",
            "ver 版本",
        ],
        [
            [
                r.id,
                r.department,
                r.department_name,
                r.title,
                r.category_label,
                r.severity_label,
                r.status_label,
                f"{r.deadline}（暂定）" if r.deadline_provisional else r.deadline,
                r.escalation_level_label or "—",
                r.supervising_section,
                r.extensions,
                r.version,
            ]
            for r in rows
        ],
    )
