"""The rectification loop (整改): items, an item's page and its moves, evidence, the timeline,
the office's queues and a department's ledger.

Every role reads what its use cases let it see (a department its own items, a section the items
it supervises); every form makes one move through `rectification.act_with_uploads`, the use case
behind the command line and the workbook round trip, with the version the page showed (a
concurrent edit answers "changed by someone else", with the user's text kept in the form).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response

from bihuan.clock import BUSINESS_TZ
from bihuan.core.evidence import ACCEPTED, MB
from bihuan.core.rectification import Action
from bihuan.errors import (
    AuthenticationError,
    ConflictError,
    NotFound,
    PermissionDenied,
    UserError,
)
from bihuan.services import rectification, rectification_views
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import EscalationLevel, RectificationStatus
from bihuan.web.deps import Ctx, Now, PageActor, ReadUow, app_context, csrf_session
from bihuan.web.security import safe_next
from bihuan.web.templating import render


def body_limit(request: Request) -> None:
    """Before the form is read (the CSRF check reads it): a POST must say its length, and may
    be at most every allowed file at its largest plus a little for the fields (413)."""
    if request.method != "POST":
        return
    settings = app_context(request).settings
    limit = settings.upload_max_files * settings.upload_max_mb * MB + MB
    length = request.headers.get("content-length")
    if length is None:
        if request.headers.get("transfer-encoding"):
            raise HTTPException(411, "请求须注明长度（Content-Length）。")
        return
    if not length.isdigit() or int(length) > limit:
        raise HTTPException(
            413,
            f"提交的内容过大：每次最多 {settings.upload_max_files} 个文件，"
            f"每个不超过 {settings.upload_max_mb} MB。",
        )


router = APIRouter(
    include_in_schema=False, dependencies=[Depends(body_limit), Depends(csrf_session)]
)

Note = Annotated[str, Form(max_length=2000)]
Version = Annotated[int, Form(ge=1)]
Days = Annotated[int, Form(ge=1, le=250)]

DONE = {
    "respond": "已记录整改进展。",
    "report_fixed": "已报告整改完成，等待验收。",
    "request_extension": "已提交延期申请，等待编办审核。",
    "request_cannot_solve": "已提交无法解决申请，等待编办审核。",
    "verify_accept": "已验收销号。",
    "verify_reject": "已退回重新整改。",
    "extend": "已延长整改期限。",
    "decline_extension": "已不同意延期申请。",
    "approve_cannot_solve": "已同意按无法解决处理。",
    "deny_cannot_solve": "已不同意无法解决申请。",
}


def business_day(now: datetime) -> date:
    """The business date (Asia/Shanghai) of the portal's "now": the date of every move."""
    return now.astimezone(BUSINESS_TZ).date()


# ------------------------------------------------------------------ reading


@router.get("/items")
def items(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    at: Now,
    year: Annotated[int | None, Query(ge=1900, le=2999)] = None,
    department: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[RectificationStatus | None, Query()] = None,
    level: Annotated[EscalationLevel | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    data = rectification_views.item_list(
        uow,
        actor,
        ctx.jurisdiction,
        business_day(at),
        year=year,
        department=department or None,
        status=status,
        level=level,
        page=page,
    )
    query = {
        k: v
        for k, v in {
            "year": year or "",
            "department": department,
            "status": status.value if status else "",
            "level": level.value if level else "",
        }.items()
        if v
    }
    return render(
        request,
        "items.html",
        data=data,
        statuses=list(RectificationStatus),
        levels=list(EscalationLevel),
        query=query,
        query_string=urlencode(query),
    )


def _item_page(
    request: Request,
    uow: UnitOfWork,
    actor: Any,
    ctx: Any,
    at: datetime,
    item_id: int,
    *,
    status_code: int = 200,
    error: str = "",
    conflict: str = "",
    form: str = "",
    values: dict[str, Any] | None = None,
    done: str = "",
) -> Response:
    page = rectification_views.item_page(uow, actor, ctx.jurisdiction, item_id, business_day(at))
    settings = ctx.settings
    return render(
        request,
        "item.html",
        status_code=status_code,
        page=page,
        it=page.item,
        error=error,
        conflict=conflict,
        form=form,
        values=values or {},
        notice=DONE.get(done, ""),
        accepted=ACCEPTED,
        max_mb=settings.upload_max_mb,
        max_files=settings.upload_max_files,
        A=Action,
    )


@router.get("/items/{item_id}")
def item(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    at: Now,
    item_id: int,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return _item_page(request, uow, actor, ctx, at, item_id, done=done)


@router.get("/items/{item_id}/timeline")
def timeline(request: Request, actor: PageActor, uow: ReadUow, ctx: Ctx, item_id: int) -> Response:
    data = rectification_views.item_timeline(uow, actor, ctx.jurisdiction, item_id)
    return render(request, "item_timeline.html", data=data, it=data.item)


@router.get("/items/{item_id}/evidence/{file_id}")
def evidence(actor: PageActor, uow: ReadUow, ctx: Ctx, item_id: int, file_id: str) -> Response:
    """Always a download (attachment), never shown inline: whatever a file holds, the portal's
    origin does not render it (and nosniff is on every response)."""
    found = rectification.evidence_file(uow, actor, ctx.jurisdiction, item_id, file_id)
    return FileResponse(
        found.path,
        media_type=found.media_type,
        filename=found.name,
        content_disposition_type="attachment",
    )


# ------------------------------------------------------------------ one move


def _move(
    request: Request,
    actor: Any,
    ctx: Any,
    at: datetime,
    item_id: int,
    form: str,
    values: dict[str, Any],
    *,
    action: str,
    version: int,
    uploads: list[UploadFile | str] | None = None,
    next_url: str = "",
    **fields: Any,
) -> Response:
    """Make one move; on a mistake in the form, show the item again with the error beside the
    form and the user's text kept; on a concurrent change, the same, with today's item."""
    cmd = rectification.Act(
        jurisdiction=ctx.jurisdiction,
        item_id=item_id,
        action=action,
        expected_version=version,
        **fields,
    )
    # a file input left empty arrives as an empty text field, not as a file
    files = [
        rectification.Upload(name=u.filename or "", size=u.size or 0, file=u.file)
        for u in uploads or []
        if not isinstance(u, str)
    ]
    try:
        with UnitOfWork(ctx) as uow:
            out = rectification.act_with_uploads(uow, cmd, files, actor, business_day(at))
    except ConflictError as exc:
        with UnitOfWork(ctx, readonly=True) as uow:
            return _item_page(
                request, uow, actor, ctx, at, item_id,
                status_code=409, conflict=str(exc), form=form, values=values,
            )  # fmt: skip
    except UserError as exc:
        if isinstance(exc, PermissionDenied | NotFound | AuthenticationError):
            raise
        with UnitOfWork(ctx, readonly=True) as uow:
            return _item_page(
                request, uow, actor, ctx, at, item_id,
                status_code=400, error=_said_in_chinese(exc), form=form, values=values,
            )  # fmt: skip
    target = safe_next(next_url) if next_url else f"/items/{out.item_id}"
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}done={out.action}", status_code=303)


def _said_in_chinese(exc: UserError) -> str:
    """A refused move as the department reads it: the state machine's Chinese reason (labels,
    never codes) when it has one (TransitionError.zh), else the message."""
    return str(getattr(exc, "zh", "") or exc)


@router.post("/items/{item_id}/progress")
def progress(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    note: Note,
) -> Response:
    """开始整改 / 报告整改进展: start an open item, or record progress on one in progress."""
    return _move(
        request, actor, ctx, at, item_id, "progress", {"note": note},
        action="respond", version=version, reason=note,
    )  # fmt: skip


@router.post("/items/{item_id}/report-fixed")
def report_fixed(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    note: Note,
    references: Annotated[str, Form(max_length=2000)] = "",
    files: Annotated[list[UploadFile | str] | None, File()] = None,
) -> Response:
    """报告整改完成, with evidence files (checked by content) and/or document references."""
    refs = tuple(line.strip() for line in references.splitlines() if line.strip())
    return _move(
        request, actor, ctx, at, item_id, "report_fixed", {"note": note, "references": references},
        action=Action.REPORT_FIXED, version=version, uploads=files, reason=note, evidence_refs=refs,
    )  # fmt: skip


@router.post("/items/{item_id}/request-extension")
def request_extension(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    days: Days,
    reason: Note,
) -> Response:
    """申请延期: asks the office for more working days (it grants or declines)."""
    return _move(
        request, actor, ctx, at, item_id, "request_extension", {"days": days, "reason": reason},
        action=Action.REQUEST_EXTENSION, version=version, reason=reason, extend_by=days,
    )  # fmt: skip


@router.post("/items/{item_id}/cannot-solve")
def cannot_solve(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    explanation: Note,
    alternative: Note,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """申请无法解决, with the policy explanation and the alternative measure."""
    values = {"explanation": explanation, "alternative": alternative, "note": note}
    return _move(
        request, actor, ctx, at, item_id, "cannot_solve", values,
        action=Action.REQUEST_CANNOT_SOLVE, version=version, reason=note,
        explanation=explanation, alternative=alternative,
    )  # fmt: skip


@router.post("/items/{item_id}/verify")
def verify(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    decision: Annotated[str, Form(pattern="^(accept|reject)$")],
    note: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """验收: accept (销号) or reject (重新整改, a note required)."""
    action = Action.VERIFY_ACCEPT if decision == "accept" else Action.VERIFY_REJECT
    return _move(
        request, actor, ctx, at, item_id, "verify", {"note": note},
        action=action, version=version, reason=note, next_url=next,
    )  # fmt: skip


@router.post("/items/{item_id}/extend")
def extend(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    days: Days,
    reason: Note,
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """延期: the office moves the deadline (granting a pending request, if any)."""
    return _move(
        request, actor, ctx, at, item_id, "extend", {"days": days, "reason": reason},
        action=Action.EXTEND, version=version, reason=reason, extend_by=days, next_url=next,
    )  # fmt: skip


@router.post("/items/{item_id}/decline-extension")
def decline_extension(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    note: Note,
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """不同意延期: the office declines a pending extension request, saying why."""
    return _move(
        request, actor, ctx, at, item_id, "decline_extension", {"note": note},
        action=Action.DECLINE_EXTENSION, version=version, reason=note, next_url=next,
    )  # fmt: skip


@router.post("/items/{item_id}/decide-cannot-solve")
def decide_cannot_solve(
    request: Request,
    actor: PageActor,
    ctx: Ctx,
    at: Now,
    item_id: int,
    version: Version,
    decision: Annotated[str, Form(pattern="^(approve|deny)$")],
    note: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """审核无法解决申请: approve (无法解决) or deny (继续整改, a note required)."""
    action = Action.APPROVE_CANNOT_SOLVE if decision == "approve" else Action.DENY_CANNOT_SOLVE
    return _move(
        request, actor, ctx, at, item_id, "decide_cannot_solve", {"note": note},
        action=action, version=version, reason=note, next_url=next,
    )  # fmt: skip


# ------------------------------------------------------------------ the office's queues


@router.get("/verification")
def verification(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    at: Now,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    data = rectification_views.verification_queue(uow, actor, ctx.jurisdiction, business_day(at))
    return render(request, "verification.html", data=data, notice=DONE.get(done, ""))


@router.get("/overdue")
def overdue(request: Request, actor: PageActor, uow: ReadUow, ctx: Ctx, at: Now) -> Response:
    data = rectification_views.overdue_items(uow, actor, ctx.jurisdiction, business_day(at))
    return render(request, "overdue.html", data=data)


@router.get("/requests")
def requests(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    at: Now,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    data = rectification_views.pending_requests(uow, actor, ctx.jurisdiction, business_day(at))
    return render(request, "requests.html", data=data, notice=DONE.get(done, ""))


@router.get("/departments/{code}/rectifications")
def department_rectifications(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    at: Now,
    code: str,
    year: Annotated[int | None, Query(ge=1900, le=2999)] = None,
) -> Response:
    data = rectification_views.department_rectifications(
        uow, actor, ctx.jurisdiction, code, business_day(at), year
    )
    return render(request, "department_items.html", data=data)
