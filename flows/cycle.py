"""annual-cycle: the stages of a phase in order (collection, assessment, and what later stages add)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from prefect import flow

from flows.assess import AssessmentSummary, assess
from flows.collect import CollectionSummary, collect_indicators
from flows.common import flow_context, parse_phase, resolve_as_of
from flows.runners import make_task_runner
from models import PhaseKind


@dataclass
class CycleSummary:
    collection: CollectionSummary
    assessment: AssessmentSummary


@flow(name="annual-cycle", flow_run_name="annual-cycle-{year}-{phase}")
def annual_cycle(
    year: int,
    phase: PhaseKind = PhaseKind.MID_YEAR,
    as_of: date | None = None,
    triggered_by: str = "scheduler",
    seed: int | None = None,
) -> CycleSummary:
    """Run a phase's stages in order: indicator collection, then assessment."""
    kind = parse_phase(phase)
    day = resolve_as_of(as_of)
    collection = collect_indicators(year=year, phase=kind, as_of=day)
    settings = flow_context().settings
    runner = make_task_runner(settings.task_runner, workers=settings.task_runner_workers)
    assessment = assess.with_options(task_runner=runner)(
        year=year, phase=kind, as_of=day, triggered_by=triggered_by, seed=seed
    )
    return CycleSummary(collection=collection, assessment=assessment)
