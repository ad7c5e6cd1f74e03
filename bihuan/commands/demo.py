"""`bihuan demo`: build and run the demo county (莒县) in its own database — the command-line
adapter over bihuan.demo.run (which holds the steps)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bihuan.cli import console, ctx_for
from bihuan.demo.names import JURISDICTION


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
        typer.Option(
            "--year",
            help="Cycle year (repeat for several years). Default: 2022 and 2023, so the re-check "
            "and 'red two years running' both happen.",
        ),
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
    from bihuan.demo.run import DemoRun, run_demo
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
        years=sorted(set(year or [2022, 2023])),
        seed=seed,
        departments=departments,
        console=console,
    )
    run_demo(run)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
