"""The REST API of the rectification loop: items (list, detail with history, one move) and the
outbox's notifications, scoped like the token's user.

The bodies are the use cases' models, the shapes `bihuan rectifications --json`,
`bihuan rectify show ITEM --json` and `bihuan notifications --json` print; a move is the
command line's `Act` as JSON, with the version the client saw (required: a concurrent change is
409, never a lost update).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from bihuan.services import notifications, rectification
from bihuan.services.rectification import ActionName
from bihuan.vocab import Capacity, NotificationStatus, RectificationStatus
from bihuan.web.deps import ApiActor, Ctx, Now, PagingParams, ReadUow, WriteUow
from bihuan.web.routes.api import ERRORS, Page, paged
from bihuan.web.routes.rectification import business_day

router = APIRouter(prefix="/api/v1", responses=ERRORS)

Department = Annotated[str | None, Query(max_length=64, description="Only this department's code.")]


class ActRequest(BaseModel):
    """One move on an item (整改事项), as `bihuan rectify ...` makes it."""

    model_config = ConfigDict(extra="forbid")

    action: ActionName = Field(
        description="respond (start, or record progress), report_fixed, request_extension, "
        "request_cannot_solve; for the office also verify_accept, verify_reject, extend, "
        "decline_extension, approve_cannot_solve, deny_cannot_solve, reopen"
    )
    expected_version: int = Field(
        ge=1, description="The item's version the client saw (refused with 409 if it changed)."
    )
    reason: str = Field(default="", max_length=1000, description="The note (说明/意见/理由).")
    evidence_refs: list[str] = Field(
        default_factory=list, max_length=20, description="Evidence as document references."
    )
    explanation: str = Field(default="", max_length=1000, description="政策解释 (cannot solve).")
    alternative: str = Field(default="", max_length=1000, description="替代措施 (cannot solve).")
    extend_by: int | None = Field(
        default=None, ge=1, le=250, description="Working days (extend, request_extension)."
    )
    capacity: Capacity | None = Field(
        default=None, description="The office only: answer as the department or coordinator."
    )


@router.get("/rectifications", response_model=Page[rectification.ItemRow], tags=["rectification"])
def rectifications(
    actor: ApiActor,
    uow: ReadUow,
    ctx: Ctx,
    paging: PagingParams,
    year: Annotated[int | None, Query(ge=1900, le=2999, description="Cycle year.")] = None,
    department: Department = None,
    status: Annotated[RectificationStatus | None, Query(description="Only this status.")] = None,
) -> Page[rectification.ItemRow]:
    """The rectification ledger (整改台账): a department's token sees its own items, a
    section's the items it supervises."""
    rows = rectification.list_items(uow, actor, ctx.jurisdiction, year, department, status)
    return paged(rows, paging)


@router.get(
    "/rectifications/{item_id}",
    response_model=rectification.ItemHistory,
    tags=["rectification"],
)
def rectification_detail(
    actor: ApiActor, uow: ReadUow, ctx: Ctx, item_id: int
) -> rectification.ItemHistory:
    """One item with its history and the moves the token's user may make next."""
    return rectification.item_history(uow, actor, ctx.jurisdiction, item_id)


@router.post(
    "/rectifications/{item_id}/actions",
    response_model=rectification.Outcome,
    tags=["rectification"],
    responses={409: {"description": "The item changed since the version given"}},
)
def rectification_action(
    actor: ApiActor, uow: WriteUow, ctx: Ctx, at: Now, item_id: int, body: ActRequest
) -> rectification.Outcome:
    """One move on one item (evidence as references; files go through the portal's form)."""
    cmd = rectification.Act(
        jurisdiction=ctx.jurisdiction,
        item_id=item_id,
        **body.model_dump(exclude={"evidence_refs"}),
        evidence_refs=tuple(body.evidence_refs),
    )
    return rectification.act(uow, cmd, actor, business_day(at))


@router.get(
    "/notifications", response_model=Page[notifications.NotificationRow], tags=["notifications"]
)
def notification_rows(
    actor: ApiActor,
    uow: ReadUow,
    ctx: Ctx,
    paging: PagingParams,
    status: Annotated[NotificationStatus | None, Query(description="Only this state.")] = None,
    department: Department = None,
    kind: Annotated[str | None, Query(max_length=40, description="e.g. reminder, digest.")] = None,
) -> Page[notifications.NotificationRow]:
    """The outbox, newest first, without bodies: a department's token sees its own
    department's messages."""
    found = notifications.list_notifications(
        uow,
        actor,
        ctx.jurisdiction,
        status=status,
        department=department,
        kind=kind,
        limit=paging.page * paging.per_page,
    )
    start = (paging.page - 1) * paging.per_page
    return Page[notifications.NotificationRow](
        items=found.rows[start:],
        total=found.total,
        page=paging.page,
        per_page=paging.per_page,
    )


__all__ = ["ActRequest", "router"]
