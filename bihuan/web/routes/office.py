"""The office (编办): the draft problem lists, previewed as each department will receive them,
and their approval per department or for all (问题清单审核).

An approval goes through `problems.submit_approval`: when a paused issue-problem-lists run of
the phase waits for it on a Prefect server, the run is resumed with the decision and the
signed-in user as the approver (the run sends the lists); otherwise the decision is applied
here. Either way the page says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from bihuan.core.access import Actor
from bihuan.errors import AuthenticationError, NotFound, PermissionDenied, UserError
from bihuan.services import problems
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from bihuan.web.deps import Ctx, PageActor, ReadUow, Today, csrf_session
from bihuan.web.security import document_response
from bihuan.web.templating import render

router = APIRouter(prefix="/office", include_in_schema=False, dependencies=[Depends(csrf_session)])

Year = Annotated[int, Query(ge=1900, le=2999)]
Code = Annotated[str, Query(max_length=64)]
FIELD = re.compile(r"^(drop|deadline)-(\d{1,12})$")
MAX_FIELDS = 5_000  # a province's phase has a few thousand findings at most


@router.get("/problem-lists")
def problem_lists(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    today: Today,
    year: Annotated[int | None, Query(ge=1900, le=2999)] = None,
    phase: PhaseKind | None = None,
    done: str = "",
) -> Response:
    """Without a phase: the phases awaiting approval. With one: its draft lists."""
    if year is None or phase is None:
        phases = problems.awaiting_approval(uow, actor, ctx.jurisdiction)
        return render(request, "office_approvals.html", phases=phases)
    shown = problems.preview_problem_lists(uow, actor, ctx.jurisdiction, year, phase, today)
    return render(
        request,
        "office_problem_lists.html",
        preview=shown,
        notice=_notice(request, done),
        error="",
        form=DecisionForm(year=year, phase=phase.value),
    )


@router.get("/problem-lists/{code}")
def problem_list(
    request: Request,
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    today: Today,
    code: str,
    year: Year,
    phase: PhaseKind,
) -> Response:
    """One department's draft list as it will be sent, with a drop and a deadline per finding."""
    shown = problems.preview_problem_lists(uow, actor, ctx.jurisdiction, year, phase, today, [code])
    return render(
        request,
        "office_problem_list.html",
        preview=shown,
        draft=shown.lists[0],
        error="",
        form=DecisionForm(year=year, phase=phase.value, departments=[code], back=code),
    )


@router.get("/problem-lists/{code}/document")
def problem_list_document(
    actor: PageActor,
    uow: ReadUow,
    ctx: Ctx,
    today: Today,
    code: str,
    year: Year,
    phase: PhaseKind,
) -> Response:
    """The draft list as the HTML document the department receives (its own page and style)."""
    shown = problems.preview_problem_lists(uow, actor, ctx.jurisdiction, year, phase, today, [code])
    return document_response(shown.lists[0].html)


# ------------------------------------------------------------------ the decision


@dataclass
class DecisionForm:
    """The approval form as submitted, kept to show again beside an error."""

    year: int | None = None
    phase: str = ""
    departments: list[str] = field(default_factory=list)
    everything: bool = False
    approve: bool = True
    back: str = ""  # a department's page, or "" for the phase's
    drops: dict[int, str] = field(default_factory=dict)
    deadlines: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what could not be read


async def decision_form(request: Request) -> DecisionForm:
    """The fields of the approval form (parsed once; the CSRF check already read them)."""
    form = await request.form()
    out = DecisionForm()
    year = str(form.get("year", ""))
    out.year = int(year) if year.isdigit() and len(year) == 4 else None
    out.phase = str(form.get("phase", ""))[:20]
    out.departments = [str(d)[:64] for d in form.getlist("department") if str(d).strip()]
    out.everything = form.get("scope") == "all"
    out.approve = form.get("action", "approve") != "reject"
    back = str(form.get("back", ""))[:64]
    out.back = back if back in out.departments else ""
    for name, value in list(form.multi_items())[:MAX_FIELDS]:
        matched = FIELD.match(name)
        text = str(value).strip()
        if matched is None or not text:
            continue
        fid = int(matched.group(2))
        (out.drops if matched.group(1) == "drop" else out.deadlines)[fid] = text[:500]
    return out


Decision = Annotated[DecisionForm, Depends(decision_form)]


@router.post("/problem-lists/approve")
def approve(request: Request, actor: PageActor, ctx: Ctx, today: Today, form: Decision) -> Response:
    try:
        cmd = _command(form, ctx.jurisdiction)
        with UnitOfWork(ctx) as uow:
            outcome = problems.submit_approval(
                uow, cmd, actor, today, request.app.state.approval_runs
            )
    except (UserError, ValidationError) as exc:
        if isinstance(exc, UserError) and not _is_input_error(exc):
            raise
        return _again(request, ctx, actor, today, form, _message(exc))
    where = {"year": cmd.year, "phase": cmd.phase.value}
    if outcome.resumed:
        where |= {"done": "resumed", "run": outcome.flow_run_id or ""}
    else:
        assert outcome.result is not None
        r = outcome.result
        where |= {
            "done": "approved" if r.approved else "rejected",
            "lists": r.approved_lists,
            "items": r.items_created,
            "departments": _named(r.departments, r.all_departments),
        }
    return RedirectResponse("/office/problem-lists?" + urlencode(where), status_code=303)


def _named(codes: list[str], everything: bool) -> str:
    """The departments decided, for the notice (a province's phase: not every code)."""
    if everything:
        return "全部部门"
    return "、".join(codes[:12]) + (f"等 {len(codes)} 个部门" if len(codes) > 12 else "")


def _command(form: DecisionForm, jurisdiction: str) -> problems.ApproveLists:
    if form.year is None or not form.phase:
        raise UserError("表单缺少年度或阶段，请从问题清单审核页面重新提交。")
    if not form.everything and not form.departments:
        raise UserError("请至少勾选一个部门，或选择“全部审核下发”。")
    bad = [
        fid for fid, day in form.deadlines.items() if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
    ]
    if bad:
        raise UserError(
            f"问题 {bad[0]} 的整改期限“{form.deadlines[bad[0]]}”不是日期（YYYY-MM-DD）。"
        )
    return problems.ApproveLists.model_validate(
        {
            "jurisdiction": jurisdiction,
            "year": form.year,
            "phase": form.phase,
            "approve": form.approve,
            "departments": [] if form.everything else list(dict.fromkeys(form.departments)),
            "drop": [{"finding_id": f, "reason": r} for f, r in sorted(form.drops.items())],
            "deadlines": [
                {"finding_id": f, "deadline": d} for f, d in sorted(form.deadlines.items())
            ],
        }
    )


def _again(
    request: Request, ctx: Ctx, actor: Actor, today: date, form: DecisionForm, error: str
) -> Response:
    """The page the form came from, with the error and what was entered."""
    if form.year is None or form.phase not in {p.value for p in PhaseKind}:
        return render(request, "error.html", status_code=400, title="无法完成", detail=error)
    phase = PhaseKind(form.phase)
    with UnitOfWork(ctx, readonly=True) as uow:
        only = [form.back] if form.back else []
        try:
            shown = problems.preview_problem_lists(
                uow, actor, ctx.jurisdiction, form.year, phase, today, only
            )
        except NotFound:
            shown = problems.preview_problem_lists(
                uow, actor, ctx.jurisdiction, form.year, phase, today
            )
            form.back = ""
    if form.back:
        return render(
            request,
            "office_problem_list.html",
            status_code=400,
            preview=shown,
            draft=shown.lists[0],
            error=error,
            form=form,
        )
    return render(
        request,
        "office_problem_lists.html",
        status_code=400,
        preview=shown,
        notice="",
        error=error,
        form=form,
    )


def _is_input_error(exc: UserError) -> bool:
    """A mistake in the decision (shown beside the form) rather than a refusal (403/404)."""
    return not isinstance(exc, PermissionDenied | AuthenticationError | NotFound)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return getattr(exc, "zh", "") or str(exc)


def _notice(request: Request, done: str) -> str:
    q = request.query_params
    if done == "resumed":
        return (
            f"已将审核决定交给等待审核的流程运行 {q.get('run', '')}（审核人为您），"
            "由该运行下发问题清单；刷新本页可查看进展。"
        )
    if done == "approved":
        return (
            f"已审核下发 {q.get('lists', '0')} 个部门的问题清单（{q.get('departments', '')}），"
            f"生成整改事项 {q.get('items', '0')} 项。"
        )
    if done == "rejected":
        return f"已退回 {q.get('departments', '')} 的问题清单，未下发。"
    return ""
