"""Organisation use cases: the departments (部门) and ledger indicators (台账指标) of a jurisdiction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from bihuan.core.access import Actor, Permission, Target, listing, visible_department
from bihuan.errors import UserError
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Category, Direction, IndicatorKind

if TYPE_CHECKING:
    from bihuan.repositories.ledger import IndicatorView
    from bihuan.repositories.org import DepartmentView


class DepartmentRow(BaseModel):
    """One department, as `bihuan departments --json` and GET /api/v1/departments show it."""

    code: str
    name: str
    category: Category
    category_label: str
    team: str | None
    head_name: str
    contact_name: str
    notify_tags: str
    active: bool


class IndicatorRow(BaseModel):
    """One indicator of the performance ledger (履职台账)."""

    code: str
    department: str
    section: str
    name: str
    kind: IndicatorKind
    kind_label: str
    unit: str
    direction: Direction
    target: float | None
    weight: float
    source_document: str


class DepartmentLedger(BaseModel):
    """A department's page in the portal: the department and its ledger of one year."""

    department: DepartmentRow
    year: int | None  # None: no ledger imported yet
    years: list[int]  # the years with a ledger, newest first
    indicators: list[IndicatorRow]


def _department_row(d: DepartmentView) -> DepartmentRow:
    return DepartmentRow(
        code=d.code,
        name=d.name,
        category=Category(d.category),
        category_label=Category(d.category).label,
        team=d.team,
        head_name=d.head_name,
        contact_name=d.contact_name,
        notify_tags=d.notify_tags,
        active=d.active,
    )


def _indicator_row(i: IndicatorView) -> IndicatorRow:
    return IndicatorRow(
        code=i.code,
        department=i.department,
        section=i.section,
        name=i.name,
        kind=IndicatorKind(i.kind),
        kind_label=IndicatorKind(i.kind).label,
        unit=i.unit,
        direction=Direction(i.direction),
        target=i.target,
        weight=i.weight,
        source_document=i.source_document,
    )


def list_departments(uow: UnitOfWork, actor: Actor, jurisdiction: str) -> list[DepartmentRow]:
    """Every department of the jurisdiction; a department user sees only its own."""
    jur = uow.jurisdictions.require(jurisdiction)
    require(uow, actor, Permission.READ_CYCLE, listing(jur.id), action="list departments")
    assert jur.id is not None
    return [
        _department_row(d) for d in uow.departments.views(jur.id, only=visible_department(actor))
    ]


def _ledger_target(
    actor: Actor, jurisdiction_id: int, department_id: int | None, code: str
) -> Target:
    """Ledgers are read like listings: every reading role sees every department's (a section
    user's scope is its items, not the departments), a department user only its own."""
    if department_id is None or visible_department(actor) is None:
        return listing(jurisdiction_id)
    return Target(
        jurisdiction_id=jurisdiction_id, department_id=department_id, what=f"department {code}"
    )


def department_ledger(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, code: str, year: int | None = None
) -> DepartmentLedger:
    """One department with its ledger of `year` (default: the newest). A department that does
    not exist is NotFound; one the user may not see is refused as out of scope, which the
    portal answers the same way."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    dept = uow.departments.require_code(jur.id, code)
    require(
        uow,
        actor,
        Permission.READ_CYCLE,
        _ledger_target(actor, jur.id, dept.id, code),
        action=f"read the ledger of {code}",
    )
    years = uow.ledger.years(jur.id)
    chosen = year if year is not None else (years[0] if years else None)
    cycle = uow.ledger.cycle(jur.id, chosen) if chosen is not None else None
    indicators = (
        uow.ledger.indicators(cycle.id, department_id=dept.id)
        if cycle is not None and cycle.id is not None
        else []
    )
    return DepartmentLedger(
        department=_department_row(uow.departments.views(jur.id, only=dept.id)[0]),
        year=chosen if cycle is not None else None,
        years=years,
        indicators=[_indicator_row(i) for i in indicators],
    )


def list_indicators(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, year: int, department: str | None = None
) -> list[IndicatorRow]:
    """The ledger of a year, optionally of one department; a department user sees only its own."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    dept_id = None
    if department:
        dept_id = uow.departments.require_code(jur.id, department).id
    require(
        uow,
        actor,
        Permission.READ_CYCLE,
        _ledger_target(actor, jur.id, dept_id, department or ""),
        action=f"list the {year} indicators" + (f" of {department}" if department else ""),
    )
    only = visible_department(actor)
    if only is not None:
        dept_id = only
    cycle = uow.ledger.cycle(jur.id, year)
    if cycle is None or cycle.id is None:
        raise UserError(
            f"no {year} ledger for {jurisdiction!r}; import one with `bihuan import PATH --year {year}`"
        )
    return [_indicator_row(i) for i in uow.ledger.indicators(cycle.id, department_id=dept_id)]
