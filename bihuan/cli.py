"""The `bihuan` command line (Typer + Rich): every command has --help and --db."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from bihuan.errors import UserError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bihuan.app import AppContext
    from bihuan.core.access import Actor

console = Console()
err_console = Console(stderr=True)


class BihuanGroup(TyperGroup):
    """The top-level command group.

    Commands load lazily: `bihuan --help` lists them from `bihuan.commands.COMMANDS` (name,
    module, one-line help) without importing any, and a command's module is imported only when
    it runs, so no command pays for Prefect, SQLAlchemy or the table classes it does not use.

    A user's mistake (UserError), a refused input value and a database error become a one-line
    message and an exit code, however the command is invoked (the console script, `python -m`,
    or a test's CliRunner)."""

    _listing = False  # set while the top-level help is being written

    def list_commands(self, ctx: Any) -> list[str]:
        from bihuan.commands import COMMANDS

        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        from bihuan.commands import COMMANDS, load_module_commands

        if cmd_name not in COMMANDS:
            return None
        module, short = COMMANDS[cmd_name]
        if self._listing:
            # `bihuan --help` needs a name and a line, not the command: don't import it
            return TyperGroup(name=cmd_name, help=short)
        return load_module_commands(module).get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _fail(str(exc), exc.exit_code)
        except Exception as exc:
            message = _known_error(exc)
            if message is None:
                raise
            _fail(message, 1)


def _known_error(exc: Exception) -> str | None:
    """A refused input value or a database error, as a message; None for anything else.
    (Checked by name of the loaded modules, so the CLI does not import pydantic or SQLAlchemy
    just to be able to catch their errors.)"""
    if "pydantic_core" in sys.modules:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            # a command's typed input (bihuan.services.*) refused a value the user gave
            lines = [
                f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
                f" (got {err.get('input')!r})"
                for err in exc.errors()
            ]
            return "invalid input:\n" + "\n".join(lines)
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        if isinstance(exc, OperationalError | ProgrammingError):
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            return f"database error: {reason}\n{_db_hint(reason)}"
    return None


def _db_hint(reason: str) -> str:
    if "no such table" in reason or "does not exist" in reason:
        return "the database has no bihuan schema yet, or an old one: run `bihuan db upgrade`"
    if "database is locked" in reason:
        return (
            "another bihuan process held the SQLite database's write lock for longer than the "
            "30 s busy timeout (a long import?); nothing was changed: run the command again "
            "when it has finished"
        )
    return "check --db / BIHUAN_DATABASE_URL and that the database server is running"


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
LimitOpt = Annotated[
    int,
    typer.Option(
        "--limit",
        min=1,
        help="Show at most this many rows (the total is printed to stderr when more match).",
    ),
]
DEFAULT_LIMIT = 200
AsOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as this user (login). Default: BIHUAN_USER. The password comes from "
        "BIHUAN_PASSWORD or a prompt when the installation requires it.",
    ),
]


def ctx_for(
    db: str | None, jurisdiction: str | None = None, *, check_policy: bool = True
) -> AppContext:
    """The command's context. `--db` becomes this process's database setting, so flows run
    in-process use it too (no environment is rewritten)."""
    from bihuan.app import app_context

    if db:
        from bihuan.settings import normalise_db_url, override_settings

        override_settings(database_url=normalise_db_url(db))
    ctx = app_context(db, jurisdiction)
    if check_policy:
        _ = ctx.policy  # a bad policy stops the program at start (exit 2)
    return ctx


def acting(ctx: AppContext, as_: str | None) -> Actor:
    """The signed-in user a command acts for: `--as` or BIHUAN_USER, with a password when the
    installation requires one (BIHUAN_CLI_REQUIRE_PASSWORD, default true)."""
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    login = as_ or ctx.settings.user
    if not login:
        raise UserError(
            "who is acting? give --as LOGIN or set BIHUAN_USER (the users are in "
            "`bihuan users list`; a new installation starts with `bihuan users add NAME "
            "--role admin --password-stdin`)"
        )
    # Read only when it succeeds: a listing stays a reader (it never waits for SQLite's write
    # lock behind a long import), and Argon2's check holds no lock. A failure is written.
    with UnitOfWork(ctx, readonly=True) as uow:
        if not ctx.settings.cli_require_password:
            return identity.actor_for(uow, login)
        check = identity.check_password(uow, login, _password(ctx, login))
        if check.ok:
            return identity.actor_for(uow, login)
    with UnitOfWork(ctx) as uow:
        return identity.finish_sign_in(uow, login, check)  # audits the failure and raises


def _password(ctx: AppContext, login: str) -> str:
    if ctx.settings.password is not None:
        return ctx.settings.password.get_secret_value()
    if not sys.stdin.isatty():
        raise UserError(
            f"user {login} needs a password: set BIHUAN_PASSWORD (this installation requires "
            "a password on the command line: BIHUAN_CLI_REQUIRE_PASSWORD)"
        )
    return str(typer.prompt(f"password for {login}", hide_input=True))


def read_password_stdin() -> SecretStr:
    """One line from standard input (for --password-stdin), without its line break."""
    from pydantic import SecretStr

    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise UserError("--password-stdin: standard input was empty; pipe the password in")
    return SecretStr(line)


def limited(rows: list[Any], limit: int, what: str = "rows") -> list[Any]:
    """At most `limit` rows; when more match, say how many on stderr (stdout stays the data)."""
    if len(rows) > limit:
        err_console.print(
            f"showing {limit} of {len(rows)} {what}; use --limit or narrow with the options",
            highlight=False,
        )
        return rows[:limit]
    return rows


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A Rich table whose cells are printed literally: text from departments and workbooks
    may contain Rich markup (`[link=…]`, `[red]`) that must not render."""
    table = Table(title=Text(title))
    for col in columns:
        table.add_column(Text(col))
    for row in rows:
        table.add_row(*[Text("" if v is None else str(v)) for v in row])
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
        str, typer.Argument(help="Target revision ('base' drops everything; -1 one step).")
    ] = "-1",
    yes: Annotated[
        bool, typer.Option("--yes", help="Go ahead (without it, only show the plan).")
    ] = False,
    backup_to: Annotated[
        Path | None,
        typer.Option(
            "--backup",
            help="Write a backup here first; required when the database holds audit rows.",
        ),
    ] = None,
) -> None:
    """Step the schema back (for developers). Shows what it would revert and what the database
    holds; runs only with --yes, and on a database with audit rows only after a backup."""
    from bihuan import backup, migrate

    ctx = ctx_for(db)
    plan = migrate.downgrade_plan(ctx.db_url, revision)
    if not plan:
        console.print("nothing to downgrade")
        return
    held = backup.contents(ctx.db_url)
    console.print("would revert, newest first:", highlight=False)
    for rev, title in plan:
        console.print(f"  {rev}  {title}", highlight=False, markup=False)
    console.print(f"the database holds: {held.describe()}", highlight=False, markup=False)
    if not yes:
        raise UserError("nothing was changed; run again with --yes to downgrade")
    if held.audit_rows and backup_to is None:
        raise UserError(
            f"the database holds {held.audit_rows} audit rows, which a downgrade may drop or "
            "unchain; give --backup FILE so a backup is written in this run first"
        )
    if backup_to is not None:
        written = backup.backup(ctx.db_url, backup_to)
        console.print(f"backup written: {written.path} ({written.bytes:,} bytes)", highlight=False)
    migrate.downgrade(ctx.db_url, revision)
    console.print(f"database at revision [bold]{migrate.current(ctx.db_url)}[/bold]")


@db_app.command("current")
def db_current(db: DbOpt = None) -> None:
    """Show the schema revision of the database."""
    from bihuan import migrate

    ctx = ctx_for(db)
    console.print(migrate.current(ctx.db_url) or "(empty database)")


def _register_commands() -> None:
    """Register every command eagerly (tests, and code that inspects the whole app); the
    console script loads them lazily instead (BihuanGroup)."""
    from bihuan.commands import register

    if not app.registered_commands:
        register(app)


def main() -> None:
    app()


__all__ = [
    "DEFAULT_LIMIT",
    "AsOpt",
    "DbOpt",
    "JsonOpt",
    "JurOpt",
    "LimitOpt",
    "acting",
    "app",
    "console",
    "ctx_for",
    "limited",
    "main",
    "print_json",
    "print_table",
]
