"""Import commands: `bihuan template` (blank workbook and CSVs) and `bihuan import PATH`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bihuan.cli import AsOpt, DbOpt, JurOpt, acting, console, ctx_for
from bihuan.ingest.issues import ImportIssue
from bihuan.ingest.schema import SHEETS_BY_KEY


def register(app: typer.Typer) -> None:
    app.command("template")(template)
    app.command("import")(import_cmd)


def template(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the templates into.")],
) -> None:
    """Write blank import templates (导入模板): bihuan-template.xlsx with a note on every column, and csv/."""
    from bihuan.ingest.template import write_templates

    paths = write_templates(out)
    console.print(f"wrote [bold]{paths[0]}[/bold] and {len(paths) - 1} CSV files in {out / 'csv'}")


WARNINGS_SHOWN = 50  # warnings are worth a look, but must not push the errors off screen


def _issue_table(
    title: str, issues: list[ImportIssue], style: str, limit: int | None = None
) -> Table:
    table = Table(title=title, title_style=style, show_lines=False)
    for col in ("file 文件", "sheet 工作表", "row 行", "column 列", "reason 原因"):
        table.add_column(col, overflow="fold")
    shown = issues if limit is None else issues[:limit]
    for i in shown:
        table.add_row(i.file, i.sheet, "" if i.row is None else str(i.row), i.column, i.message)
    if len(shown) < len(issues):
        table.caption = f"… and {len(issues) - len(shown)} more not shown"
    return table


def _print_warnings(warnings: list[ImportIssue]) -> None:
    if warnings:
        n = sum(w.count for w in warnings)
        console.print(
            _issue_table(f"{n} warning(s) 提示", warnings, "yellow", limit=WARNINGS_SHOWN)
        )


def import_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            help="An .xlsx, .xls or .ods workbook, or a folder of CSV files (see `bihuan template`)."
        ),
    ],
    year: Annotated[
        int | None,
        typer.Option("--year", help="Cycle year (年度) of the yearly sheets, e.g. 2022."),
    ] = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    as_: AsOpt = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Jurisdiction name (县名, e.g. 莒县) when it is created or renamed."
        ),
    ] = None,
    upgrade: Annotated[
        bool,
        typer.Option(
            "--upgrade",
            help="Create or upgrade the database schema first (as `bihuan db upgrade`).",
        ),
    ] = False,
) -> None:
    """Import a year's inputs (履职台账 and the rest): validate everything, then write all or nothing."""
    from bihuan.ingest.load import ImportFailed, ensure_schema
    from bihuan.services.ingest import ImportCmd, import_inputs

    ctx = ctx_for(db, jurisdiction)
    ensure_schema(ctx.db_url, upgrade=upgrade)  # before anything connects (no stray files)
    actor = acting(ctx, as_)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("validating 校验中", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=f"writing 写入 {what}", completed=done, total=total)

        try:
            report = import_inputs(
                ctx,
                ImportCmd(path=path, year=year, jurisdiction=ctx.jurisdiction, name=name),
                actor,
                progress=progress,
            )
        except ImportFailed as failed:
            bar.stop()
            rep = failed.report
            # errors last, so that they are what stays on screen
            _print_warnings(rep.warnings)
            n = sum(e.count for e in rep.errors)
            console.print(_issue_table(f"{n:,} error(s) 错误", rep.errors, "bold red"))
            console.print(f"[red]error:[/red] {failed}", highlight=False)
            raise typer.Exit(1) from None

    table = Table(title=f"imported 已导入 {path.name}" + (f" ({year})" if year else ""))
    for col in ("sheet 工作表", "inserted 新增", "updated 更新", "unchanged 未变"):
        table.add_column(col, justify="left" if col.startswith("sheet") else "right")
    for key, counts in report.counts.items():
        table.add_row(
            f"{SHEETS_BY_KEY[key].zh} ({key})",
            str(counts["inserted"]),
            str(counts["updated"]),
            str(counts["unchanged"]),
        )
    console.print(table)
    _print_warnings(report.warnings)
    console.print(
        f"{report.changed} rows written, {report.audited} changes audited, "
        f"in {report.seconds:.1f} s (jurisdiction {ctx.jurisdiction})"
    )
