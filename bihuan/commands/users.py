"""Users (账号与权限): add, list, disable, enable, reset a password, change your own."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from bihuan.cli import (
    DEFAULT_LIMIT,
    AsOpt,
    DbOpt,
    JsonOpt,
    JurOpt,
    LimitOpt,
    acting,
    console,
    ctx_for,
    limited,
    print_json,
    print_table,
    read_password_stdin,
)
from bihuan.errors import UserError
from bihuan.vocab import UserRole

users_app = typer.Typer(
    help="Users and roles (账号与权限): admin, office 编办, section 督促科室, department "
    "部门联络人, leader 县委编委领导, auditor 审计.",
    no_args_is_help=True,
)

LoginArg = Annotated[str, typer.Argument(help="Login name (登录名), e.g. D01lx.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from standard input (one line; not echoed)."
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _today() -> date:
    from bihuan.clock import business_today

    return business_today()


@users_app.command("add")
def add(
    login: LoginArg,
    role: Annotated[UserRole, typer.Option("--role", help="The user's role.")],
    department: Annotated[
        str | None,
        typer.Option("--department", help="Department code (部门代码), department role."),
    ] = None,
    section: Annotated[
        str | None,
        typer.Option(
            "--section", help="Supervising section name (督促科室), as in [findings.sections]."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (姓名), e.g. 张三.")
    ] = None,
    all_jurisdictions: Annotated[
        bool,
        typer.Option(
            "--all-jurisdictions",
            help="Installation-wide (admin, province staff); default for admin.",
        ),
    ] = False,
    password_stdin: PasswordStdin = False,
    no_password: Annotated[
        bool,
        typer.Option(
            "--no-password",
            help="A service account that cannot sign in (e.g. the scheduler's run-as user).",
        ),
    ] = False,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add a user. The first user of a new installation must be an admin and needs no --as."""
    from pydantic import SecretStr

    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    if password_stdin and no_password:
        raise UserError("give either --password-stdin or --no-password, not both")
    password: SecretStr | None = None
    if password_stdin:
        password = read_password_stdin()
    elif not no_password:
        import sys

        if not sys.stdin.isatty():
            raise UserError("give --password-stdin (and pipe the password) or --no-password")
        password = SecretStr(typer.prompt(f"password for {login}", hide_input=True))
        if typer.prompt("repeat it", hide_input=True) != password.get_secret_value():
            raise UserError("the two passwords differ; nothing was changed")
    with UnitOfWork(ctx, readonly=True) as uow:
        empty = identity.is_empty(uow).empty
    actor = None if empty and not (as_ or ctx.settings.user) else acting(ctx, as_)
    scope = (
        None
        if all_jurisdictions or (role == UserRole.ADMIN and not jurisdiction)
        else ctx.jurisdiction
    )
    with UnitOfWork(ctx) as uow:
        view = identity.add_user(
            uow,
            identity.AddUser(
                login=login,
                display_name=name or "",
                role=role,
                jurisdiction=scope,
                department=department,
                section=section or "",
                password=password,
            ),
            actor,
            _today(),
        )
    if json:
        print_json(view.model_dump(mode="json"))
        return
    where = view.department or view.section or view.jurisdiction or "all jurisdictions"
    console.print(
        f"added user [bold]{view.login}[/bold]: {view.role.value} ({view.role_label}), {where}"
        + ("" if view.can_sign_in else "; service account (cannot sign in)"),
        highlight=False,
    )


@users_app.command("add-departments")
def add_departments(
    password_stdin: PasswordStdin = False,
    pattern: Annotated[
        str, typer.Option("--pattern", help="Login of each account; {code} is the department code.")
    ] = "{code}lx",
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Give every department without one a contact account (部门联络人), all with one initial
    password that each must change at the first sign-in."""
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    if not password_stdin:
        raise UserError("give --password-stdin and pipe the initial password in")
    ctx = ctx_for(db, jurisdiction)
    password = read_password_stdin()
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        result = identity.add_department_accounts(
            uow,
            identity.DepartmentAccounts(
                jurisdiction=ctx.jurisdiction, password=password, login_pattern=pattern
            ),
            actor,
            _today(),
        )
    if json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"{len(result.created)} department accounts added"
        + (f" ({result.created[0]} … {result.created[-1]})" if result.created else "")
        + f"; {len(result.existing)} departments had one already",
        highlight=False,
    )


@users_app.command("list")
def list_(
    limit: LimitOpt = DEFAULT_LIMIT,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the users (admin only)."""
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        views = limited(identity.list_users(uow, actor), limit, "users")
    if json:
        print_json([v.model_dump(mode="json") for v in views])
        return
    print_table(
        f"用户 users ({len(views)})",
        ["login", "name 姓名", "role 角色", "scope 范围", "active", "sign-in"],
        [
            [
                v.login,
                v.display_name,
                f"{v.role.value} {v.role_label}",
                v.department or v.section or v.jurisdiction or "全部",
                "是" if v.active else "否",
                "是" if v.can_sign_in else "否",
            ]
            for v in views
        ],
    )


def _set_active(login: str, active: bool, as_: str | None, db: str | None, jur: str | None) -> None:
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jur)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        identity.set_active(uow, login, active, actor, _today())
    console.print(f"user {login} {'enabled' if active else 'disabled'}", highlight=False)


@users_app.command("disable")
def disable(
    login: LoginArg, as_: AsOpt = None, db: DbOpt = None, jurisdiction: JurOpt = None
) -> None:
    """Disable a user: they can no longer sign in or act (their history stays)."""
    _set_active(login, False, as_, db, jurisdiction)


@users_app.command("enable")
def enable(
    login: LoginArg, as_: AsOpt = None, db: DbOpt = None, jurisdiction: JurOpt = None
) -> None:
    """Enable a disabled user again."""
    _set_active(login, True, as_, db, jurisdiction)


@users_app.command("reset-password")
def reset_password(
    login: LoginArg,
    password_stdin: PasswordStdin = False,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Set a new password for a user (admin); they must change it at their next sign-in."""
    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    if not password_stdin:
        raise UserError("give --password-stdin and pipe the new password in")
    ctx = ctx_for(db, jurisdiction)
    password = read_password_stdin()
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        identity.reset_password(uow, login, password, actor, _today())
    console.print(f"password of {login} reset; they must change it at the next sign-in")


@users_app.command("passwd")
def passwd(
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Change your own password (the current one from BIHUAN_PASSWORD or a prompt)."""
    import sys

    from pydantic import SecretStr

    from bihuan.services import identity
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    old = ctx.settings.password
    if old is None:
        if not sys.stdin.isatty():
            raise UserError("set BIHUAN_PASSWORD to the current password, or run in a terminal")
        old = SecretStr(typer.prompt("current password", hide_input=True))
    new = (
        read_password_stdin()
        if not sys.stdin.isatty()
        else SecretStr(typer.prompt("new password", hide_input=True))
    )
    with UnitOfWork(ctx) as uow:
        identity.change_own_password(uow, actor, old, new, _today())
    console.print("password changed")
