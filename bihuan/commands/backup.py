"""Backups (备份与恢复): `bihuan backup` and `bihuan restore`, operator commands."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from bihuan.cli import DbOpt, console, ctx_for


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)


def backup_cmd(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Backup file (default var/backups/bihuan-<time>.db|.dump)."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Write a consistent backup of the database (SQLite online backup; pg_dump for PostgreSQL)."""
    from bihuan import backup

    ctx = ctx_for(db, check_policy=False)
    path = out or backup.default_backup_path(ctx.db_url, ctx.settings.var_dir)
    result = backup.backup(ctx.db_url, path, taken_by=f"os:{getpass.getuser()}")
    console.print(
        f"backup written: [bold]{result.path}[/bold] ({result.bytes:,} bytes, {result.kind}; "
        f"{result.contents.describe()})",
        highlight=False,
    )


def restore_cmd(
    source: Annotated[Path, typer.Argument(help="A backup written by `bihuan backup`.")],
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", help="Replace a database that holds data (a safety copy is written first)."
        ),
    ] = False,
    db: DbOpt = None,
) -> None:
    """Restore a backup into the database; then check it with `bihuan audit verify`."""
    from bihuan import backup

    ctx = ctx_for(db, check_policy=False)
    result = backup.restore(source, ctx.db_url, replace=yes, var_dir=ctx.settings.var_dir)
    if result.safety_copy:
        console.print(f"the replaced database was saved to {result.safety_copy}", highlight=False)
    console.print(
        f"restored {result.restored_from.name}: {result.contents.describe()}; "
        "check it with `bihuan audit verify`",
        highlight=False,
    )
