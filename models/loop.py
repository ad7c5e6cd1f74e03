"""The closed loop: findings, problem lists (问题清单), rectification items (整改台账) and history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.cycle
import models.org  # noqa: F401
from models.base import UTCDateTime, enum_col, utc_now
from models.enums import (
    EscalationLevel,
    FindingCategory,
    FindingStatus,
    PhaseKind,
    ProblemListStatus,
    RectificationStatus,
    Severity,
)


class Finding(SQLModel, table=True):
    """A problem found; `key` is natural (rule + subject) so a re-run never duplicates it."""

    __table_args__ = (UniqueConstraint("cycle_id", "department_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    phase_kind: PhaseKind = Field(sa_type=enum_col())
    department_id: int = Field(foreign_key="department.id", index=True)
    key: str = Field(max_length=120)
    category: FindingCategory = Field(sa_type=enum_col())
    severity: Severity = Field(sa_type=enum_col())
    source: str = Field(max_length=120)
    title: str = Field(max_length=300)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: FindingStatus = Field(default=FindingStatus.PROPOSED, sa_type=enum_col())
    dropped_reason: str = Field(default="", max_length=300)
    carried_from_id: int | None = Field(default=None, foreign_key="finding.id")
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class ProblemList(SQLModel, table=True):
    """The problem list sent to one department for one phase."""

    __table_args__ = (UniqueConstraint("cycle_id", "phase_kind", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    phase_kind: PhaseKind = Field(sa_type=enum_col())
    department_id: int = Field(foreign_key="department.id", index=True)
    status: ProblemListStatus = Field(default=ProblemListStatus.DRAFT, sa_type=enum_col())
    issued_on: date | None = None
    approved_by: str = Field(default="", max_length=100)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RectificationItem(SQLModel, table=True):
    """One rectification item per finding; `version` guards against lost updates."""

    __table_args__ = (UniqueConstraint("finding_id"),)
    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="finding.id")
    department_id: int = Field(foreign_key="department.id", index=True)
    supervising_section: str = Field(max_length=100)
    measures: str = Field(default="", max_length=1000)
    issued_on: date
    deadline: date
    status: RectificationStatus = Field(default=RectificationStatus.OPEN, sa_type=enum_col())
    escalation_level: EscalationLevel | None = Field(default=None, sa_type=enum_col())
    last_response_on: date | None = None
    extensions: int = 0
    # the first provisional year (暂定) the deadline was counted over, None when it is official;
    # set by the tracker, which re-counts the deadline when that year becomes official
    deadline_provisional_from: int | None = None
    explanation: str = Field(default="", max_length=1000)
    alternative: str = Field(default="", max_length=1000)
    closed_on: date | None = None
    version: int = 1
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # a department's pending extension request (申请延期), until the office grants or declines it
    extension_request_days: int | None = None
    extension_requested_on: date | None = None
    extension_request_reason: str = Field(default="", max_length=1000)


class RectificationEvent(SQLModel, table=True):
    """The status history of an item: every transition, who, when and why."""

    __table_args__ = (UniqueConstraint("item_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="rectificationitem.id", index=True)
    seq: int
    from_status: RectificationStatus | None = Field(default=None, sa_type=enum_col())
    to_status: RectificationStatus = Field(sa_type=enum_col())
    actor: str = Field(max_length=100)
    on_date: date
    reason: str = Field(default="", max_length=1000)
    evidence: list[Any] = Field(default_factory=list, sa_type=JSON)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
