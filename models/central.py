"""Central tasks (中心工作) assessed as a chain (链条式评估): a lead and its cooperating units."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.cycle
import models.org  # noqa: F401
from models.base import enum_col
from models.enums import LinkRole


class CentralTask(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("cycle_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    target: str = Field(default="", max_length=300)


class CentralTaskLink(SQLModel, table=True):
    """A department's link in the chain, with the duty it carries."""

    __table_args__ = (UniqueConstraint("task_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="centraltask.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    role: LinkRole = Field(sa_type=enum_col())
    duty: str = Field(default="", max_length=300)


class CentralTaskResult(SQLModel, table=True):
    """How far a link delivered its duty in a phase (0–100 %), and the shortfall it caused."""

    __table_args__ = (UniqueConstraint("phase_id", "link_id"),)
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    link_id: int = Field(foreign_key="centraltasklink.id", index=True)
    delivered_pct: float
    shortfall: str = Field(default="", max_length=300)
