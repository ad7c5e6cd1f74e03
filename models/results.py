"""Results (结果运用): the red / yellow / green board and the consequences per department."""

from __future__ import annotations

from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.cycle
import models.org  # noqa: F401
from models.base import enum_col
from models.enums import Colour, ConsequenceKind, TieRule


class BoardEntry(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("cycle_id", "department_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    scope: str = Field(max_length=24)
    score: float
    rank: int
    colour: Colour = Field(sa_type=enum_col())
    # the tie rule (并列名次规则) that placed it below an equal score; None when not tied
    tie_rule: TieRule | None = Field(default=None, sa_type=enum_col())
    # computed before the year-end assessment (暂定): from the mid-year scores, no notices sent
    provisional: bool = False


class Consequence(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("cycle_id", "department_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    kind: ConsequenceKind = Field(sa_type=enum_col())
    detail: str = Field(default="", max_length=300)
    points: float | None = None
    due_on: date | None = None
