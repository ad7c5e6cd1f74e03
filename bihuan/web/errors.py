"""How errors are answered: pages get a Chinese page or a redirect, the API JSON `{"detail"}`.

A refusal about an object the user may not see (PermissionDenied out of scope) and an object
that does not exist (NotFound) get the very same 404, so a guessed id reveals nothing.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from bihuan.errors import (
    AuthenticationError,
    ConflictError,
    NotFound,
    PermissionDenied,
    UserError,
)
from bihuan.web.deps import (
    ApiUnauthorized,
    CsrfFailed,
    PasswordChangeRequired,
    SignInRequired,
)
from bihuan.web.templating import render

NOT_FOUND = "not found"  # the API's one answer for missing and not-yours objects


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _json(status: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _page(request: Request, status: int, title: str, detail: str = "") -> Response:
    return render(request, "error.html", status_code=status, title=title, detail=detail)


def _sign_in(request: Request, _exc: Exception) -> Response:
    if _is_api(request):
        return _json(401, "not signed in", {"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    where = "/login" if request.method != "GET" or target == "/" else f"/login?next={quote(target)}"
    return RedirectResponse(where, status_code=303)


def _password(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/account/password", status_code=303)


def _csrf(request: Request, _exc: Exception) -> Response:
    return _page(
        request, 403, "表单已失效", "页面停留过久或来源不明，请返回上一页、刷新后重新提交。"
    )


def _api_unauthorized(_request: Request, exc: Exception) -> Response:
    return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})


def _denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PermissionDenied)
    if exc.out_of_scope:
        return _not_found(request, exc)
    if _is_api(request):
        return _json(403, str(exc))
    return _page(request, 403, "无权进行此操作", str(exc))


def _not_found(request: Request, _exc: Exception) -> Response:
    if _is_api(request):
        return _json(404, NOT_FOUND)
    return _page(request, 404, "未找到", "该页面或对象不存在，或您无权查看。")


def _conflict(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return _json(409, str(exc))
    return _page(request, 409, "已被他人修改", f"请刷新后重试。{exc}")


def _authentication(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})
    return RedirectResponse("/login", status_code=303)


def _user_error(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return _json(400, str(exc))
    return _page(request, 400, "无法完成", str(getattr(exc, "zh", "") or exc))


def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError | ValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if _is_api(request):
        return _json(422, errors)
    text = "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return _page(request, 422, "输入有误", text)


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _is_api(request):
        return _json(exc.status_code, exc.detail, getattr(exc, "headers", None))
    if exc.status_code == 404:
        return _not_found(request, exc)
    return _page(request, exc.status_code, "请求有误", str(exc.detail))


def install(app: FastAPI) -> None:
    # the most specific first: Starlette picks the handler of the nearest class in the MRO
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(PasswordChangeRequired, _password)
    app.add_exception_handler(CsrfFailed, _csrf)
    app.add_exception_handler(ApiUnauthorized, _api_unauthorized)
    app.add_exception_handler(PermissionDenied, _denied)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(AuthenticationError, _authentication)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
