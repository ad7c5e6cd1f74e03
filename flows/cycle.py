"""annual-cycle: the stages of a phase in order (collection, assessment, and what later stages add)."""

from __future__ import annotations

from datetime import date

from prefect import flow

from bihuan.services.assessment import CycleResult
from bihuan.vocab import PhaseKind
from flows.assess import assess
from flows.collect import collect_indicators
from flows.common import flow_app, parse_phase, resolve_as_of
from flows.runners import make_task_runner


@flow(name="annual-cycle", flow_run_name="annual-cycle-{jurisdiction}-{year}-{phase}")
def annual_cycle(
    jurisdiction: str,
    run_as: str,
    year: int,
    phase: PhaseKind = PhaseKind.MID_YEAR,
    as_of: date | None = None,
    seed: int | None = None,
) -> CycleResult:
    """Run a phase's stages in order: indicator collection, then assessment, as `run_as`."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    collection = collect_indicators(
        jurisdiction=jurisdiction, run_as=run_as, year=year, phase=kind, as_of=day
    )
    settings = flow_app(jurisdiction).settings
    runner = make_task_runner(
        settings.task_runner,
        workers=settings.task_runner_workers,
        env={"BIHUAN_DATABASE_URL": settings.db_url},
    )
    assessment = assess.with_options(task_runner=runner)(
        jurisdiction=jurisdiction, run_as=run_as, year=year, phase=kind, as_of=day, seed=seed
    )
    return CycleResult(collection=collection, assessment=assessment)
