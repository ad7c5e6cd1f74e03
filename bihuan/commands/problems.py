"""Findings (问题) and problem lists (问题清单): list, issue, approve."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import select

from bihuan.cli import DbOpt, JsonOpt, JurOpt, console, print_json, print_table
from bihuan.commands.cycle import AsOfOpt, PhaseOpt, YearOpt, bind_flows_to, parse_date
from bihuan.db import get_jurisdiction, session_scope, table
from bihuan.errors import UserError
from models import Cycle, Department, Finding, PhaseKind, ProblemList
from models.base import LABELS

problems_app = typer.Typer(
    help="Problem lists (问题清单): issue them from the assessment, approve them.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("findings")(findings)
    app.add_typer(problems_app, name="problems")


def findings(
    year: YearOpt,
    phase: Annotated[PhaseKind | None, typer.Option(help="Only this phase.")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department code.")] = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the findings (问题) of a year: category, severity, source, status, evidence."""
    ctx = bind_flows_to(db, jurisdiction)
    f, d, c = table(Finding), table(Department), table(Cycle)
    with session_scope(ctx.db_url) as session:
        jur = get_jurisdiction(session, ctx.jurisdiction)
        if jur is None:
            raise UserError(f"no jurisdiction {ctx.jurisdiction!r}; run `bihuan import` first")
        stmt = (
            select(
                f.c.id,
                d.c.code.label("department"),
                d.c.name.label("department_name"),
                f.c.phase_kind.label("phase"),
                f.c.key,
                f.c.category,
                f.c.severity,
                f.c.source,
                f.c.title,
                f.c.status,
                f.c.dropped_reason,
                f.c.carried_from_id,
                f.c.evidence,
            )
            .join(d, d.c.id == f.c.department_id)
            .join(c, c.c.id == f.c.cycle_id)
            .where(c.c.year == year, c.c.jurisdiction_id == jur.id)
            .order_by(d.c.code, f.c.key)
        )
        if phase is not None:
            stmt = stmt.where(f.c.phase_kind == phase.value)
        if department:
            stmt = stmt.where(d.c.code == department)
        data = [dict(row._mapping) for row in session.execute(stmt)]
    if json:
        print_json(data)
        return
    print_table(
        f"{year} 问题 findings ({len(data)})",
        ["id", "department", "phase", "category", "severity", "status", "title"],
        [
            [
                r["id"],
                r["department"],
                r["phase"],
                LABELS.get(r["category"], r["category"]),
                LABELS.get(r["severity"], r["severity"]),
                LABELS.get(r["status"], r["status"]),
                r["title"],
            ]
            for r in data
        ],
    )


@problems_app.command("issue")
def issue(
    year: YearOpt,
    phase: PhaseOpt,
    as_of: AsOfOpt = None,
    auto_approve: Annotated[
        str | None,
        typer.Option(help="Approve at once in this approver's name (scripted runs, the demo)."),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            help="Pause for the approval form in the Prefect UI (needs a Prefect server)."
        ),
    ] = False,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Raise findings from the assessment and draft the problem lists; send them once approved."""
    bind_flows_to(db, jurisdiction)
    from flows.problems import issue_problem_lists

    summary = issue_problem_lists(
        year=year,
        phase=phase,
        as_of=parse_date(as_of),
        auto_approve=auto_approve,
        wait_for_approval=wait,
    )
    if json:
        print_json(summary.to_dict())
        return
    console.print(
        f"{year} {phase.label}: {summary.new_findings} new findings, {summary.drafts} draft lists"
    )
    if summary.awaiting_approval:
        console.print(
            "awaiting approval: review with `bihuan findings`, then "
            f"`bihuan problems approve --year {year} --phase {phase.value} --approver NAME`"
        )
    else:
        console.print(
            f"approved by {summary.approved_by}: {summary.approved_lists} lists sent, "
            f"{summary.items_created} rectification items, {summary.dropped} dropped"
        )


def _parse_pairs(values: list[str], what: str) -> list[tuple[int, str]]:
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
    approver: Annotated[str, typer.Option(help="Approver's name (审核人), kept in the audit log.")],
    drop: Annotated[
        list[str] | None, typer.Option(help="Drop a finding: ID:REASON (repeatable).")
    ] = None,
    deadline: Annotated[
        list[str] | None, typer.Option(help="Change a deadline: ID:YYYY-MM-DD (repeatable).")
    ] = None,
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Approve the phase's draft problem lists (drop findings, change deadlines) and send them."""
    ctx = bind_flows_to(db, jurisdiction)
    from flows.problems import DeadlineChange, DropFinding, ProblemListApproval, approve_drafts

    changes = [
        DeadlineChange(finding_id=i, deadline=parse_date(d, "--deadline"))
        for i, d in _parse_pairs(deadline or [], "--deadline")
    ]
    decision = ProblemListApproval(
        approver=approver,
        drop=[DropFinding(finding_id=i, reason=r) for i, r in _parse_pairs(drop or [], "--drop")],
        deadlines=changes,
    )
    summary = approve_drafts(ctx, year, phase, decision, parse_date(as_of))
    if not summary.approved_lists and not summary.dropped:
        raise UserError(f"nothing awaits approval in {year} {phase.value}")
    console.print(
        f"approved by {approver}: {summary.approved_lists} lists sent, "
        f"{summary.items_created} rectification items, {summary.dropped} dropped"
    )


@problems_app.command("list")
def list_lists(
    year: YearOpt,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the problem lists (问题清单) of a year and their approval state."""
    ctx = bind_flows_to(db, jurisdiction)
    pl, d, c = table(ProblemList), table(Department), table(Cycle)
    with session_scope(ctx.db_url) as session:
        rows: list[dict[str, Any]] = [
            dict(r._mapping)
            for r in session.execute(
                select(
                    d.c.code.label("department"),
                    d.c.name.label("department_name"),
                    pl.c.phase_kind.label("phase"),
                    pl.c.status,
                    pl.c.issued_on,
                    pl.c.approved_by,
                )
                .join(d, d.c.id == pl.c.department_id)
                .join(c, c.c.id == pl.c.cycle_id)
                .where(c.c.year == year)
                .order_by(pl.c.phase_kind, d.c.code)
            )
        ]
    if json:
        print_json(rows)
        return
    print_table(
        f"{year} 问题清单 problem lists ({len(rows)})",
        ["department", "name", "phase", "status", "issued", "approved by"],
        [
            [
                r["department"],
                r["department_name"],
                r["phase"],
                LABELS.get(r["status"], r["status"]),
                r["issued_on"],
                r["approved_by"],
            ]
            for r in rows
        ],
    )
