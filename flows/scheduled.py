"""Scheduled entry points: the flows the deployments run, with "this year" resolved at run time.

A cron schedule cannot know which year it is, so these wrappers take `year: int | None = None`,
meaning the year of `as_of` (default: today in Asia/Shanghai) — for an assessment, the year whose
phase window last opened by then, since the run falls after the window closes (the year-end run
on 1 January assesses the year just ended) — and call the stage flows in order.
Every one names its jurisdiction and the user it runs as (`run_as`, an office service account)
as parameters, so Prefect records which county a run processed and who it acted for; the
deployments set both (bihuan/deployments.py). A run that fails tells the office through the
outbox, once per flow and day (`report_failure`), so a failed night run is noticed outside the
Prefect UI.
"""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

from prefect import Flow, flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.states import State

from bihuan.core.access import Permission
from bihuan.errors import UserError
from bihuan.vocab import PhaseKind
from flows.common import flow_app, resolve_as_of, run_actor
from flows.cycle import annual_cycle
from flows.problems import ProblemSummary, issue_problem_lists

# Prefect flow name -> the module that defines it.
STAGE_MODULES = {
    "track-rectifications": "flows.track",
    "recheck": "flows.recheck",
    "results": "flows.results",
}


def stage_flow(name: str) -> Flow[..., Any]:
    """The stage flow registered under Prefect flow name `name`, or a clear error."""
    module_name = STAGE_MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UserError(
            f"flow {name!r} is not installed: {module_name.replace('.', '/')}.py is missing; "
            "update bihuan, then restart `bihuan serve`"
        ) from None
    for value in vars(module).values():
        if isinstance(value, Flow) and value.name == name:
            return value
    raise UserError(f"{module_name} defines no Prefect flow named {name!r}")


def stage_available(name: str) -> bool:
    """True when the stage flow's module can be imported (for `bihuan deployments`)."""
    try:
        stage_flow(name)
    except UserError:
        return False
    return True


def report_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Prefect on_failure hook: queue one message to the office per flow and day, then try to
    send it at once. Never raises: a failing hook must not hide the run's own failure."""
    log = get_run_logger()
    try:
        from bihuan.services import notifications
        from bihuan.services.uow import UnitOfWork

        params = dict(flow_run.parameters or {})
        jurisdiction, run_as = params.get("jurisdiction"), params.get("run_as")
        if not jurisdiction or not run_as:
            return
        app = flow_app(str(jurisdiction))
        actor = run_actor(app, str(run_as), Permission.RUN_CYCLE, "report a failed run")
        as_of = params.get("as_of")
        day = resolve_as_of(date.fromisoformat(as_of) if isinstance(as_of, str) else as_of)
        error = _reason(state)
        with UnitOfWork(app) as uow:
            queued = notifications.alert_office(
                uow, actor, str(jurisdiction), what=flow.name, error=error, day=day
            )
        if queued:
            _send_now(app, actor, str(jurisdiction))
    except Exception as exc:  # reported in the run's log; the run's own failure stands
        log.warning("could not tell the office about the failure: %s", exc)


def _reason(state: Any) -> str:
    try:
        state.result()
    except Exception as exc:  # the run's exception, as the office should read it
        return f"{type(exc).__name__}: {exc}"[:900]
    return str(getattr(state, "message", "") or "failed")[:900]


def _send_now(app: Any, actor: Any, jurisdiction: str) -> None:
    from bihuan.clock import business_today
    from notifications.dispatcher import run_dispatch

    run_dispatch(app, actor, business_today())


def _assessment(
    phase: PhaseKind,
    jurisdiction: str,
    run_as: str,
    year: int | None,
    as_of: date | None,
    auto_approve: str | None,
    wait_for_approval: bool,
    approval_timeout_hours: int,
    seed: int | None,
) -> ProblemSummary:
    day = resolve_as_of(as_of)
    # the run falls after the window closes, for year-end in the next January: it assesses the
    # year whose window last opened
    y = year or flow_app(jurisdiction).policy.phases.assessed_year(phase.value, day)
    annual_cycle(
        jurisdiction=jurisdiction, run_as=run_as, year=y, phase=phase, as_of=day, seed=seed
    )
    return issue_problem_lists(
        jurisdiction=jurisdiction,
        run_as=run_as,
        year=y,
        phase=phase,
        as_of=day,
        auto_approve=auto_approve or None,
        wait_for_approval=wait_for_approval,
        approval_timeout_hours=approval_timeout_hours,
    )


@flow(name="mid-year-assessment", on_failure=[report_failure])
def mid_year_assessment(
    jurisdiction: str,
    run_as: str,
    year: int | None = None,
    as_of: date | None = None,
    auto_approve: str | None = None,
    wait_for_approval: bool = True,
    approval_timeout_hours: int = 72,
    seed: int | None = None,
) -> ProblemSummary:
    """Mid-year assessment (年中评估) of `jurisdiction`, run as the office user `run_as`:
    collection, assessment, then the problem lists, which wait for a coordinator's approval in
    the flow-run page's form unless `auto_approve` names one. `year` defaults to the year whose
    mid-year window last opened by `as_of` (today in Asia/Shanghai)."""
    return _assessment(
        PhaseKind.MID_YEAR,
        jurisdiction,
        run_as,
        year,
        as_of,
        auto_approve,
        wait_for_approval,
        approval_timeout_hours,
        seed,
    )


@flow(name="year-end-assessment", on_failure=[report_failure])
def year_end_assessment(
    jurisdiction: str,
    run_as: str,
    year: int | None = None,
    as_of: date | None = None,
    auto_approve: str | None = None,
    wait_for_approval: bool = True,
    approval_timeout_hours: int = 72,
    seed: int | None = None,
) -> ProblemSummary:
    """Year-end assessment (年底评估): as the mid-year one, for the year-end phase."""
    return _assessment(
        PhaseKind.YEAR_END,
        jurisdiction,
        run_as,
        year,
        as_of,
        auto_approve,
        wait_for_approval,
        approval_timeout_hours,
        seed,
    )


@flow(name="daily-tracking", on_failure=[report_failure])
def daily_tracking(jurisdiction: str, run_as: str, as_of: date | None = None) -> Any:
    """Daily rectification tracking (整改跟踪) of `jurisdiction`: reminders and escalations due
    by `as_of`, then a checkpoint of the audit log's hash chain (a later truncation of the log
    shows against it: `bihuan audit verify`).

    Scheduled every day; track-rectifications itself does nothing on non-working days, so a
    调休 Saturday is worked and a holiday Monday is not."""
    from bihuan.services import audit
    from bihuan.services.uow import UnitOfWork

    day = resolve_as_of(as_of)
    track = stage_flow("track-rectifications")
    summary = track(jurisdiction=jurisdiction, run_as=run_as, as_of=day)
    app = flow_app(jurisdiction)
    actor = run_actor(app, run_as, Permission.RUN_CYCLE, "record an audit checkpoint")
    with UnitOfWork(app) as uow:
        seq = audit.record_checkpoint(uow, actor, jurisdiction, day)
    get_run_logger().info("audit chain of %s checkpointed at row %s", jurisdiction, seq)
    return summary


@flow(name="january-recheck-and-results", on_failure=[report_failure])
def january_recheck_and_results(
    jurisdiction: str,
    run_as: str,
    year: int | None = None,
    as_of: date | None = None,
) -> Any:
    """January (一月): re-check last year's rectifications into `year` (复查), then the results of
    `year - 1` (结果运用: board, consequences, report). `year` defaults to the year of `as_of`."""
    day = resolve_as_of(as_of)
    y = year or day.year
    recheck = stage_flow("recheck")
    results = stage_flow("results")
    checked = recheck(jurisdiction=jurisdiction, run_as=run_as, year=y, as_of=day)
    get_run_logger().info("re-check of %d done; results of %d next", y, y - 1)
    published = results(jurisdiction=jurisdiction, run_as=run_as, year=y - 1, as_of=day)
    return {"recheck": checked, "results": published}
