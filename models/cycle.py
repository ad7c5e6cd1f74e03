"""The annual cycle (年度) and its two assessment phases (年中、年底)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.org  # noqa: F401
from models.base import UTCDateTime, enum_col, utc_now
from models.enums import PhaseKind


class Cycle(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    year: int
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class Phase(SQLModel, table=True):
    """A concentrated assessment window; opened by collection, closed at its end."""

    __table_args__ = (UniqueConstraint("cycle_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    kind: PhaseKind = Field(sa_type=enum_col())
    window_start: date
    window_end: date
    opened_on: date | None = None
    closed_on: date | None = None
    assessed_on: date | None = None
