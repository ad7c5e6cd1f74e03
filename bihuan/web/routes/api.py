"""Machine clients: the REST API under /api/v1 (bearer tokens) and its documentation.

The bodies are the use cases' own pydantic models, the same shapes as the CLI's `--json`.
Lists come in pages: {"items": [...], "total": N, "page": p, "per_page": n}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from bihuan.services import identity, org
from bihuan.web.deps import ApiActor, Ctx, PagingParams, ReadUow
from bihuan.web.templating import render

T = TypeVar("T")

ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No token, or an invalid, expired or revoked one"},
    403: {"description": "The token's user may not do this (their role)"},
    404: {"description": "Not found, or not visible to the token's user"},
}


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


def paged(items: Sequence[T], paging: PagingParams) -> Page[T]:
    start = (paging.page - 1) * paging.per_page
    return Page[T](
        items=list(items[start : start + paging.per_page]),
        total=len(items),
        page=paging.page,
        per_page=paging.per_page,
    )


router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.get("/me", response_model=identity.UserView, tags=["account"])
def me(actor: ApiActor, uow: ReadUow) -> identity.UserView:
    """The token's user: login, role and scope."""
    return identity.me(uow, actor)


@router.get("/departments", response_model=Page[org.DepartmentRow], tags=["organisation"])
def departments(
    actor: ApiActor, uow: ReadUow, ctx: Ctx, paging: PagingParams
) -> Page[org.DepartmentRow]:
    """The departments (部门) the token's user may see (a department user: its own)."""
    return paged(org.list_departments(uow, actor, ctx.jurisdiction), paging)


@router.get("/indicators", response_model=Page[org.IndicatorRow], tags=["organisation"])
def indicators(
    actor: ApiActor,
    uow: ReadUow,
    ctx: Ctx,
    paging: PagingParams,
    year: Annotated[int, Query(ge=1900, le=2999, description="Cycle year.")],
    department: Annotated[
        str | None, Query(max_length=64, description="Only this department's code.")
    ] = None,
) -> Page[org.IndicatorRow]:
    """The ledger indicators (履职台账指标) of a year; another department's are 404 for a
    department user."""
    return paged(org.list_indicators(uow, actor, ctx.jurisdiction, year, department), paging)


docs = APIRouter(include_in_schema=False)


@docs.get("/api/docs")
def api_docs(request: Request) -> Response:
    """Swagger UI from the package's static files, initialised by a static script (the
    portal's Content-Security-Policy allows no inline script, here as everywhere)."""
    return render(request, "api_docs.html", openapi_url=request.app.openapi_url)
