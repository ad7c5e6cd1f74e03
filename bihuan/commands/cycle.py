"""Cycle commands: collect, submit, assess, scores (the assessment stages of a phase)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from bihuan.cli import (
    AsOpt,
    DbOpt,
    JsonOpt,
    JurOpt,
    acting,
    console,
    ctx_for,
    print_json,
    print_table,
)
from bihuan.clock import business_today
from bihuan.errors import UserError
from bihuan.vocab import Method, PhaseKind, QualitativeLevel

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


def collect(
    year: YearOpt,
    phase: PhaseOpt,
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run indicator collection (指标采集) for a phase: requests, prior-year values, missing."""
    from bihuan.migrate import require_current
    from bihuan.runtime import no_flow_heartbeat
    from flows.collect import collect_indicators

    ctx = ctx_for(db, jurisdiction)
    require_current(ctx.db_url)
    actor = acting(ctx, as_)
    with no_flow_heartbeat():
        summary = collect_indicators(
            jurisdiction=ctx.jurisdiction,
            run_as=actor.login,
            year=year,
            phase=phase,
            as_of=parse_date(as_of),
        )
    if json:
        print_json(summary.model_dump(mode="json"))
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
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a department's submission (报送) for one indicator in a phase."""
    from bihuan.services import ledger
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    cmd = ledger.Submit(
        jurisdiction=ctx.jurisdiction,
        year=year,
        phase=phase,
        indicator=indicator,
        value=value,
        level=level,
        method=method,
        evidence=evidence,
        on=parse_date(on, "--on"),
    )
    with UnitOfWork(ctx) as uow:
        result = ledger.submit(uow, cmd, actor, business_today())
    if json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"recorded {result.indicator} ({result.department}) for {year} {phase.label}",
        highlight=False,
    )


def assess_cmd(
    year: YearOpt,
    phase: PhaseOpt,
    as_of: AsOfOpt = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the double-random draw (双随机); default random, stored."),
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run a phase under Prefect: collection, then assessment (双随机, 链条式评估, 三评, scoring)."""
    from bihuan.migrate import require_current
    from bihuan.runtime import no_flow_heartbeat
    from flows.cycle import annual_cycle

    ctx = ctx_for(db, jurisdiction)
    require_current(ctx.db_url)
    actor = acting(ctx, as_)
    with no_flow_heartbeat():
        result = annual_cycle(
            jurisdiction=ctx.jurisdiction,
            run_as=actor.login,
            year=year,
            phase=phase,
            as_of=parse_date(as_of),
            seed=seed,
        )
    if json:
        print_json(result.model_dump(mode="json"))
        return
    a, c = result.assessment, result.collection
    console.print(
        f"{year} {phase.label}: {c.submitted}/{c.departments} submitted, {len(c.missing)} missing; "
        f"{a.departments} departments scored ({a.changed} changed); on-site draw: {', '.join(a.onsite)}"
    )


def scores(
    year: YearOpt,
    phase: PhaseOpt,
    department: Annotated[
        str | None, typer.Option(help="Only this department; explains its score (why 71.4).")
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List department scores (得分) of a phase by component; a department user sees its own."""
    from bihuan.services import assessment
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        if department:
            why = assessment.score_explanation(
                uow, actor, ctx.jurisdiction, year, phase, department
            )
        else:
            rows = assessment.list_scores(uow, actor, ctx.jurisdiction, year, phase)
    if department:
        if json:
            print_json(why.model_dump(mode="json"))
        else:
            console.print(why.text, highlight=False, markup=False)
        return
    if not rows:
        raise UserError(
            f"no scores for {year} {phase.value}; run `bihuan assess --year {year} "
            f"--phase {phase.value}` first"
        )
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"{year} {phase.label} 部门得分 scores ({len(rows)})",
        [
            "# 名次",
            "code 代码",
            "name 名称",
            "category 类别",
            "total 总分",
            "ledger 履职",
            "staffing 编制",
            "central 中心工作",
            "satisfaction 三评",
        ],
        [
            [
                r.rank if r.rank is not None else "",
                r.code,
                r.name,
                r.category_label,
                _fmt(r.total),
                _fmt(r.ledger),
                _fmt(r.staffing),
                _fmt(r.central_tasks),
                _fmt(r.satisfaction),
            ]
            for r in rows
        ],
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
