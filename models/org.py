"""Who takes part: jurisdictions, departments and their sections, towns, teams, commissioners."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, enum_col, utc_now
from models.enums import Category


class Jurisdiction(SQLModel, table=True):
    """A county (县), city or province office; every query is scoped by one."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    level: str = Field(default="county", max_length=16)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class DepartmentBase(SQLModel):
    code: str = Field(max_length=32)
    name: str = Field(max_length=100)
    category: Category = Field(sa_type=enum_col())
    head_name: str = Field(default="", max_length=50)
    contact_name: str = Field(default="", max_length=50)
    contact_phone: str = Field(default="", max_length=50)
    contact_email: str = Field(default="", max_length=200)
    # apprise tags (comma separated) that reach this department's contact and head
    notify_tags: str = Field(default="", max_length=200)
    active: bool = True


class Department(DepartmentBase, table=True):
    """A county-level department (县直部门单位)."""

    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    team_id: int | None = Field(default=None, foreign_key="assessmentteam.id")
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class DepartmentPublic(DepartmentBase):
    team: str | None = None


class BusinessSection(SQLModel, table=True):
    """A business section (业务科室) of a department; 13 key tasks each."""

    __table_args__ = (UniqueConstraint("department_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=100)
    active: bool = True


class Town(SQLModel, table=True):
    """A township or sub-district (乡镇街道) that rates county departments."""

    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=100)


class AssessmentTeam(SQLModel, table=True):
    """A supervision-assessment team (监管评估小组) contracting a set of departments (包干联系)."""

    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=100)
    category: Category = Field(sa_type=enum_col())


class Commissioner(SQLModel, table=True):
    """An assessment commissioner or inspector (评估专员) in the draw pool."""

    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=50)
    team_id: int | None = Field(default=None, foreign_key="assessmentteam.id")
    # conflict of interest: never drawn to inspect their own former department
    former_department_id: int | None = Field(default=None, foreign_key="department.id")
    active: bool = True
