"""Ledger use cases (履职台账): the phase a stage works on, and a department's submission (报送)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from bihuan.clock import utc_now
from bihuan.core.access import Actor, Permission, Target
from bihuan.errors import UserError
from bihuan.repositories.ledger import Scope
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import IndicatorKind, Method, PhaseKind, QualitativeLevel
from models import Cycle, Jurisdiction


def require_cycle(uow: UnitOfWork, jur: Jurisdiction, year: int) -> Cycle:
    assert jur.id is not None
    cycle = uow.ledger.cycle(jur.id, year)
    if cycle is None or cycle.id is None:
        raise UserError(
            f"no {year} cycle for {jur.code!r}; import its ledger with "
            f"`bihuan import PATH --year {year}`"
        )
    return cycle


def phase_scope(
    uow: UnitOfWork, jur: Jurisdiction, year: int, kind: PhaseKind, *, create: bool = True
) -> Scope | None:
    """The jurisdiction, cycle and phase a stage works on. The phase is made from the policy's
    window (config/policy.toml [phases]) on first use; with `create=False` (reads) a phase not
    made yet is None."""
    cycle = require_cycle(uow, jur, year)
    assert cycle.id is not None
    phase = uow.ledger.phase(cycle.id, kind)
    if phase is None:
        if not create:
            return None
        window = getattr(uow.policy.phases, kind.name.lower())
        phase = uow.ledger.add_phase(cycle.id, kind, window.opens.on(year), window.closes.on(year))
    return Scope(jurisdiction=jur, cycle=cycle, phase=phase)


def require_scope(uow: UnitOfWork, jur: Jurisdiction, year: int, kind: PhaseKind) -> Scope:
    scope = phase_scope(uow, jur, year, kind)
    assert scope is not None
    return scope


# ------------------------------------------------------------------ submit (报送)


class Submit(BaseModel):
    """`bihuan submit`: one indicator's result in a phase, as the department reports it."""

    jurisdiction: str
    year: int
    phase: PhaseKind
    indicator: str = Field(min_length=1)
    value: float | None = None
    level: QualitativeLevel | None = None
    method: Method = Method.MATERIAL
    evidence: str = Field(default="", max_length=500)
    on: date | None = None  # the submission date; default as_of


class SubmissionResult(BaseModel):
    indicator: str
    department: str
    year: int
    phase: PhaseKind
    phase_label: str
    kind: IndicatorKind
    kind_label: str
    value: float | None
    level: QualitativeLevel | None
    level_label: str | None
    method: Method
    method_label: str
    evidence: str
    submitted_on: date


def submit(uow: UnitOfWork, cmd: Submit, actor: Actor, as_of: date) -> SubmissionResult:
    """Record (or replace) a department's submission for one indicator: the office for any
    department, a department user for its own department's indicators only."""
    jur = uow.jurisdictions.require(cmd.jurisdiction)
    cycle = require_cycle(uow, jur, cmd.year)
    assert cycle.id is not None
    ind = uow.assessment.indicator(cycle.id, cmd.indicator)
    require(
        uow,
        actor,
        Permission.SUBMIT,
        Target(
            jurisdiction_id=jur.id,
            department_id=ind.department_id if ind else None,
            what=f"indicator {cmd.indicator}" + (f" of {ind.department_code}" if ind else ""),
        ),
        action=f"submit {cmd.indicator} for {cmd.year} {cmd.phase.value}",
    )
    if ind is None:
        raise UserError(
            f"no indicator {cmd.indicator!r} in the {cmd.year} ledger; "
            f"see `bihuan indicators --year {cmd.year}`"
        )
    kind = IndicatorKind(ind.kind)
    if kind == IndicatorKind.QUANTITATIVE and cmd.value is None:
        raise UserError(f"{cmd.indicator} is quantitative (定量): give --value")
    if kind == IndicatorKind.QUALITATIVE and cmd.level is None:
        raise UserError(f"{cmd.indicator} is qualitative (定性): give --level")
    scope = require_scope(uow, jur, cmd.year, cmd.phase)
    value = cmd.value if kind == IndicatorKind.QUANTITATIVE else None
    level = cmd.level if kind == IndicatorKind.QUALITATIVE else None
    day = cmd.on or as_of
    uow.assessment.save_submission(
        {
            "phase_id": scope.phase_id,
            "indicator_id": ind.id,
            "value": value,
            "level": level.value if level else None,
            "method": cmd.method.value,
            "evidence": cmd.evidence,
            "submitted_on": day,
            "updated_at": utc_now(),
        }
    )
    uow.audit.record(
        actor,
        action="submit",
        entity="submission",
        key=f"{scope.key}/{ind.code}",
        jurisdiction_id=scope.jurisdiction_id,
        details={
            "department": ind.department_code,
            "value": value,
            "level": level.value if level else None,
            "method": cmd.method.value,
            "submitted_on": day,
        },
    )
    return SubmissionResult(
        indicator=ind.code,
        department=ind.department_code,
        year=cmd.year,
        phase=cmd.phase,
        phase_label=cmd.phase.label,
        kind=kind,
        kind_label=kind.label,
        value=value,
        level=level,
        level_label=level.label if level else None,
        method=cmd.method,
        method_label=cmd.method.label,
        evidence=cmd.evidence,
        submitted_on=day,
    )
