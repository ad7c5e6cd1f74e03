"""Every signed-in role: the home page, the departments and a department's ledger (履职台账)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from bihuan.services import org
from bihuan.web.deps import Ctx, PageActor, ReadUow, csrf_session
from bihuan.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_session)])

NOTICES = {"password": "密码已修改。"}


@router.get("/")
def home(request: Request, actor: PageActor, done: str = "") -> Response:
    return render(request, "home.html", notice=NOTICES.get(done, ""))


@router.get("/departments")
def departments(request: Request, actor: PageActor, uow: ReadUow, ctx: Ctx) -> Response:
    rows = org.list_departments(uow, actor, ctx.jurisdiction)
    return render(request, "departments.html", departments=rows)


@router.get("/departments/{code}")
def department(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    code: str,
    year: Annotated[int | None, Query(ge=1900, le=2999)] = None,
) -> Response:
    ledger = org.department_ledger(uow, actor, ctx.jurisdiction, code, year)
    return render(request, "department.html", ledger=ledger)
