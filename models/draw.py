"""Double-random on-site draws (双随机): which departments, which inspectors, from which seed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.cycle
import models.org  # noqa: F401
from models.base import UTCDateTime, utc_now


class OnsiteDraw(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("phase_id"),)
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id")
    seed: int
    share: float
    triggered_by: str = Field(max_length=100)
    candidates: list[Any] = Field(default_factory=list, sa_type=JSON)
    exclusions: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    drawn_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class OnsiteAssignment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("draw_id", "department_id", "commissioner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    draw_id: int = Field(foreign_key="onsitedraw.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    commissioner_id: int = Field(foreign_key="commissioner.id")
