"""Cycle commands: collect, submit, assess, scores (the assessment stages of a phase)."""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated, Any

import typer
from sqlmodel import select

from bihuan.cli import DbOpt, JsonOpt, JurOpt, console, ctx_for, print_json, print_table
from bihuan.db import audit, session_scope, upsert
from bihuan.errors import UserError
from bihuan.settings import reset_settings
from models import (
    Department,
    Indicator,
    IndicatorKind,
    Method,
    PhaseKind,
    QualitativeLevel,
    Submission,
    business_today,
    utc_now,
)

YearOpt = Annotated[int, typer.Option("--year", help="Cycle year, e.g. 2022.")]
PhaseOpt = Annotated[PhaseKind, typer.Option("--phase", help="mid-year (年中) or year-end (年底).")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Business date YYYY-MM-DD (default: today in Asia/Shanghai)."),
]


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)
    app.command("submit")(submit)
    app.command("assess")(assess_cmd)
    app.command("scores")(scores)


def parse_date(value: str | None, option: str = "--as-of") -> date:
    if value is None:
        return business_today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def bind_flows_to(db: str | None, jurisdiction: str | None) -> Any:
    """Flows read the database and jurisdiction from the environment (never from parameters,
    which Prefect stores and shows); point them at what the command was given."""
    from bihuan.migrate import require_current

    ctx = ctx_for(db, jurisdiction)
    require_current(ctx.db_url)
    os.environ["BIHUAN_DATABASE_URL"] = ctx.db_url
    os.environ["BIHUAN_JURISDICTION"] = ctx.jurisdiction
    reset_settings()
    return ctx


def collect(
    year: YearOpt,
    phase: PhaseOpt,
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run indicator collection (指标采集) for a phase: requests, prior-year values, missing."""
    bind_flows_to(db, jurisdiction)
    from flows.collect import collect_indicators

    summary = collect_indicators(year=year, phase=phase, as_of=parse_date(as_of))
    if json:
        print_json(summary.to_dict())
        return
    console.print(
        f"{year} {phase.label}: {summary.departments} departments, {summary.submitted} submitted, "
        f"{summary.requested} pending, {len(summary.missing)} missing"
        + (f" ({', '.join(summary.missing)})" if summary.missing else "")
    )


def submit(
    year: YearOpt,
    phase: PhaseOpt,
    indicator: Annotated[str, typer.Option(help="Indicator code (指标代码).")],
    value: Annotated[float | None, typer.Option(help="Value of a quantitative indicator.")] = None,
    level: Annotated[
        QualitativeLevel | None, typer.Option(help="Level of a qualitative indicator.")
    ] = None,
    method: Annotated[
        Method, typer.Option(help="How it was checked (核查方式).")
    ] = Method.MATERIAL,
    evidence: Annotated[str, typer.Option(help="Evidence reference (佐证材料).")] = "",
    on: Annotated[str | None, typer.Option("--on", help="Submission date YYYY-MM-DD.")] = None,
    actor: Annotated[str, typer.Option(help="Who submits (for the audit log).")] = "cli",
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Record a department's submission (报送) for one indicator in a phase."""
    ctx = bind_flows_to(db, jurisdiction)
    from flows.common import load_scope

    day = parse_date(on, "--on")
    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, phase)
        row = session.exec(
            select(Indicator, Department.code)
            .join(Department, Department.id == Indicator.department_id)  # type: ignore[arg-type]
            .where(Indicator.cycle_id == scope.cycle_id, Indicator.code == indicator)
        ).first()
        if row is None:
            raise UserError(
                f"no indicator {indicator!r} in the {year} ledger; see `bihuan indicators --year {year}`"
            )
        ind, dept_code = row
        if ind.kind == IndicatorKind.QUANTITATIVE and value is None:
            raise UserError(f"{indicator} is quantitative (定量): give --value")
        if ind.kind == IndicatorKind.QUALITATIVE and level is None:
            raise UserError(f"{indicator} is qualitative (定性): give --level")
        upsert(
            session,
            Submission,
            [
                {
                    "phase_id": scope.phase_id,
                    "indicator_id": ind.id,
                    "value": value if ind.kind == IndicatorKind.QUANTITATIVE else None,
                    "level": level.value
                    if level and ind.kind == IndicatorKind.QUALITATIVE
                    else None,
                    "method": method.value,
                    "evidence": evidence,
                    "submitted_on": day,
                    "updated_at": utc_now(),
                }
            ],
            keys=["phase_id", "indicator_id"],
            update=["value", "level", "method", "evidence", "submitted_on", "updated_at"],
        )
        audit(
            session,
            actor=actor,
            action="submit",
            entity="submission",
            entity_key=f"{year}/{phase.value}/{indicator}",
            jurisdiction_id=scope.jurisdiction_id,
            details={
                "department": dept_code,
                "value": value,
                "level": level,
                "method": method.value,
            },
        )
    console.print(f"recorded {indicator} ({dept_code}) for {year} {phase.label}")


def assess_cmd(
    year: YearOpt,
    phase: PhaseOpt,
    as_of: AsOfOpt = None,
    actor: Annotated[
        str, typer.Option(help="Who triggers the run (stored with the draw).")
    ] = "cli",
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the double-random draw (双随机); default random, stored."),
    ] = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run a phase under Prefect: collection, then assessment (双随机, 链条式评估, 三评, scoring)."""
    bind_flows_to(db, jurisdiction)
    from flows.cycle import annual_cycle

    result = annual_cycle(
        year=year, phase=phase, as_of=parse_date(as_of), triggered_by=actor, seed=seed
    )
    a = result.assessment
    if json:
        print_json(
            {"collection": result.collection.to_dict(), "scores": a.scores, "onsite": a.onsite}
        )
        return
    c = result.collection
    console.print(
        f"{year} {phase.label}: {c.submitted}/{c.departments} submitted, {len(c.missing)} missing; "
        f"{a.departments} departments scored ({a.changed} changed); on-site draw: {', '.join(a.onsite)}"
    )


def scores(
    year: YearOpt,
    phase: PhaseOpt,
    department: Annotated[
        str | None, typer.Option(help="Only this department; shows the full breakdown.")
    ] = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List department scores (得分) of a phase with the breakdown by component."""
    ctx = bind_flows_to(db, jurisdiction)
    from flows.common import load_scope
    from models import DepartmentAssessment

    with session_scope(ctx.db_url) as session:
        scope = load_scope(session, ctx, year, phase)
        stmt = (
            select(DepartmentAssessment, Department)
            .join(Department, Department.id == DepartmentAssessment.department_id)  # type: ignore[arg-type]
            .where(DepartmentAssessment.phase_id == scope.phase_id)
        )
        if department:
            stmt = stmt.where(Department.code == department)
        rows = session.exec(stmt).all()
    if not rows and department:
        with session_scope(ctx.db_url) as session:
            known = session.exec(
                select(Department.id).where(
                    Department.code == department,
                    Department.jurisdiction_id == scope.jurisdiction_id,
                )
            ).first()
        if known is None:
            raise UserError(
                f"--department {department!r}: no such department; see `bihuan departments`"
            )
    if not rows:
        raise UserError(
            f"no scores for {year} {phase.value}"
            + (f" and department {department!r}" if department else "")
            + f"; run `bihuan assess --year {year} --phase {phase.value}` first"
        )
    data: list[dict[str, Any]] = [
        {
            "code": d.code,
            "name": d.name,
            "category": d.category,
            "total": a.total,
            "onsite": a.onsite,
            "components": {
                "ledger": a.ledger,
                "staffing": a.staffing,
                "central_tasks": a.central_tasks,
                "satisfaction": a.satisfaction,
            },
            **({"breakdown": a.breakdown} if department else {}),
        }
        for a, d in sorted(rows, key=lambda r: (-r[0].total, r[1].code))
    ]
    if json:
        print_json(data)
        return
    if department:
        from bihuan.core.breakdown import Breakdown, explain

        assessment, dept = rows[0]
        console.print(
            explain(Breakdown.from_json(assessment.breakdown), dept.name),
            highlight=False,
            markup=False,
        )
        return
    print_table(
        f"{year} {phase.label} 部门得分 scores ({len(data)})",
        ["#", "code", "name", "category", "total", "ledger", "staffing", "central", "satisfaction"],
        [
            [
                i,
                r["code"],
                r["name"],
                r["category"],
                _fmt(r["total"]),
                *(_fmt(v) for v in r["components"].values()),
            ]
            for i, r in enumerate(data, 1)
        ],
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
