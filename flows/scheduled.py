"""Scheduled entry points: the flows the deployments run, with "this year" resolved at run time.

A cron schedule cannot know which year it is, so these wrappers take `year: int | None = None`,
meaning the year of `as_of` (default: today in Asia/Shanghai), and call the stage flows in order.
The stage flows of later issues (track, recheck, results) are looked up when a run starts, by
their Prefect flow name, so this module imports even while they are missing and a run names the
missing module instead of failing with an ImportError.
"""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

from prefect import Flow, flow, get_run_logger

from bihuan.errors import UserError
from flows.common import flow_app, resolve_as_of
from flows.cycle import annual_cycle
from flows.problems import ProblemSummary, issue_problem_lists
from models import PhaseKind

# Prefect flow name -> the module that defines it (issues 4 and 5).
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


def _assessment(
    phase: PhaseKind,
    year: int | None,
    as_of: date | None,
    auto_approve: str | None,
    wait_for_approval: bool,
    approval_timeout_hours: int,
    seed: int | None,
    jurisdiction: str | None = None,
    run_as: str | None = None,
) -> ProblemSummary:
    day = resolve_as_of(as_of)
    y = year or day.year
    app = flow_app(jurisdiction or "")  # none given: the installation's BIHUAN_JURISDICTION
    login = run_as or app.settings.user
    if not login:
        raise UserError(
            "a scheduled assessment needs the login of the office (编办) user it runs as: "
            "give the deployment a `run_as` parameter, or set BIHUAN_USER for `bihuan serve`"
        )
    annual_cycle(
        jurisdiction=app.jurisdiction, run_as=login, year=y, phase=phase, as_of=day, seed=seed
    )
    return issue_problem_lists(
        jurisdiction=app.jurisdiction,
        run_as=login,
        year=y,
        phase=phase,
        as_of=day,
        auto_approve=auto_approve or None,
        wait_for_approval=wait_for_approval,
        approval_timeout_hours=approval_timeout_hours,
    )


@flow(name="mid-year-assessment")
def mid_year_assessment(
    year: int | None = None,
    as_of: date | None = None,
    auto_approve: str | None = None,
    wait_for_approval: bool = True,
    approval_timeout_hours: int = 72,
    seed: int | None = None,
    jurisdiction: str | None = None,
    run_as: str | None = None,
) -> ProblemSummary:
    """Mid-year assessment (年中评估): collection, assessment, then the problem lists, which wait
    for a coordinator's approval in the flow-run page's form unless `auto_approve` names one.
    `year` defaults to the year of `as_of` (today in Asia/Shanghai)."""
    return _assessment(
        PhaseKind.MID_YEAR,
        year,
        as_of,
        auto_approve,
        wait_for_approval,
        approval_timeout_hours,
        seed,
        jurisdiction,
        run_as,
    )


@flow(name="year-end-assessment")
def year_end_assessment(
    year: int | None = None,
    as_of: date | None = None,
    auto_approve: str | None = None,
    wait_for_approval: bool = True,
    approval_timeout_hours: int = 72,
    seed: int | None = None,
    jurisdiction: str | None = None,
    run_as: str | None = None,
) -> ProblemSummary:
    """Year-end assessment (年底评估): as the mid-year one, for the year-end phase."""
    return _assessment(
        PhaseKind.YEAR_END,
        year,
        as_of,
        auto_approve,
        wait_for_approval,
        approval_timeout_hours,
        seed,
        jurisdiction,
        run_as,
    )


@flow(name="daily-tracking")
def daily_tracking(
    as_of: date | None = None, jurisdiction: str | None = None, run_as: str | None = None
) -> Any:
    """Daily rectification tracking (整改跟踪): reminders and escalations due by `as_of`.

    Scheduled every day; track-rectifications itself does nothing on non-working days, so a
    调休 Saturday is worked and a holiday Monday is not. `jurisdiction` and `run_as` (an office
    user) default to the settings' BIHUAN_JURISDICTION and BIHUAN_USER."""
    from bihuan.settings import get_settings

    settings = get_settings()
    user = run_as or settings.user
    if not user:
        raise UserError(
            "daily-tracking needs the office user it runs as: give the run_as parameter or set "
            "BIHUAN_USER for `bihuan serve`"
        )
    track = stage_flow("track-rectifications")
    return track(
        jurisdiction=jurisdiction or settings.jurisdiction,
        run_as=user,
        as_of=resolve_as_of(as_of),
    )


@flow(name="january-recheck-and-results")
def january_recheck_and_results(
    jurisdiction: str | None = None,
    run_as: str | None = None,
    year: int | None = None,
    as_of: date | None = None,
) -> Any:
    """January (一月): re-check last year's rectifications into `year` (复查), then the results of
    `year - 1` (结果运用: board, consequences, report). `year` defaults to the year of `as_of`;
    `jurisdiction` and `run_as` (an office user's login) default to the serving process's
    BIHUAN_JURISDICTION and BIHUAN_USER."""
    from bihuan.app import app_context

    settings = app_context().settings
    jur = jurisdiction or settings.jurisdiction
    login = run_as or settings.user
    if not login:
        raise UserError(
            "january-recheck-and-results: give run_as (an office user's login) as a deployment "
            "parameter, or set BIHUAN_USER for the process that serves the deployments"
        )
    day = resolve_as_of(as_of)
    y = year or day.year
    recheck = stage_flow("recheck")
    results = stage_flow("results")
    checked = recheck(jurisdiction=jur, run_as=login, year=y, as_of=day)
    get_run_logger().info("re-check of %d done; results of %d next", y, y - 1)
    published = results(jurisdiction=jur, run_as=login, year=y - 1, as_of=day)
    return {"recheck": checked, "results": published}
