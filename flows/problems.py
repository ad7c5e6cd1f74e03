"""issue-problem-lists: findings from the assessment, problem lists (问题清单), their approval.

Nothing reaches a department before an office (编办) user approves: with a Prefect server
running, the flow pauses and the approver either approves in the portal (which resumes the run
with the signed-in user as the approver: `PrefectApprovalRuns`) or fills in the form on the
flow-run page with their login (approve; only some departments; change a deadline; drop a
finding with a reason); scripted runs name the approving user in `auto_approve`; in Prefect's
local mode without one the drafts wait for `bihuan problems approve` or the portal. The
approver must be an existing office user of the jurisdiction: anyone else is refused, the
refusal is in the audit log, and the form asks again. Deadlines count from the day of the
approval (the form's `approved_on`, else the day it is submitted), not from the run's date.
A decision about some departments leaves the others' drafts for the portal or the command
line. What the approval does, in one transaction, is the use case's
(bihuan/services/problems.py).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import date
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from pydantic import BaseModel, Field

from bihuan.core.access import Permission
from bihuan.errors import PermissionDenied, UserError
from bihuan.services import identity, problems
from bihuan.services.problems import (
    ApprovalResult,
    ApproveLists,
    DeadlineChange,
    DropFinding,
    RaiseResult,
)
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import PhaseKind
from flows.common import artifact_key, flow_app, parse_phase, resolve_as_of, run_actor

FLOW_NAME = "issue-problem-lists"

# How often the form is shown again after a refused approver before the run stops waiting
# (the drafts then wait for `bihuan problems approve`).
APPROVAL_ATTEMPTS = 3


class ProblemListApproval(RunInput):
    """The coordinator's decision on the phase's draft problem lists (问题清单审核)."""

    approver: str = Field(
        min_length=1, description="Approver's login (审核人登录名), an office (编办) user"
    )
    approve: bool = Field(default=True, description="Approve and send (同意下发)")
    departments: list[str] = Field(
        default_factory=list,
        description="Only these departments' lists (部门代码, e.g. D01); empty: every department",
    )
    drop: list[DropFinding] = Field(default_factory=list, description="Findings to drop (剔除)")
    deadlines: list[DeadlineChange] = Field(
        default_factory=list, description="Deadlines to change (调整整改期限), working days"
    )
    approved_on: date | None = Field(
        default=None,
        description="Day of approval (审核日期), deadlines count from it; empty: today",
    )


class ProblemSummary(BaseModel):
    """What a run of issue-problem-lists did (its return value, and `--json` of the CLI)."""

    jurisdiction: str
    year: int
    phase: PhaseKind
    as_of: date
    new_findings: int = 0
    drafts: int = 0
    pending: int = 0
    approved_lists: int = 0
    items_created: int = 0
    dropped: int = 0
    approved_by: str = ""
    approved_on: date | None = None
    rejected: bool = False
    awaiting_approval: bool = False
    by_department: dict[str, int] = Field(default_factory=dict)


# ------------------------------------------------------------------ tasks


@task(name="raise-findings", cache_policy=NO_CACHE)
def raise_findings_task(
    jurisdiction: str, run_as: str, year: int, phase: PhaseKind, as_of: date
) -> RaiseResult:
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        actor = identity.actor_for(uow, run_as)
        return problems.raise_findings(uow, jurisdiction, year, phase, actor, as_of)


@task(name="check-approver", cache_policy=NO_CACHE)
def check_approver(jurisdiction: str, login: str) -> str:
    """Why `login` may not approve (recorded in the audit log), or "" when it may."""
    try:
        with UnitOfWork(flow_app(jurisdiction), readonly=True) as uow:
            problems.approver(uow, login, jurisdiction)
    except PermissionDenied as exc:
        return str(exc)
    return ""


@task(name="approve-problem-lists", cache_policy=NO_CACHE)
def approve_task(
    jurisdiction: str, year: int, phase: PhaseKind, as_of: date, decision: ProblemListApproval
) -> ApprovalResult:
    cmd = ApproveLists(
        jurisdiction=jurisdiction,
        year=year,
        phase=phase,
        approve=decision.approve,
        departments=decision.departments,
        drop=decision.drop,
        deadlines=decision.deadlines,
    )
    with UnitOfWork(flow_app(jurisdiction)) as uow:
        actor = problems.approver(uow, decision.approver, jurisdiction)
        return problems.approve_problem_lists(uow, cmd, actor, as_of)


# ------------------------------------------------------------------ the flow


def run_name(jurisdiction: str, year: int, phase: PhaseKind) -> str:
    """The flow run's name (flow_run_name below), by which the portal finds a paused run."""
    return f"{FLOW_NAME}-{jurisdiction}-{year}-{phase.value}"


class PrefectApprovalRuns:
    """The paused issue-problem-lists runs of a Prefect server, for the portal
    (bihuan.services.problems.ApprovalRuns): find the one waiting for a phase's approval, and
    resume it with the decision, as the form on its flow-run page would."""

    def __init__(self, api_url: str | None = None) -> None:
        self.api_url = api_url  # None: the process's PREFECT_API_URL

    def _server(self) -> AbstractContextManager[Any]:
        if self.api_url is None:
            return nullcontext()
        from prefect.settings import PREFECT_API_URL, temporary_settings

        return temporary_settings({PREFECT_API_URL: self.api_url})

    def waiting(self, jurisdiction: str, year: int, phase: PhaseKind) -> str | None:
        from prefect import get_client
        from prefect.client.schemas.filters import (
            FlowFilter,
            FlowFilterName,
            FlowRunFilter,
            FlowRunFilterName,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.client.schemas.sorting import FlowRunSort

        try:
            with self._server(), get_client(sync_client=True) as client:
                runs = client.read_flow_runs(
                    flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
                    flow_run_filter=FlowRunFilter(
                        name=FlowRunFilterName(any_=[run_name(jurisdiction, year, phase)]),
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                        ),
                    ),
                    sort=FlowRunSort.START_TIME_DESC,
                    limit=1,
                )
        except Exception as exc:  # an unreachable server must not let the portal bypass a run
            raise UserError(
                f"cannot ask the Prefect server whether an {FLOW_NAME} run waits for this "
                f"approval ({type(exc).__name__}: {exc}); nothing was approved, try again"
            ) from None
        return str(runs[0].id) if runs else None

    def resume(self, flow_run_id: str, run_input: dict[str, Any]) -> None:
        from prefect.flow_runs import resume_flow_run

        try:
            with self._server():
                resume_flow_run(UUID(flow_run_id), run_input=run_input)
        except Exception as exc:
            raise UserError(
                f"the Prefect server did not resume flow run {flow_run_id} "
                f"({type(exc).__name__}: {exc}); nothing was approved, try again"
            ) from None


def prefect_server_running() -> bool:
    """True when runs go to a real Prefect server (PREFECT_API_URL set), where pauses have a UI."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def _wait_for_decision(raised: RaiseResult, timeout_hours: int) -> ProblemListApproval | None:
    """Pause for the approval form until an office user fills it in (None: nobody did)."""
    from prefect.flow_runs import pause_flow_run

    log = get_run_logger()
    problem = ""
    for _ in range(APPROVAL_ATTEMPTS):
        log.info("waiting for a coordinator to approve %d findings", raised.pending)
        decision = pause_flow_run(
            wait_for_input=ProblemListApproval.with_initial_data(
                description=problems.approval_request(raised, problem), approver=""
            ),
            timeout=timeout_hours * 3600,
        )
        problem = check_approver(raised.jurisdiction, decision.approver)
        if not problem:
            return decision
        log.warning("approval refused: %s", problem)
    log.warning(
        "no valid approval after %d attempts; the drafts wait for `bihuan problems approve`",
        APPROVAL_ATTEMPTS,
    )
    return None


@flow(
    name=FLOW_NAME,
    flow_run_name="issue-problem-lists-{jurisdiction}-{year}-{phase}",
)
def issue_problem_lists(
    jurisdiction: str,
    run_as: str,
    year: int,
    phase: PhaseKind = PhaseKind.MID_YEAR,
    as_of: date | None = None,
    auto_approve: str | None = None,
    wait_for_approval: bool | None = None,
    approval_timeout_hours: int = 72,
) -> ProblemSummary:
    """Raise findings, draft the problem lists, and issue them once an office user approves.

    `run_as` is the login of the user the run acts for (an office user). `auto_approve` names
    the approving office user of a scripted run. Otherwise the run pauses for the approval form
    in the Prefect UI when `wait_for_approval` is true (default: when a Prefect server is
    configured), or leaves the drafts for `bihuan problems approve`."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    run_actor(flow_app(jurisdiction), run_as, Permission.RUN_CYCLE, "issue problem lists")
    raised = raise_findings_task(jurisdiction, run_as, year, kind, day)
    summary = ProblemSummary(
        jurisdiction=jurisdiction,
        year=year,
        phase=kind,
        as_of=day,
        new_findings=raised.new_findings,
        drafts=raised.drafts,
        pending=raised.pending,
    )
    if not raised.pending:
        return summary
    create_table_artifact(
        key=artifact_key("findings", jurisdiction, year, kind.value),
        table=[
            row.model_dump(
                mode="json",
                include={"id", "department", "department_name", "category_label"}
                | {"severity_label", "title", "supervising_section"},
            )
            for row in raised.shown
        ],
        description=f"{year} {kind.label} 待审核问题 (findings awaiting approval, "
        f"{len(raised.shown)} of {raised.pending})",
    )
    decision: ProblemListApproval | None = None
    approved_on = day  # a scripted run approves on its own date
    if auto_approve:
        decision = ProblemListApproval(approver=auto_approve)
    elif wait_for_approval or (wait_for_approval is None and prefect_server_running()):
        decision = _wait_for_decision(raised, approval_timeout_hours)
        if decision is not None:
            # deadlines count from the day of approval, never before the run's own date
            approved_on = max(day, resolve_as_of(decision.approved_on))
    if decision is None:
        return summary.model_copy(update={"awaiting_approval": True})
    approved = approve_task(jurisdiction, year, kind, approved_on, decision)
    create_markdown_artifact(
        key=artifact_key("problem-lists", jurisdiction, year, kind.value),
        markdown=problems.approval_report(approved),
        description=f"{year} {kind.label} problem lists issued",
    )
    return summary.model_copy(
        update={
            "approved_lists": approved.approved_lists,
            "items_created": approved.items_created,
            "dropped": approved.dropped,
            "approved_by": approved.approved_by,
            "approved_on": approved_on,
            "rejected": not approved.approved,
            "by_department": approved.by_department,
            # a decision about some departments leaves the others' drafts waiting
            "awaiting_approval": approved.still_pending > 0,
        }
    )
