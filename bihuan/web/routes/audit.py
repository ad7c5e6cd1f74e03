"""Auditors and administrators (审计): the audit log and the check of its hash chains."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from bihuan.services import audit
from bihuan.web.deps import PageActor, ReadUow, csrf_session
from bihuan.web.templating import render

router = APIRouter(prefix="/audit", include_in_schema=False, dependencies=[Depends(csrf_session)])

Filter = Annotated[str, Query(max_length=200)]


@router.get("")
def log(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    action: Filter = "",
    entity: Filter = "",
    key: Filter = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    page = audit.read_log(
        uow, actor, limit=limit, action=action or None, entity=entity or None, key=key or None
    )
    return render(
        request,
        "audit_log.html",
        page=page,
        filters={"action": action, "entity": entity, "key": key},
        limit=limit,
    )


@router.get("/verify")
def verify(request: Request, actor: PageActor, uow: ReadUow) -> Response:
    return render(request, "audit_verify.html", result=audit.verify(uow, actor))
