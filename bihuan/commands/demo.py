"""`bihuan demo`: build the demo county (莒县) from scratch, through the importer users use.

The demo is a list of steps over one `DemoRun`: SETUP_STEPS once, YEAR_STEPS for each year asked
for, FINISH_STEPS at the end. Later stages (assessment, the closed loop, re-check, results) add
their own step functions to these lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from bihuan.cli import console, ctx_for
from bihuan.demo.generator import DemoSummary, build_demo_workbook
from bihuan.demo.names import JURISDICTION, JURISDICTION_NAME
from bihuan.errors import UserError
from bihuan.ingest.schema import SHEETS_BY_KEY
from models.enums import PhaseKind

if TYPE_CHECKING:
    from bihuan.app import AppContext
    from bihuan.ingest.load import ImportReport

DEMO_ACTOR = "demo"


@dataclass
class DemoRun:
    """What the steps share: where things go, and what earlier steps produced."""

    ctx: AppContext
    db_url: str
    db_file: Path | None  # the SQLite file, None for a server database
    out_dir: Path
    years: list[int]
    seed: int
    departments: int
    console: Console
    year: int = 0  # the year the YEAR_STEPS are working on
    summaries: dict[int, DemoSummary] = field(default_factory=dict)
    reports: dict[int, ImportReport] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # for steps added by later stages

    def workbook(self, year: int) -> Path:
        return self.out_dir / f"{JURISDICTION}-{year}.xlsx"


Step = Callable[[DemoRun], None]


def recreate_database(run: DemoRun) -> None:
    """Start from an empty database: delete the SQLite file, or wipe a demo-only server database."""
    from bihuan import migrate
    from bihuan.db import get_engine

    if run.db_file is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{run.db_file}{suffix}").unlink(missing_ok=True)
    else:
        # A server database is wiped only when nothing in it was made by anyone but the demo.
        from models import AuditLog

        if migrate.current(run.db_url) is not None:
            with get_engine(run.db_url).connect() as conn:
                others = conn.execute(
                    select(func.count()).select_from(AuditLog).where(AuditLog.actor != DEMO_ACTOR)  # type: ignore[arg-type]
                ).scalar_one()
            if others:
                raise UserError(
                    f"the database {run.db_url.split('@')[-1]} holds data not made by the demo "
                    f"({others} audit entries by other users); the demo wipes its database, so "
                    "give it an empty one or a SQLite file path with --db"
                )
            migrate.downgrade(run.db_url, "base")
    migrate.upgrade(run.db_url)
    run.console.print(f"[green]✓[/green] empty database at [bold]{_where(run)}[/bold]")


def write_workbook(run: DemoRun) -> None:
    """Generate the year's workbook in the documented format (var/demo/juxian-<year>.xlsx)."""
    phases = run.ctx.policy.phases
    windows = {
        PhaseKind.MID_YEAR: (
            (phases.mid_year.opens.month, phases.mid_year.opens.day),
            (phases.mid_year.closes.month, phases.mid_year.closes.day),
        ),
        PhaseKind.YEAR_END: (
            (phases.year_end.opens.month, phases.year_end.opens.day),
            (phases.year_end.closes.month, phases.year_end.closes.day),
        ),
    }
    summary = build_demo_workbook(
        run.workbook(run.year),
        run.year,
        run.seed,
        departments=run.departments,
        windows=windows,
    )
    run.summaries[run.year] = summary
    run.console.print(
        f"[green]✓[/green] {run.year}: wrote [bold]{summary.path}[/bold] "
        f"({summary.departments} departments 部门, {sum(summary.counts.values())} rows)"
    )


def import_workbook(run: DemoRun) -> None:
    """Load the workbook through the same importer as `bihuan import`, with a progress bar."""
    from bihuan.ingest.load import ImportFailed, import_path

    path = run.workbook(run.year)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=run.console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"importing {path.name}", total=None)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(
                task, description=f"importing {path.name}: {what}", completed=done, total=total
            )

        try:
            report = import_path(
                run.db_url,
                path,
                year=run.year,
                jurisdiction=JURISDICTION,
                actor=DEMO_ACTOR,
                jurisdiction_name=JURISDICTION_NAME,
                progress=progress,
            )
        except ImportFailed as exc:
            for issue in exc.report.errors[:50]:
                run.console.print(f"[red]error:[/red] {issue}", highlight=False)
            raise
    run.reports[run.year] = report
    run.console.print(
        f"[green]✓[/green] {run.year}: imported {report.changed} rows in {report.seconds:.1f} s"
    )


def show_loaded(run: DemoRun) -> None:
    """A table of sheet -> rows written by the importer, then the importer's warnings."""
    report = run.reports[run.year]
    summary = run.summaries.get(run.year)
    table = Table(title=f"{JURISDICTION_NAME} {run.year}: loaded 已导入")
    table.add_column("sheet 工作表", no_wrap=True)
    for col in ("rows 行数", "inserted", "updated", "unchanged"):
        table.add_column(col, justify="right")
    for key, counts in report.counts.items():
        rows = summary.counts.get(key, "") if summary else ""
        table.add_row(
            f"{SHEETS_BY_KEY[key].zh} {key}",
            str(rows),
            str(counts["inserted"]),
            str(counts["updated"]),
            str(counts["unchanged"]),
        )
    run.console.print(table)
    for warning in report.warnings:
        run.console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def show_database(run: DemoRun) -> None:
    """Where the demo database is, and how to look into it with the other commands."""
    where = _where(run)
    run.console.print(f"\ndemo database: [bold]{where}[/bold]")
    run.console.print(f"look inside: [cyan]bihuan departments --db {where}[/cyan]")


def _where(run: DemoRun) -> str:
    return str(run.db_file) if run.db_file is not None else run.db_url.split("@")[-1]


SETUP_STEPS: list[Step] = [recreate_database]
YEAR_STEPS: list[Step] = [write_workbook, import_workbook, show_loaded]
FINISH_STEPS: list[Step] = [show_database]


def run_demo(run: DemoRun) -> None:
    for step in SETUP_STEPS:
        step(run)
    for year in run.years:
        run.year = year
        for step in YEAR_STEPS:
            step(run)
    for step in FINISH_STEPS:
        step(run)


def demo(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL, or a plain path to a SQLite file. Default: var/demo.db. "
            "It is deleted and recreated on every run.",
        ),
    ] = None,
    year: Annotated[
        list[int] | None,
        typer.Option("--year", help="Cycle year (repeat for several years). Default: 2022."),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the demo county (same seed, same county).")
    ] = 2022,
    departments: Annotated[
        int,
        typer.Option(
            min=4,
            help="Number of departments 部门 (62 in the source; more for a scale run).",
        ),
    ] = 62,
) -> None:
    """Build the demo county 莒县 (62 departments 部门) in its own database, through the importer."""
    from bihuan.app import app_context
    from bihuan.settings import normalise_db_url

    base = app_context()
    url = normalise_db_url(db) if db else f"sqlite:///{base.settings.var_dir / 'demo.db'}"
    ctx = ctx_for(url, JURISDICTION)
    db_file = Path(url.split("sqlite:///", 1)[1]) if url.startswith("sqlite:///") else None
    run = DemoRun(
        ctx=ctx,
        db_url=url,
        db_file=db_file,
        out_dir=ctx.settings.var_dir / "demo",
        years=sorted(set(year or [2022])),
        seed=seed,
        departments=departments,
        console=console,
    )
    run_demo(run)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
