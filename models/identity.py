"""Identity (账号与权限): the users who sign in, with a role and a scope."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.org  # noqa: F401
from models.base import UTCDateTime, enum_col, utc_now
from models.enums import UserRole


class User(SQLModel, table=True):
    """A signed-in person (or a service account without a password, e.g. the scheduler).

    Scope: `jurisdiction_id` None means every jurisdiction of the installation (admin, province
    staff); a `department` user has its department, a `section` user the name of its supervising
    section (督促科室, as in config/policy.toml [findings.sections]).
    """

    __tablename__ = "useraccount"
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=100)
    role: UserRole = Field(sa_type=enum_col())
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    section: str = Field(default="", max_length=100)
    # Argon2 (pwdlib); empty: a service account that cannot sign in
    password_hash: str = Field(default="", max_length=255)
    active: bool = True
    must_change_password: bool = False
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
