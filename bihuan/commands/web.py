"""The web portal (门户): `bihuan web` serves it; `bihuan sessions` and `bihuan tokens` manage
its sessions and the REST API's personal access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from flows.problems import PrefectApprovalRuns

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

sessions_app = typer.Typer(
    help="Portal sessions (登录会话): list the open ones, end them.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="Personal access tokens (访问令牌) for the REST API: create (shown once), list, revoke.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("web")(web)
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(tokens_app, name="tokens")


def _now() -> datetime:
    from bihuan.clock import utc_now

    return utc_now()


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    from bihuan.clock import BUSINESS_TZ

    return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


def web(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (a proxy in front for others).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Serve the web portal and the REST API (uvicorn; stop with Ctrl-C). See docs/web.md."""
    from bihuan import migrate

    ctx = ctx_for(db, jurisdiction)
    migrate.require_current(ctx.db_url)
    import uvicorn

    from bihuan.web.app import create_app

    runs = _approval_runs()
    console.print(
        f"门户 portal: http://{host}:{port}/  (API: /api/v1, docs: /api/docs; "
        f"jurisdiction {ctx.jurisdiction}; database {ctx.db_url.split('@')[-1]}"
        + (f"; approvals resume paused runs of {runs.api_url}" if runs else "")
        + ")",
        highlight=False,
    )
    # proxy_headers off: X-Forwarded-* are believed only through BIHUAN_TRUST_PROXY, in one
    # place (bihuan/web/security.py), whatever address the proxy connects from
    uvicorn.run(
        create_app(ctx, approval_runs=runs),
        host=host,
        port=port,
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )


def _approval_runs() -> PrefectApprovalRuns | None:
    """With a Prefect server (PREFECT_API_URL in the portal's environment), an approval in the
    portal resumes the issue-problem-lists run that waits for it; without one no run can wait
    (Prefect's local mode has no pauses to resume) and the portal applies approvals itself."""
    import os

    url = os.environ.get("PREFECT_API_URL", "").strip()
    if not url:
        return None
    from flows.problems import PrefectApprovalRuns

    return PrefectApprovalRuns(url)


# ------------------------------------------------------------------ sessions


@sessions_app.command("list")
def sessions_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's sessions.")] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the open portal sessions (admin)."""
    from bihuan.services import web_auth
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = web_auth.list_sessions(uow, actor, _now(), login=user)
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"登录会话 sessions ({len(rows)})",
        ["id", "login 账号", "role 角色", "signed in 登录", "last seen 最近活动", "address 地址"],
        [
            [
                r.id,
                r.login,
                r.role_label,
                _when(r.created_at),
                _when(r.last_seen_at),
                r.address,
            ]
            for r in rows
        ],
    )


@sessions_app.command("revoke")
def sessions_revoke(
    session_id: Annotated[
        int | None, typer.Argument(help="The session's id (bihuan sessions list).")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="End every session of this user instead.")
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """End a portal session, or every session of a user (admin)."""
    from bihuan.errors import UserError
    from bihuan.services import web_auth
    from bihuan.services.uow import UnitOfWork

    if (session_id is None) == (user is None):
        raise UserError("give a session id or --user LOGIN (one of them)")
    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        if user is not None:
            count = web_auth.revoke_user_sessions(uow, actor, user, _now())
            message = f"ended {count} session(s) of {user}"
        else:
            assert session_id is not None
            web_auth.revoke_session(uow, actor, session_id, _now())
            message = f"session {session_id} ended"
    console.print(message, highlight=False)


# ------------------------------------------------------------------ tokens


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="The token acts as this user (login).")],
    name: Annotated[
        str, typer.Option("--name", help="What it is for, e.g. 'reporting script'.")
    ] = "",
    days: Annotated[int, typer.Option("--days", help="Days until it expires (1–3650).")] = 90,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create a token and print it once (only its hash is kept). Your own, or (admin) another
    user's, e.g. a service account's."""
    from bihuan.services import web_auth
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        new = web_auth.create_token(
            uow, web_auth.CreateToken(user=user, name=name, days=days), actor, _now()
        )
    secret = new.token.get_secret_value()
    if json:
        print_json({"token": secret, **new.view.model_dump(mode="json")})
        return
    console.print(
        f"token {new.view.id} for {new.view.user}, expires {_when(new.view.expires_at)}; "
        "copy it now, it is not shown again:",
        highlight=False,
    )
    typer.echo(secret)


@tokens_app.command("list")
def tokens_list(
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user's tokens (admin).")
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List tokens: your own, or (admin) your users'. Never shows a token itself."""
    from bihuan.services import web_auth
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = web_auth.list_tokens(uow, actor, _now(), login=user)
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"访问令牌 tokens ({len(rows)})",
        [
            "id",
            "user 用户",
            "name 用途",
            "prefix 前缀",
            "created 创建",
            "expires 到期",
            "last used 最近使用",
            "state 状态",
        ],
        [
            [
                r.id,
                r.user,
                r.name,
                r.prefix + "…",
                _when(r.created_at),
                _when(r.expires_at),
                _when(r.last_used_at),
                r.state_label,
            ]
            for r in rows
        ],
    )


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (bihuan tokens list).")],
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
) -> None:
    """Revoke a token: it stops working at once."""
    from bihuan.services import web_auth
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx) as uow:
        view = web_auth.revoke_token(uow, actor, token_id, _now())
    console.print(f"token {view.id} ({view.prefix}…) of {view.user} revoked", highlight=False)
