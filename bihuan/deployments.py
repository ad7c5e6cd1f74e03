"""The scheduled deployments (定时运行): which flow runs when, in the policy's time zone.

`deployment_specs` is plain data (for `bihuan deployments` and tests); `build_deployments` turns
it into Prefect deployments, either served by `bihuan serve` (runs execute in the serving
process's machine) or registered to a work pool for workers (`bihuan deploy --work-pool P`).
Each deployment has one schedule per jurisdiction, whose parameters name that jurisdiction and
the office service account the runs act for (`run_as`); the database URL is never a parameter
or a job variable (Prefect stores and shows those): runs read it from the environment of whoever
runs them (BIHUAN_DATABASE_URL, or the installation's bihuan.env).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bihuan.policy import Policy

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

TAG = "bihuan"


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: the flow (by entrypoint), its cron schedule and default parameters."""

    name: str
    flow_name: str
    entrypoint: str  # path:function, relative to the checkout (for workers)
    cron: str
    timezone: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # stage flows of other modules the run calls
    jurisdictions: tuple[str, ...] = ()  # one schedule each, with its own parameters
    run_as: str = ""

    @property
    def full_name(self) -> str:
        """What `prefect deployment run` takes: '<flow name>/<deployment name>'."""
        return f"{self.flow_name}/{self.name}"

    @property
    def function(self) -> str:
        return self.entrypoint.split(":", 1)[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "full_name": self.full_name,
            "needs": list(self.needs),
            "jurisdictions": list(self.jurisdictions),
        }


def deployment_specs(
    policy: Policy, *, jurisdictions: Sequence[str] = (), run_as: str = ""
) -> list[DeploymentSpec]:
    """The four scheduled deployments, with cron strings from config/policy.toml [schedules]
    (the assessment runs derived from [phases]: after each window closes), each scheduled for
    every jurisdiction given and run as the office user `run_as`."""
    s = policy.schedules
    approval = {"wait_for_approval": True, "approval_timeout_hours": 72}
    specs = [
        DeploymentSpec(
            name="mid-year-assessment",
            flow_name="mid-year-assessment",
            entrypoint="flows/scheduled.py:mid_year_assessment",
            cron=s.assessment_cron("mid-year", policy.phases),
            timezone=s.timezone,
            description="年中评估: collection, assessment, problem lists awaiting approval",
            parameters=dict(approval),
        ),
        DeploymentSpec(
            name="year-end-assessment",
            flow_name="year-end-assessment",
            entrypoint="flows/scheduled.py:year_end_assessment",
            cron=s.assessment_cron("year-end", policy.phases),
            timezone=s.timezone,
            description="年底评估: collection, assessment, problem lists awaiting approval",
            parameters=dict(approval),
        ),
        DeploymentSpec(
            name="daily-tracking",
            flow_name="daily-tracking",
            entrypoint="flows/scheduled.py:daily_tracking",
            cron=s.track,
            timezone=s.timezone,
            description="整改跟踪: reminders and escalations (skips non-working days)",
            needs=("track-rectifications",),
        ),
        DeploymentSpec(
            name="january-recheck-and-results",
            flow_name="january-recheck-and-results",
            entrypoint="flows/scheduled.py:january_recheck_and_results",
            cron=s.recheck,
            timezone=s.timezone,
            description="复查 and 结果运用: re-check last year's items, then last year's results",
            needs=("recheck", "results"),
        ),
    ]
    return [replace(spec, jurisdictions=tuple(jurisdictions), run_as=run_as) for spec in specs]


def schedule_parameters(spec: DeploymentSpec, jurisdiction: str) -> dict[str, Any]:
    """The parameters of one jurisdiction's schedule of a deployment."""
    return {**spec.parameters, "jurisdiction": jurisdiction, "run_as": spec.run_as}


def build_deployments(
    policy: Policy,
    *,
    jurisdictions: Sequence[str],
    run_as: str,
    work_pool: str | None = None,
) -> list[RunnerDeployment]:
    """Prefect deployments for `deployment_specs(...)`, each with one Cron schedule per
    jurisdiction in the policy's time zone. With `work_pool`, they are bound to that pool and
    tell the worker to run the code from this checkout (which the workers' machines must share,
    at the same path)."""
    from pathlib import Path

    from prefect.runner.storage import LocalStorage
    from prefect.schedules import Cron

    import flows.scheduled as scheduled

    code_root = Path(scheduled.__file__).resolve().parents[1]
    out = []
    if not jurisdictions or not run_as:
        raise ValueError("deployments need their jurisdictions and the user they run as")
    for spec in deployment_specs(policy, jurisdictions=jurisdictions, run_as=run_as):
        flow = getattr(scheduled, spec.function)
        deployment = flow.to_deployment(
            name=spec.name,
            schedules=[
                Cron(spec.cron, timezone=spec.timezone, parameters=schedule_parameters(spec, j))
                for j in spec.jurisdictions
            ],
            # a manual run from the UI starts from the first jurisdiction's parameters
            parameters=schedule_parameters(spec, spec.jurisdictions[0]),
            description=spec.description,
            tags=[TAG],
            work_pool_name=work_pool,
        )
        if work_pool:
            # A worker starts each run in a fresh process: it changes into the checkout (the
            # pull step) and loads the flow from a path relative to it, whatever the cwd of
            # whoever registered the deployment was.
            deployment.entrypoint = spec.entrypoint
            deployment.storage = LocalStorage(path=str(code_root))
        out.append(deployment)
    return out
