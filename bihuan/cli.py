"""The `bihuan` command line (Typer + Rich): every command has --help and --db."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer.core import TyperGroup

from bihuan.app import AppContext, app_context
from bihuan.errors import UserError

console = Console()
err_console = Console(stderr=True)


class BihuanGroup(TyperGroup):
    """Turns a user's mistake (UserError) into a one-line message and its exit code, however
    the command is invoked (the console script, `python -m`, or a test's CliRunner)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _fail(str(exc), exc.exit_code)
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            hint = (
                "the database has no bihuan schema yet, or an old one: run `bihuan db upgrade`"
                if "no such table" in reason or "does not exist" in reason
                else "check --db / BIHUAN_DATABASE_URL and that the database server is running"
            )
            _fail(f"database error: {reason}\n{hint}", 1)


def _fail(message: str, code: int) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


app = typer.Typer(
    name="bihuan",
    cls=BihuanGroup,
    help="闭环 bihuan: department-performance supervision as closed loops (机关职能运行监管评估).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, or a plain path to a SQLite file. Default: BIHUAN_DATABASE_URL or var/bihuan.db.",
    ),
]
JurOpt = Annotated[
    str | None,
    typer.Option(
        "--jurisdiction",
        "-j",
        help="Jurisdiction code (县). Default: BIHUAN_JURISDICTION or juxian.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def ctx_for(
    db: str | None, jurisdiction: str | None = None, *, check_policy: bool = True
) -> AppContext:
    ctx = app_context(db, jurisdiction)
    if check_policy:
        _ = ctx.policy  # a bad policy stops the program at start (exit 2)
    return ctx


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(
    db: DbOpt = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the schema to the latest revision."""
    from bihuan import migrate

    ctx = ctx_for(db)
    migrate.upgrade(ctx.db_url, revision)
    console.print(f"database at revision [bold]{migrate.current(ctx.db_url)}[/bold]")


@db_app.command("downgrade")
def db_downgrade(
    db: DbOpt = None,
    revision: Annotated[
        str, typer.Argument(help="Target revision ('base' drops everything).")
    ] = "-1",
) -> None:
    """Step the schema back (for developers)."""
    from bihuan import migrate

    ctx = ctx_for(db)
    migrate.downgrade(ctx.db_url, revision)
    console.print(f"database at revision [bold]{migrate.current(ctx.db_url)}[/bold]")


@db_app.command("current")
def db_current(db: DbOpt = None) -> None:
    """Show the schema revision of the database."""
    from bihuan import migrate

    ctx = ctx_for(db)
    console.print(migrate.current(ctx.db_url) or "(empty database)")


def _register_commands() -> None:
    """Commands live beside their subject; importing them registers them on `app`."""
    from bihuan.commands import register

    register(app)


def main() -> None:
    _register_commands()
    app()


__all__ = [
    "DbOpt",
    "JsonOpt",
    "JurOpt",
    "app",
    "console",
    "ctx_for",
    "main",
    "print_json",
    "print_table",
]
