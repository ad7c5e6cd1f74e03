"""The performance ledger (主责主业履职成效核查台账), staffing checks and submissions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.cycle
import models.org  # noqa: F401
from models.base import UTCDateTime, enum_col, utc_now
from models.enums import (
    Direction,
    IndicatorKind,
    Method,
    QualitativeLevel,
    StaffingCheckKind,
    StaffingProblem,
    SubmissionStatus,
)


class IndicatorBase(SQLModel):
    code: str = Field(max_length=64)
    name: str = Field(max_length=300)
    kind: IndicatorKind = Field(sa_type=enum_col())
    unit: str = Field(default="", max_length=32)
    direction: Direction = Field(default=Direction.HIGHER_BETTER, sa_type=enum_col())
    target: float | None = None
    weight: float = 1.0
    source_document: str = Field(default="", max_length=300)
    # Mid-year like with like (年中同口径比较): last year's value at the same point of the year
    # (同期值) and a mid-year target (年中目标); `cumulative` (累计指标) says the value adds up over
    # the year, None leaves it to the unit rule of [scoring.quantitative] rate_units.
    same_period_value: float | None = None
    mid_year_target: float | None = None
    cumulative: bool | None = None


class Indicator(IndicatorBase, table=True):
    """A measurable key task (重点工作任务) of a business section, for one year."""

    __table_args__ = (
        UniqueConstraint("cycle_id", "code"),
        # scoring loads a batch of departments' indicators (migration 0012): without it a
        # batch scans the whole cycle's indicators, quadratic in the jurisdiction's size
        Index("ix_indicator_cycle_department", "cycle_id", "department_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    section_id: int = Field(foreign_key="businesssection.id", index=True)


class IndicatorHistory(SQLModel, table=True):
    """A prior-year value of a quantitative indicator (纵向比对的往年数据)."""

    __table_args__ = (UniqueConstraint("indicator_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    year: int
    value: float
    source: str = Field(default="import", max_length=32)


class StaffingCheck(SQLModel, table=True):
    """One of the five staffing-execution checks (机构编制执行情况) of a department in a phase."""

    __table_args__ = (UniqueConstraint("phase_id", "department_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    kind: StaffingCheckKind = Field(sa_type=enum_col())
    problems: int = 0
    problem_type: StaffingProblem | None = Field(default=None, sa_type=enum_col())
    note: str = Field(default="", max_length=500)


class SubmissionRequest(SQLModel, table=True):
    """One request per department and phase; missing when the window closes unanswered."""

    __table_args__ = (UniqueConstraint("phase_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    status: SubmissionStatus = Field(default=SubmissionStatus.REQUESTED, sa_type=enum_col())
    requested_on: date
    due_on: date
    submitted_on: date | None = None


class Submission(SQLModel, table=True):
    """A department's reported result for one indicator in one phase, with method and evidence."""

    __table_args__ = (UniqueConstraint("phase_id", "indicator_id"),)
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    value: float | None = None
    level: QualitativeLevel | None = Field(default=None, sa_type=enum_col())
    method: Method = Field(default=Method.MATERIAL, sa_type=enum_col())
    evidence: str = Field(default="", max_length=500)
    submitted_on: date
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
