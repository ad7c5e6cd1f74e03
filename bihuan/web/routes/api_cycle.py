"""The REST API of the cycle (/api/v1): findings, problem lists and their approval, the board
and trends; each body is the use case's own model, as the CLI's `--json` prints it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from bihuan.services import assessment, problems, results
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from bihuan.web.deps import ApiActor, Ctx, PagingParams, ReadUow, Today
from bihuan.web.routes.api import ERRORS, Page, paged

router = APIRouter(prefix="/api/v1", responses=ERRORS)

Year = Annotated[int, Query(ge=1900, le=2999, description="Cycle year.")]
Phase = Annotated[PhaseKind | None, Query(description="Only this phase.")]


@router.get("/findings", response_model=Page[problems.FindingRow], tags=["problem lists"])
def findings(
    actor: ApiActor,
    uow: ReadUow,
    ctx: Ctx,
    paging: PagingParams,
    year: Year,
    phase: Phase = None,
    department: Annotated[
        str | None, Query(max_length=64, description="Only this department's code.")
    ] = None,
) -> Page[problems.FindingRow]:
    """The findings (问题) of a year (`bihuan findings --json`); a department user's own, a
    section's those it supervises; another department's are 404 for a department user."""
    return paged(
        problems.list_findings(uow, actor, ctx.jurisdiction, year, phase, department), paging
    )


@router.get("/problem-lists", response_model=Page[problems.ProblemListRow], tags=["problem lists"])
def problem_lists(
    actor: ApiActor, uow: ReadUow, ctx: Ctx, paging: PagingParams, year: Year, phase: Phase = None
) -> Page[problems.ProblemListRow]:
    """The problem lists (问题清单) of a year and their approval state (`bihuan problems list
    --json`), scoped like the token's user."""
    return paged(problems.list_problem_lists(uow, actor, ctx.jurisdiction, year, phase), paging)


@router.post(
    "/problem-lists/approve", response_model=problems.ApprovalOutcome, tags=["problem lists"]
)
def approve(
    request: Request, actor: ApiActor, ctx: Ctx, today: Today, decision: problems.ApprovalDecision
) -> problems.ApprovalOutcome:
    """Approve (or reject) a phase's draft problem lists, or some departments' (office users):
    the decision of `bihuan problems approve`. When a paused issue-problem-lists run waits for
    it on a Prefect server, that run is resumed with the decision and the token's user as the
    approver (`resumed`: true); otherwise it is applied at once (`result`)."""
    cmd = problems.ApproveLists(jurisdiction=ctx.jurisdiction, **decision.model_dump())
    with UnitOfWork(ctx) as uow:
        return problems.submit_approval(uow, cmd, actor, today, request.app.state.approval_runs)


@router.get("/scores", response_model=Page[assessment.ScoreRow], tags=["results"])
def scores(
    actor: ApiActor,
    uow: ReadUow,
    ctx: Ctx,
    paging: PagingParams,
    year: Year,
    phase: Annotated[PhaseKind, Query(description="mid-year or year-end.")],
) -> Page[assessment.ScoreRow]:
    """A phase's department scores (得分), best first (`bihuan scores --json`); a department
    user sees its own only."""
    return paged(assessment.list_scores(uow, actor, ctx.jurisdiction, year, phase), paging)


@router.get("/scores/{department}", response_model=assessment.ScoreExplanation, tags=["results"])
def score(
    actor: ApiActor,
    uow: ReadUow,
    ctx: Ctx,
    department: str,
    year: Year,
    phase: Annotated[PhaseKind, Query(description="mid-year or year-end.")],
) -> assessment.ScoreExplanation:
    """Why a department got its score ("why 71.4"): the score, the breakdown and its Chinese
    explanation (`bihuan scores --department D --json`); another department's is 404 for a
    department user."""
    return assessment.score_explanation(uow, actor, ctx.jurisdiction, year, phase, department)


@router.get("/board", response_model=Page[results.BoardRow], tags=["results"])
def board(
    actor: ApiActor, uow: ReadUow, ctx: Ctx, paging: PagingParams, year: Year
) -> Page[results.BoardRow]:
    """The red / yellow / green board (红黄绿榜) of a year with its consequences (`bihuan board
    --json`); a department user sees the consequences of its own department only."""
    return paged(results.board(uow, actor, ctx.jurisdiction, year), paging)


@router.get("/trends", response_model=results.Trends, tags=["results"])
def trends(
    actor: ApiActor,
    uow: ReadUow,
    ctx: Ctx,
    department: Annotated[
        str | None, Query(max_length=64, description="Only this department's code.")
    ] = None,
) -> results.Trends:
    """Each department's annual score and rank in every year with a board (a department
    user: its own only)."""
    return results.trends(uow, actor, ctx.jurisdiction, department)
