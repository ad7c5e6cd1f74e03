"""The yearly cycle and its performance ledger (年度, 履职台账): cycles, phases, indicators."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from models import BusinessSection, Cycle, Department, Indicator


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
