"""Re-check and results commands: recheck, results, board, report, alternative-lapsed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bihuan.cli import DbOpt, JsonOpt, JurOpt, console, print_json, print_table
from bihuan.commands.cycle import AsOfOpt, YearOpt, bind_flows_to, parse_date
from bihuan.db import session_scope
from models.base import LABELS


def register(app: typer.Typer) -> None:
    app.command("recheck")(recheck_cmd)
    app.command("results")(results_cmd)
    app.command("board")(board_cmd)
    app.command("report")(report_cmd)
    app.command("alternative-lapsed")(lapsed_cmd)


def recheck_cmd(
    year: YearOpt,
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Re-check last year's rectification items (次年复查) under Prefect: keep verified ones
    closed, carry unfixed or recurring ones into YEAR's mid-year problem list."""
    bind_flows_to(db, jurisdiction)
    from flows.recheck import recheck

    summary = recheck(year=year, as_of=parse_date(as_of))
    if json:
        print_json(summary.to_dict())
        return
    print_table(
        f"{year}年次年复查 re-check of {year - 1} items ({summary.prior_items})",
        ["item", "department", "category", "last status", "outcome", "new finding", "reason"],
        [
            [
                d["item"],
                d["department"],
                LABELS.get(d["category"], d["category"]),
                LABELS.get(d["status"], d["status"]),
                d["outcome_label"],
                d["new_finding"] or "",
                d["reason"],
            ]
            for d in summary.decisions
        ],
    )
    console.print(
        f"{summary.new_findings} new carried findings (上年度问题延续), on the {year} mid-year "
        "problem list once approved"
    )


def results_cmd(
    year: YearOpt,
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Annual scores, the red / yellow / green board (红黄绿榜), consequences (结果运用) and the
    year-end report (综合评估情况报告), under Prefect."""
    bind_flows_to(db, jurisdiction)
    from flows.results import results

    summary = results(year=year, as_of=parse_date(as_of))
    if json:
        print_json(summary.to_dict())
        return
    _print_board(year, summary.board)
    talks = [c for c in summary.consequences if c["kind"] == "head_talk"]
    for c in talks:
        console.print(f"head talk (约谈) with {c['code']} by {c['due_on']}; notice queued")
    console.print(f"report: {summary.report_path}")


def _print_board(year: int, rows: list[dict[str, Any]]) -> None:
    print_table(
        f"{year}年度红黄绿榜 board ({len(rows)})",
        ["rank", "code", "name", "category", "score", "colour", "consequences"],
        [
            [
                r["rank"],
                r["code"],
                r["name"],
                LABELS.get(r["category"], r["category"]),
                f"{r['score']:.2f}",
                LABELS.get(r["colour"], r["colour"]),
                r["consequences"]
                if isinstance(r["consequences"], str)
                else ", ".join(r["consequences"]),
            ]
            for r in rows
        ],
    )


def board_cmd(
    year: YearOpt,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the stored board of YEAR with each department's consequences."""
    ctx = bind_flows_to(db, jurisdiction)
    from bihuan.errors import UserError
    from flows.results import load_board, load_consequences, locate

    with session_scope(ctx.db_url) as session:
        where = locate(session, ctx, year)
        board = load_board(session, where)
        conseqs = load_consequences(session, where)
    if not board:
        raise UserError(f"no {year} board yet; run `bihuan results --year {year}` first")
    by_code: dict[str, list[dict[str, Any]]] = {}
    for c in conseqs:
        by_code.setdefault(c.code, []).append(
            {"kind": c.kind, "label": LABELS.get(c.kind, c.kind), "detail": c.detail}
            | ({"points": c.points} if c.points is not None else {})
        )
    data: list[dict[str, Any]] = [
        {
            "code": r.code,
            "name": r.name,
            "category": r.category,
            "score": r.score,
            "scope": r.scope,
            "rank": r.rank,
            "colour": r.colour,
            "consequences": by_code.get(r.code, []),
        }
        for r in board
    ]
    if json:
        print_json(data)
        return
    _print_board(
        year,
        [
            {
                **r,
                "consequences": [
                    c["label"] for c in r["consequences"] if c["kind"] != "assessment_points"
                ],
            }
            for r in data
        ],
    )


def report_cmd(
    year: YearOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="File to write the report to: .html, or .pdf (needs a CJK font)."
        ),
    ],
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Render the year-end comprehensive report (综合评估情况报告) from the database to FILE.

    Needs the board: run `bihuan results --year YEAR` first."""
    ctx = bind_flows_to(db, jurisdiction)
    from flows.results import write_report

    if out.suffix.lower() == ".pdf":
        from bihuan.report import render_report
        from bihuan.report_pdf import html_to_pdf, require_cjk_font
        from flows.results import build_report_data

        require_cjk_font(out)  # before reading the database: fail fast on a font-less machine
        with session_scope(ctx.db_url) as session:
            data = build_report_data(session, ctx, year, parse_date(as_of))
        console.print(f"wrote {html_to_pdf(render_report(data), out)}")
        return
    path, _data = write_report(ctx, year, parse_date(as_of), out)
    console.print(f"wrote {path}")


def lapsed_cmd(
    item: Annotated[int, typer.Argument(help="Rectification item id (整改事项编号).")],
    reason: Annotated[str, typer.Option(help="Why the agreed alternative no longer holds.")],
    actor: Annotated[str, typer.Option(help="Who records it (for the audit log).")] = "cli",
    as_of: AsOfOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Record that a cannot-be-solved item's agreed alternative (替代措施) lapsed: the next
    re-check carries the item into the new year."""
    ctx = bind_flows_to(db, jurisdiction)
    from flows.recheck import mark_alternative_lapsed

    with session_scope(ctx.db_url) as session:
        new = mark_alternative_lapsed(
            session, ctx, item, actor=actor, reason=reason, as_of=parse_date(as_of)
        )
    console.print(
        f"item {item}: agreed alternative recorded as lapsed"
        if new
        else f"item {item}: already recorded as lapsed"
    )
