"""Department assessments: the score of a phase with its breakdown down to the indicator."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.cycle
import models.org  # noqa: F401
from models.base import UTCDateTime, utc_now


class DepartmentAssessment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("phase_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    total: float
    ledger: float | None = None
    staffing: float | None = None
    central_tasks: float | None = None
    satisfaction: float | None = None
    # numbers and codes only (bihuan/core/breakdown.py); the prose is rendered when read
    breakdown: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # sha-256 of the breakdown as written: what a re-run compares (migration 0012)
    breakdown_hash: str = Field(default="", max_length=64)
    onsite: bool = False
    as_of: date
    policy_hash: str = Field(default="", max_length=64)
    computed_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
