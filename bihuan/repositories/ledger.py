"""The yearly cycle and its performance ledger (年度, 履职台账): cycles, phases, indicators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bihuan.errors import UserError
from bihuan.vocab import PhaseKind
from models import BusinessSection, Cycle, Department, Indicator, Jurisdiction, Phase

if TYPE_CHECKING:
    from bihuan.app import AppContext


@dataclass(frozen=True)
class IndicatorView:
    id: int
    code: str
    department: str
    section: str
    name: str
    kind: str
    unit: str
    direction: str
    target: float | None
    weight: float
    source_document: str


class LedgerRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def cycle(self, jurisdiction_id: int, year: int) -> Cycle | None:
        return self.session.exec(
            select(Cycle).where(Cycle.jurisdiction_id == jurisdiction_id, Cycle.year == year)
        ).first()

    def years(self, jurisdiction_id: int) -> list[int]:
        """The years with a cycle, newest first."""
        return list(
            self.session.exec(
                select(Cycle.year)
                .where(Cycle.jurisdiction_id == jurisdiction_id)
                .order_by(col(Cycle.year).desc())
            )
        )

    def indicators(self, cycle_id: int, *, department_id: int | None = None) -> list[IndicatorView]:
        stmt = (
            select(Indicator, Department.code, BusinessSection.code)
            .join(Department, col(Department.id) == col(Indicator.department_id))
            .join(BusinessSection, col(BusinessSection.id) == col(Indicator.section_id))
            .where(Indicator.cycle_id == cycle_id)
            .order_by(col(Indicator.code))
        )
        if department_id is not None:
            stmt = stmt.where(Indicator.department_id == department_id)
        return [
            IndicatorView(
                id=ind.id or 0,
                code=ind.code,
                department=dcode,
                section=scode,
                name=ind.name,
                kind=ind.kind,
                unit=ind.unit,
                direction=ind.direction,
                target=ind.target,
                weight=ind.weight,
                source_document=ind.source_document,
            )
            for ind, dcode, scode in self.session.exec(stmt)
        ]

    # ------------------------------------------------------------------ phases (集中评估阶段)

    def phase(self, cycle_id: int, kind: PhaseKind) -> Phase | None:
        return self.session.exec(
            select(Phase).where(Phase.cycle_id == cycle_id, Phase.kind == kind)
        ).first()

    def add_phase(
        self, cycle_id: int, kind: PhaseKind, window_start: date, window_end: date
    ) -> Phase:
        row = Phase(cycle_id=cycle_id, kind=kind, window_start=window_start, window_end=window_end)
        self.session.add(row)
        self.session.flush()
        return row

    def save_phase(self, phase: Phase) -> None:
        """Write a phase's changed dates (opened, closed, assessed)."""
        self.session.add(phase)
        self.session.flush()


@dataclass(frozen=True)
class Scope:
    """The jurisdiction, cycle and phase a stage works on."""

    jurisdiction: Jurisdiction
    cycle: Cycle
    phase: Phase

    @property
    def jurisdiction_id(self) -> int:
        assert self.jurisdiction.id is not None
        return self.jurisdiction.id

    @property
    def cycle_id(self) -> int:
        assert self.cycle.id is not None
        return self.cycle.id

    @property
    def phase_id(self) -> int:
        assert self.phase.id is not None
        return self.phase.id

    @property
    def year(self) -> int:
        return self.cycle.year

    @property
    def key(self) -> str:
        """How the audit log names the phase: 2022/mid-year."""
        return f"{self.cycle.year}/{PhaseKind(self.phase.kind).value}"


def load_scope(session: Session, ctx: AppContext, year: int, phase: PhaseKind) -> Scope:
    """The scope of a stage, creating the phase from the policy's window on first use.

    For the modules still moving onto the services (flows/problems.py); the use cases call
    `bihuan.services.ledger.phase_scope`."""
    repo = LedgerRepo(session)
    jur = session.exec(select(Jurisdiction).where(Jurisdiction.code == ctx.jurisdiction)).first()
    if jur is None or jur.id is None:
        raise UserError(
            f"no jurisdiction {ctx.jurisdiction!r} in the database; load one with `bihuan import`"
        )
    cycle = repo.cycle(jur.id, year)
    if cycle is None or cycle.id is None:
        raise UserError(
            f"no {year} cycle for {ctx.jurisdiction!r}; import its ledger with "
            f"`bihuan import PATH --year {year}`"
        )
    row = repo.phase(cycle.id, phase)
    if row is None:
        window = getattr(ctx.policy.phases, phase.name.lower())
        row = repo.add_phase(cycle.id, phase, window.opens.on(year), window.closes.on(year))
    return Scope(jurisdiction=jur, cycle=cycle, phase=row)
