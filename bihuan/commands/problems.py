"""Findings (问题) and problem lists (问题清单): list, issue, approve."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bihuan.cli import (
    DEFAULT_LIMIT,
    AsOpt,
    DbOpt,
    JsonOpt,
    JurOpt,
    LimitOpt,
    acting,
    console,
    ctx_for,
    limited,
    print_json,
    print_table,
)
from bihuan.errors import UserError
from bihuan.vocab import PhaseKind

if TYPE_CHECKING:
    from bihuan.services.corrections import CorrectionResult
    from bihuan.services.problems import PhasePreview

problems_app = typer.Typer(
    help="Problem lists (问题清单): issue them from the assessment, approve them.",
    no_args_is_help=True,
)

YearOpt = Annotated[int, typer.Option("--year", help="Cycle year, e.g. 2022.")]
PhaseOpt = Annotated[PhaseKind, typer.Option("--phase", help="mid-year (年中) or year-end (年底).")]
DepartmentsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--department",
        help="Only this department's list (部门代码; repeatable). Default: every department.",
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Business date YYYY-MM-DD (default: today in Asia/Shanghai)."),
]


def register(app: typer.Typer) -> None:
    app.command("findings")(findings)
    app.add_typer(problems_app, name="problems")


def _date(value: str | None, option: str = "--as-of") -> date:
    from bihuan.clock import business_today

    if value is None:
        return business_today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def findings(
    year: YearOpt,
    phase: Annotated[PhaseKind | None, typer.Option(help="Only this phase.")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department code.")] = None,
    limit: LimitOpt = DEFAULT_LIMIT,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the findings (问题) of a year: category, severity, source, status, evidence."""
    from bihuan.services import problems
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = problems.list_findings(uow, actor, ctx.jurisdiction, year, phase, department)
    rows = limited(rows, limit, "findings")
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"{year} 问题 findings ({len(rows)})",
        [
            "id 编号",
            "department 部门",
            "phase 阶段",
            "category 类别",
            "severity 程度",
            "status 状态",
            "title 问题",
        ],
        [
            [
                r.id,
                r.department,
                r.phase_label,
                r.category_label,
                r.severity_label,
                r.status_label,
                r.title,
            ]
            for r in rows
        ],
    )


@problems_app.command("issue")
def issue(
    year: YearOpt,
    phase: PhaseOpt,
    as_of: AsOfOpt = None,
    auto_approve: Annotated[
        str | None,
        typer.Option(
            help="Approve at once as this office (编办) user's login (scripted runs, the demo)."
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            help="Pause for the approval form in the Prefect UI (needs a Prefect server)."
        ),
    ] = False,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Raise findings from the assessment and draft the problem lists; send them once approved."""
    from bihuan.migrate import require_current
    from bihuan.runtime import no_flow_heartbeat
    from flows.problems import issue_problem_lists

    ctx = ctx_for(db, jurisdiction)
    require_current(ctx.db_url)
    actor = acting(ctx, as_)
    with no_flow_heartbeat():
        summary = issue_problem_lists(
            jurisdiction=ctx.jurisdiction,
            run_as=actor.login,
            year=year,
            phase=phase,
            as_of=_date(as_of),
            auto_approve=auto_approve,
            wait_for_approval=wait,
        )
    if json:
        print_json(summary.model_dump(mode="json"))
        return
    console.print(
        f"{year} {phase.label}: {summary.new_findings} new findings, {summary.drafts} draft lists"
    )
    if summary.rejected:
        console.print(f"rejected by {summary.approved_by}: nothing was sent")
    elif summary.approved_by:
        console.print(
            f"approved by {summary.approved_by}: {summary.approved_lists} lists sent, "
            f"{summary.items_created} rectification items, {summary.dropped} dropped"
        )
    if summary.awaiting_approval:
        console.print(
            f"awaiting approval: preview with `bihuan problems preview --year {year} --phase "
            f"{phase.value} --out DIR`, then an office user runs `bihuan problems approve "
            f"--year {year} --phase {phase.value} --as LOGIN` (or approves in the portal)"
        )


def _pairs(values: list[str], what: str) -> list[tuple[int, str]]:
    out = []
    for value in values:
        ident, sep, rest = value.partition(":")
        if not sep or not ident.strip().isdigit() or not rest.strip():
            raise UserError(
                f"{what} {value!r}: write FINDING_ID:{'REASON' if what == '--drop' else 'YYYY-MM-DD'}"
            )
        out.append((int(ident), rest.strip()))
    return out


@problems_app.command("approve")
def approve(
    year: YearOpt,
    phase: PhaseOpt,
    approver: Annotated[
        str | None,
        typer.Option(
            "--approver",
            "--as",
            help="The approving office (编办) user's login (审核人; default BIHUAN_USER), "
            "kept in the audit log. The password comes from BIHUAN_PASSWORD or a prompt when "
            "the installation requires it.",
        ),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option(help="Drop a finding: ID:REASON (repeatable).")
    ] = None,
    deadline: Annotated[
        list[str] | None,
        typer.Option(help="Change a deadline: ID:YYYY-MM-DD, a working day (repeatable)."),
    ] = None,
    department: DepartmentsOpt = None,
    reject: Annotated[
        bool, typer.Option("--reject", help="Reject the drafts instead: nothing is sent.")
    ] = False,
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Approve the phase's draft problem lists, or some departments' (drop findings, change
    deadlines), and send them; deadlines count from the day of approval (--as-of)."""
    from bihuan.services import problems
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    cmd = problems.ApproveLists(
        jurisdiction=ctx.jurisdiction,
        year=year,
        phase=phase,
        approve=not reject,
        departments=list(dict.fromkeys(department or [])),
        drop=[
            problems.DropFinding(finding_id=i, reason=r) for i, r in _pairs(drop or [], "--drop")
        ],
        deadlines=[
            problems.DeadlineChange(finding_id=i, deadline=_date(d, "--deadline"))
            for i, d in _pairs(deadline or [], "--deadline")
        ],
    )
    actor = acting(ctx, approver)
    with UnitOfWork(ctx) as uow:
        result = problems.approve_problem_lists(uow, cmd, actor, _date(as_of))
    if json:
        print_json(result.model_dump(mode="json"))
        return
    which = "" if result.all_departments else f" of {', '.join(result.departments)}"
    if not result.approved:
        console.print(f"rejected by {result.approved_by}{which}: nothing was sent")
    else:
        console.print(
            f"approved by {result.approved_by} ({result.approver_name}){which}: "
            f"{result.approved_lists} lists sent, {result.items_created} rectification items, "
            f"{result.dropped} dropped"
        )
    if result.still_pending:
        console.print(f"{result.still_pending} findings of other departments still await approval")


FindingArg = Annotated[
    int, typer.Argument(help="The finding's number (问题编号, as the problem list shows it).")
]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why (更正理由); the department reads it.")
]


@problems_app.command("amend")
def amend(
    finding: FindingArg,
    reason: ReasonOpt,
    title: Annotated[
        str | None, typer.Option("--title", help="The finding's corrected text (问题表述).")
    ] = None,
    deadline: Annotated[
        str | None,
        typer.Option("--deadline", help="The new rectification deadline, a working day."),
    ] = None,
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Amend an issued finding (修改问题): its text and/or its deadline; the department gets
    a correction notice (更正通知). Office (编办) users only; audited."""
    from bihuan.services import corrections
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    cmd = corrections.AmendFinding(
        jurisdiction=ctx.jurisdiction,
        finding_id=finding,
        reason=reason,
        title=title,
        deadline=_date(deadline, "--deadline") if deadline is not None else None,
    )
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        result = corrections.amend_finding(uow, cmd, actor, _date(as_of))
    _correction_done(result, json)


@problems_app.command("withdraw")
def withdraw(
    finding: FindingArg,
    reason: ReasonOpt,
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Withdraw an issued finding (撤销问题): its rectification item closes as withdrawn and
    the department gets a correction notice (更正通知). Office (编办) users only; audited."""
    from bihuan.services import corrections
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    cmd = corrections.WithdrawFinding(
        jurisdiction=ctx.jurisdiction, finding_id=finding, reason=reason
    )
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        result = corrections.withdraw_finding(uow, cmd, actor, _date(as_of))
    _correction_done(result, json)


def _correction_done(result: CorrectionResult, json: bool) -> None:
    if json:
        print_json(result.model_dump(mode="json"))
        return
    if not result.changed:
        console.print(
            f"finding {result.finding_id} ({result.department}) is already as asked "
            f"({result.status_label}); nothing changed, nothing sent"
        )
        return
    console.print(
        f"finding {result.finding_id} ({result.department}): {result.action_label}; item "
        f"{result.item_id} {result.status_label}, deadline {result.deadline}; "
        f"{result.notices} correction notices (更正通知) queued"
    )


@problems_app.command("preview")
def preview(
    year: YearOpt,
    phase: PhaseOpt,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write each department's list to (HTML).")
    ],
    department: DepartmentsOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The day of approval the deadlines are counted from, YYYY-MM-DD "
            "(default: today in Asia/Shanghai).",
        ),
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Render each department's draft problem list as it would be sent (HTML files, one per
    department, with the message's text beside it) and print the counts; changes nothing."""
    from bihuan.services import problems
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        shown = problems.preview_problem_lists(
            uow, actor, ctx.jurisdiction, year, phase, _date(as_of), department or []
        )
    files = _write_previews(shown, out)
    if json:
        print_json(shown.model_dump(mode="json", exclude={"lists": {"__all__": {"html", "text"}}}))
        return
    print_table(
        f"{year} {phase.label} 问题清单预览 preview, issued {shown.as_of} ({len(shown.lists)})",
        [
            "department 部门",
            "name 名称",
            "findings 问题",
            "high 严重",
            "reply by 报送台账",
            "recipients 接收",
            "file 文件",
        ],
        [
            [
                p.department,
                p.department_name,
                len(p.findings),
                sum(1 for f in p.findings if f.severity == "high"),
                p.reply_deadline,
                ", ".join(p.recipients),
                files[p.department].name,
            ]
            for p in shown.lists
        ],
    )
    console.print(
        f"{sum(len(p.findings) for p in shown.lists)} findings in {len(shown.lists)} lists "
        f"written to {out}; {shown.pending} findings of {shown.drafts} departments await "
        "approval in the phase"
    )


def _write_previews(shown: PhasePreview, out: Path) -> dict[str, Path]:
    """Each list as DEPT-YEAR-PHASE.html (the document) and .txt (the message's text)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    files = {}
    for p in shown.lists:
        stem = f"{p.department}-{shown.year}-{shown.phase.value}"
        html = out / f"{stem}.html"
        html.write_text(p.html, encoding="utf-8")
        (out / f"{stem}.txt").write_text(p.text, encoding="utf-8")
        files[p.department] = html
    return files


@problems_app.command("list")
def list_lists(
    year: YearOpt,
    phase: Annotated[PhaseKind | None, typer.Option(help="Only this phase.")] = None,
    limit: LimitOpt = DEFAULT_LIMIT,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the problem lists (问题清单) of a year and their approval state."""
    from bihuan.services import problems
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = problems.list_problem_lists(uow, actor, ctx.jurisdiction, year, phase)
    rows = limited(rows, limit, "problem lists")
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"{year} 问题清单 problem lists ({len(rows)})",
        [
            "department 部门",
            "name 名称",
            "phase 阶段",
            "status 状态",
            "findings 问题",
            "items 整改事项",
            "issued 下发日期",
            "approved by 审核人",
        ],
        [
            [
                r.department,
                r.department_name,
                r.phase_label,
                r.status_label,
                r.findings,
                r.items,
                r.issued_on,
                r.approved_by,
            ]
            for r in rows
        ],
    )
