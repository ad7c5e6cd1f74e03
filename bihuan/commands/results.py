"""Re-check and results commands: recheck, results, board, report, alternative-lapsed."""

from __future__ import annotations

from pathlib import Path
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
    print_json,
    print_table,
)
from bihuan.commands.cycle import AsOfOpt, YearOpt, parse_date

if TYPE_CHECKING:
    from bihuan.services.results import BoardRow


def register(app: typer.Typer) -> None:
    app.command("recheck")(recheck_cmd)
    app.command("results")(results_cmd)
    app.command("board")(board_cmd)
    app.command("report")(report_cmd)
    app.command("alternative-lapsed")(lapsed_cmd)


def recheck_cmd(
    year: YearOpt,
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Re-check last year's rectification items (次年复查) under Prefect: keep verified ones
    closed, carry unfixed or recurring ones into YEAR's mid-year problem list."""
    from bihuan.runtime import no_flow_heartbeat
    from flows.recheck import recheck

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with no_flow_heartbeat():
        result = recheck(
            jurisdiction=ctx.jurisdiction, run_as=actor.login, year=year, as_of=parse_date(as_of)
        )
    if json:
        print_json(result.model_dump(mode="json"))
        return
    print_table(
        f"{year}年次年复查 re-check of {year - 1} items ({result.prior_items})",
        [
            "item 事项",
            "department 部门",
            "category 类别",
            "last status 上年状态",
            "outcome 复查结论",
            "new finding 延续问题",
            "reason 理由",
        ],
        [
            [
                d.item,
                d.department,
                d.category_label,
                d.status_label,
                d.outcome_label,
                d.new_finding or "",
                d.reason,
            ]
            for d in result.decisions
        ],
    )
    console.print(
        f"{result.new_findings} new carried findings (上年度问题延续), on the {year} mid-year "
        "problem list once approved"
    )


def results_cmd(
    year: YearOpt,
    as_of: AsOfOpt = None,
    provisional: Annotated[
        bool,
        typer.Option(
            "--provisional",
            help="Before the year-end assessment: a provisional board (暂定) from the scores "
            "there are, marked as such, with nothing notified.",
        ),
    ] = False,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Annual scores, the red / yellow / green board (红黄绿榜), consequences (结果运用) and the
    year-end report (综合评估情况报告), under Prefect. Refused before the year-end assessment
    unless --provisional."""
    from bihuan.runtime import no_flow_heartbeat
    from flows.results import results

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with no_flow_heartbeat():
        summary = results(
            jurisdiction=ctx.jurisdiction,
            run_as=actor.login,
            year=year,
            as_of=parse_date(as_of),
            provisional=provisional,
        )
    if json:
        print_json(summary.model_dump(mode="json"))
        return
    _print_board(year, summary.board)
    if summary.provisional:
        console.print(
            "暂定 provisional: computed before the year-end assessment; nothing was notified. "
            f"Run `bihuan results --year {year}` after the year-end assessment for the final board."
        )
    for c in summary.consequences:
        if c.kind == "head_talk":
            console.print(f"head talk (约谈) with {c.code} by {c.due_on}; notice queued")
    console.print(f"report: {summary.report_path} (latest: {summary.report_latest})")


def _print_board(year: int, rows: list[BoardRow]) -> None:
    mark = "（暂定 provisional）" if rows and rows[0].provisional else ""
    print_table(
        f"{year}年度红黄绿榜{mark} board ({len(rows)})",
        [
            "rank 名次",
            "code 代码",
            "name 部门",
            "category 类别",
            "score 得分",
            "colour 榜单",
            "tie 同分规则",
            "consequences 结果运用",
        ],
        [
            [
                r.rank,
                r.code,
                r.name,
                r.category_label,
                f"{r.score:.2f}",
                r.colour_label,
                r.tie_note,
                "、".join(c.kind_label for c in r.consequences if c.kind != "assessment_points"),
            ]
            for r in rows
        ],
    )


def board_cmd(
    year: YearOpt,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the stored board of YEAR with each department's consequences."""
    from bihuan.services import results
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = results.board(uow, actor, ctx.jurisdiction, year)
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    _print_board(year, rows)


def report_cmd(
    year: YearOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="File to write the report to: .html, or .pdf (needs a CJK font)."
        ),
    ],
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Render the year-end comprehensive report (综合评估情况报告) from the database to FILE.

    Needs the board: run `bihuan results --year YEAR` first."""
    from bihuan.report import write_report
    from bihuan.services import results
    from bihuan.services.uow import UnitOfWork

    if out.suffix.lower() == ".pdf":
        from bihuan.report_pdf import require_cjk_font

        require_cjk_font(out)  # before reading the database: fail fast on a font-less machine
    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        data = results.report_data(uow, actor, ctx.jurisdiction, year, parse_date(as_of))
    console.print(f"wrote {write_report(data, out)}")


def lapsed_cmd(
    item: Annotated[int, typer.Argument(help="Rectification item id (整改事项编号).")],
    reason: Annotated[str, typer.Option(help="Why the agreed alternative no longer holds.")],
    as_of: AsOfOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record that a cannot-be-solved item's agreed alternative (替代措施) lapsed: the next
    re-check carries the item into the new year."""
    from bihuan.services.recheck import mark_alternative_lapsed
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        result = mark_alternative_lapsed(uow, item, reason, actor, parse_date(as_of))
    if json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"item {item} of {result.department}: agreed alternative recorded as lapsed"
        if result.recorded
        else f"item {item}: already recorded as lapsed"
    )
