"""The system administrator (系统管理员): accounts and portal sessions."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from pydantic import SecretStr, ValidationError
from starlette.responses import RedirectResponse, Response

from bihuan.clock import business_today
from bihuan.core.access import Actor
from bihuan.errors import AuthenticationError, NotFound, PermissionDenied, UserError
from bihuan.services import identity, org, web_auth
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from bihuan.web.deps import Ctx, Now, PageActor, ReadUow, WriteUow, csrf_session
from bihuan.web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(csrf_session)])

Text = Annotated[str, Form(max_length=200)]
NOTICES = {
    "added": "已新增账号 {login}，首次登录须修改密码。",
    "disabled": "已停用账号 {login}，其登录会话已结束。",
    "enabled": "已启用账号 {login}。",
    "reset": "已重置 {login} 的密码，其登录会话已结束，下次登录须修改密码。",
    "revoked": "已结束该会话。",
}


def _users_page(
    request: Request,
    uow: UnitOfWork,
    actor: Actor,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    notice: str = "",
) -> Response:
    ctx = request.app.state.ctx
    users = identity.list_users(uow, actor)
    return render(
        request,
        "admin_users.html",
        status_code=400 if error else 200,
        users=users,
        departments=org.list_departments(uow, actor, ctx.jurisdiction),
        sections=sorted(s.name for s in ctx.policy.findings.sections.values()),
        roles=list(UserRole),
        error=error,
        form=form or {},
        notice=notice,
    )


@router.get("/users")
def users(
    request: Request, actor: PageActor, uow: ReadUow, done: str = "", login: str = ""
) -> Response:
    notice = NOTICES[done].format(login=login) if done in NOTICES else ""
    return _users_page(request, uow, actor, notice=notice)


@router.post("/users")
def add_user(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    login: Text,
    role: Text,
    password: Text,
    display_name: Text = "",
    department: Text = "",
    section: Text = "",
) -> Response:
    form = {
        "login": login,
        "display_name": display_name,
        "role": role,
        "department": department,
        "section": section,
    }
    try:
        cmd = identity.AddUser.model_validate(
            {
                "login": login,
                "display_name": display_name,
                "role": role,
                # an admin made here looks after every jurisdiction, as `bihuan users add`'s
                "jurisdiction": None if role == UserRole.ADMIN.value else ctx.jurisdiction,
                "department": department or None,
                "section": section,
                "password": SecretStr(password),
            }
        )
        with UnitOfWork(ctx) as uow:
            identity.add_user(uow, cmd, actor, business_today())
    except (UserError, ValidationError) as exc:
        if isinstance(exc, UserError) and not _is_input_error(exc):
            raise
        with UnitOfWork(ctx, readonly=True) as uow:
            return _users_page(request, uow, actor, error=_message(exc), form=form)
    return _done("added", login)


def _done(what: str, login: str) -> Response:
    return RedirectResponse(
        "/admin/users?" + urlencode({"done": what, "login": login}), status_code=303
    )


def _is_input_error(exc: UserError) -> bool:
    """A mistake in the form (shown beside it) rather than a refusal (answered 403/404)."""
    return not isinstance(exc, PermissionDenied | AuthenticationError | NotFound)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


@router.post("/users/{login}/disable")
def disable(login: str, actor: PageActor, uow: WriteUow) -> Response:
    identity.set_active(uow, login, False, actor, business_today())
    return _done("disabled", login)


@router.post("/users/{login}/enable")
def enable(login: str, actor: PageActor, uow: WriteUow) -> Response:
    identity.set_active(uow, login, True, actor, business_today())
    return _done("enabled", login)


@router.post("/users/{login}/reset-password")
def reset_password(
    request: Request, login: str, actor: PageActor, ctx: Ctx, password: Text
) -> Response:
    try:
        with UnitOfWork(ctx) as uow:
            identity.reset_password(uow, login, SecretStr(password), actor, business_today())
    except UserError as exc:
        if not _is_input_error(exc):
            raise
        with UnitOfWork(ctx, readonly=True) as uow:
            return _users_page(request, uow, actor, error=f"{login}：{exc}")
    return _done("reset", login)


@router.get("/sessions")
def sessions(request: Request, actor: PageActor, uow: ReadUow, at: Now, done: str = "") -> Response:
    rows = web_auth.list_sessions(uow, actor, at)
    return render(request, "admin_sessions.html", sessions=rows, notice=NOTICES.get(done, ""))


@router.post("/sessions/{session_id}/revoke")
def revoke_session(session_id: int, actor: PageActor, uow: WriteUow, at: Now) -> Response:
    web_auth.revoke_session(uow, actor, session_id, at)
    return RedirectResponse("/admin/sessions?done=revoked", status_code=303)
