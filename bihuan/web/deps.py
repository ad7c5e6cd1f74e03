"""FastAPI dependencies: the unit of work, the signed-in user, the CSRF check, the API's actor.

Routes take what they need from here and call one use case; the use case checks permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bihuan.app import AppContext
from bihuan.clock import BUSINESS_TZ
from bihuan.core.access import Actor
from bihuan.core.websecurity import same_secret
from bihuan.errors import AuthenticationError
from bihuan.services import web_auth
from bihuan.services.uow import UnitOfWork
from bihuan.web.security import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SAFE_METHODS,
    SESSION_COOKIE,
    client_address,
    is_https,
)

# ------------------------------------------------------------------ what the handlers answer


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in form (errors.py)."""


class PasswordChangeRequired(Exception):
    """A first sign-in (or after an admin's reset): every page leads to the password form."""


class CsrfFailed(Exception):
    """An unsafe request without the session's (or the sign-in form's) CSRF token."""


class ApiUnauthorized(Exception):
    """No, or an invalid, expired or revoked bearer token: 401."""


# ------------------------------------------------------------------ the installation


def app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def trust_proxy(request: Request) -> bool:
    return bool(app_context(request).settings.trust_proxy)


def address(request: Request) -> str:
    return client_address(request, trust_proxy=trust_proxy(request))


def https(request: Request) -> bool:
    return is_https(request, trust_proxy=trust_proxy(request))


Ctx = Annotated[AppContext, Depends(app_context)]
Now = Annotated[datetime, Depends(now)]
Address = Annotated[str, Depends(address)]


# ------------------------------------------------------------------ units of work

# scope="function": the transaction commits (or rolls back and records a refusal) when the
# route returns, before the response is sent, so a redirect never outruns its commit.


def _read_uow(request: Request) -> Iterator[UnitOfWork]:
    with UnitOfWork(app_context(request), readonly=True) as uow:
        yield uow


def _write_uow(request: Request) -> Iterator[UnitOfWork]:
    with UnitOfWork(app_context(request)) as uow:
        yield uow


ReadUow = Annotated[UnitOfWork, Depends(_read_uow, scope="function")]
WriteUow = Annotated[UnitOfWork, Depends(_write_uow, scope="function")]


# ------------------------------------------------------------------ the signed-in user


def optional_session(request: Request) -> web_auth.SignedIn | None:
    """The session behind the cookie, in a short read transaction of its own; its last-seen
    time is written (a second, short write) at most once a minute."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        return None
    ctx, at = app_context(request), now(request)
    with UnitOfWork(ctx, readonly=True) as uow:
        signed = web_auth.resolve_session(uow, secret, at)
    if signed is not None and signed.needs_touch:
        with UnitOfWork(ctx) as uow:
            web_auth.touch_session(uow, signed.session_id, at)
    request.state.signed_in = signed
    return signed


OptionalSession = Annotated[web_auth.SignedIn | None, Depends(optional_session)]


def current_session(signed: OptionalSession) -> web_auth.SignedIn:
    """A signed-in user, whatever the state of their password (the password form's own)."""
    if signed is None:
        raise SignInRequired()
    return signed


CurrentSession = Annotated[web_auth.SignedIn, Depends(current_session)]


def page_session(signed: CurrentSession) -> web_auth.SignedIn:
    """A signed-in user who has set their own password: what every other page needs."""
    if signed.must_change_password:
        raise PasswordChangeRequired()
    return signed


PageSession = Annotated[web_auth.SignedIn, Depends(page_session)]


def page_actor(signed: PageSession) -> Actor:
    return signed.actor


PageActor = Annotated[Actor, Depends(page_actor)]


# ------------------------------------------------------------------ CSRF


async def _form_token(request: Request) -> str:
    form = await request.form()  # parsed once; FastAPI's Form parameters reuse it
    value = form.get(CSRF_FIELD, "")
    return value if isinstance(value, str) else ""


async def csrf_session(request: Request, signed: OptionalSession) -> None:
    """On every router of signed-in pages: an unsafe method needs a session and its token."""
    if request.method in SAFE_METHODS:
        return
    if signed is None:
        raise SignInRequired()
    if not same_secret(await _form_token(request), signed.csrf_token):
        raise CsrfFailed()


async def csrf_login(request: Request) -> None:
    """The sign-in form, before any session: the field must equal the form's cookie."""
    if not same_secret(await _form_token(request), request.cookies.get(LOGIN_COOKIE, "")):
        raise CsrfFailed()


# ------------------------------------------------------------------ the API's actor

bearer = HTTPBearer(auto_error=False, description="A personal access token (bihuan tokens create)")


def api_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The user a bearer token acts as. The API takes no cookies, so it needs no CSRF token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiUnauthorized("an API token is required: Authorization: Bearer <token>")
    ctx, at = app_context(request), now(request)
    try:
        with UnitOfWork(ctx, readonly=True) as uow:
            found = web_auth.actor_for_token(uow, credentials.credentials, at)
    except AuthenticationError as exc:
        raise ApiUnauthorized(str(exc)) from None
    if found.needs_touch:
        with UnitOfWork(ctx) as uow:
            web_auth.touch_token(uow, found.token_id, at)
    return found.actor


ApiActor = Annotated[Actor, Depends(api_actor)]


# ------------------------------------------------------------------ paging


class Paging:
    """?page=1&per_page=50 (at most 500 a page)."""

    def __init__(
        self,
        page: Annotated[int, Query(ge=1, description="Page number, from 1.")] = 1,
        per_page: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
    ) -> None:
        self.page = page
        self.per_page = per_page


PagingParams = Annotated[Paging, Depends()]


# ------------------------------------------------------------------ the business day


def business_day(at: Now) -> date:
    """Today in Asia/Shanghai by the portal's clock: the day of an approval, of a report."""
    return at.astimezone(BUSINESS_TZ).date()


Today = Annotated[date, Depends(business_day)]
