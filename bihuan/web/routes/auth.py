"""Everyone: sign in (登录), sign out (退出), change one's own password (修改密码)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import SecretStr
from starlette.responses import RedirectResponse, Response

from bihuan.clock import BUSINESS_TZ
from bihuan.errors import AuthenticationError, UserError
from bihuan.services import web_auth
from bihuan.services.uow import UnitOfWork
from bihuan.web.deps import (
    Address,
    Ctx,
    CurrentSession,
    Now,
    OptionalSession,
    WriteUow,
    csrf_login,
    csrf_session,
    https,
)
from bihuan.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    safe_next,
    set_cookie,
)
from bihuan.web.templating import render

public = APIRouter(include_in_schema=False)
router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_session)])

FormText = Annotated[str, Form(max_length=1024)]


def _login_page(
    request: Request, *, login: str = "", next_url: str = "/", error: str = "", status: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status_code=status,
        login_csrf=token,
        login=login,
        next_url=safe_next(next_url),
        error=error,
        bye="bye" in request.query_params,
    )
    set_cookie(response, LOGIN_COOKIE, token, secure=https(request), max_age=3600)
    return response


@public.get("/login")
def login_form(request: Request, signed: OptionalSession, next: str = "/") -> Response:
    if signed is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=next)


@public.post("/login", dependencies=[Depends(csrf_login)])
def login(
    request: Request,
    ctx: Ctx,
    at: Now,
    address: Address,
    login: Annotated[str, Form(max_length=64)],
    password: FormText,
    next: Annotated[str, Form(max_length=1024)] = "/",
) -> Response:
    secret = SecretStr(password)
    try:
        # the password is checked in a read transaction, the outcome written in a short one
        with UnitOfWork(ctx, readonly=True) as uow:
            checked = web_auth.check_sign_in(uow, login, secret, address=address, now=at)
        with UnitOfWork(ctx) as uow:
            new = web_auth.sign_in(
                uow,
                login,
                secret,
                address=address,
                user_agent=request.headers.get("user-agent", ""),
                now=at,
                checked=checked,
            )
    except web_auth.SignInThrottled as exc:
        until = exc.until.astimezone(BUSINESS_TZ).strftime("%H:%M")
        return _login_page(
            request,
            login=login,
            next_url=next,
            error=f"失败次数过多，已暂时锁定，请于 {until} 后再试。",
            status=429,
        )
    except AuthenticationError:
        return _login_page(
            request,
            login=login,
            next_url=next,
            error="登录失败：账号或密码错误，或账号已停用。",
            status=401,
        )
    target = "/account/password" if new.must_change_password else safe_next(next)
    response = RedirectResponse(target, status_code=303)
    secure = https(request)
    # no max-age: the cookie ends with the browser; the server ends the session anyway
    set_cookie(response, SESSION_COOKIE, new.secret, secure=secure)
    clear_cookie(response, LOGIN_COOKIE, secure=secure)
    return response


@router.post("/logout")
def logout(
    request: Request, signed: CurrentSession, uow: WriteUow, at: Now, address: Address
) -> Response:
    web_auth.sign_out(uow, signed, at, address=address)
    response = RedirectResponse("/login?bye=1", status_code=303)
    clear_cookie(response, SESSION_COOKIE, secure=https(request))
    return response


def _password_page(request: Request, signed: web_auth.SignedIn, error: str = "") -> Response:
    return render(
        request,
        "password.html",
        status_code=400 if error else 200,
        first=signed.must_change_password,
        error=error,
    )


@router.get("/account/password")
def password_form(request: Request, signed: CurrentSession) -> Response:
    return _password_page(request, signed)


@router.post("/account/password")
def change_password(
    request: Request,
    signed: CurrentSession,
    ctx: Ctx,
    at: Now,
    current: FormText,
    new: FormText,
    repeat: FormText,
) -> Response:
    if new != repeat:
        return _password_page(request, signed, "两次输入的新密码不一致。")
    try:
        with UnitOfWork(ctx) as uow:
            web_auth.change_password(uow, signed, SecretStr(current), SecretStr(new), at)
    except AuthenticationError:
        return _password_page(request, signed, "当前密码不正确。")
    except UserError as exc:
        return _password_page(request, signed, f"新密码不符合要求：{exc}")
    return RedirectResponse("/?done=password", status_code=303)
