"""The append-only audit log, and small per-job state (e.g. the tracker's last run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utc_now


class AuditLog(SQLModel, table=True):
    """Append-only: database triggers reject UPDATE and DELETE on this table."""

    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int | None = Field(default=None, foreign_key="jurisdiction.id", index=True)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # the acting user; `actor` is that user's login at the time (rows from before users existed
    # have only the text)
    user_id: int | None = Field(default=None, foreign_key="useraccount.id", index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=60)
    entity_key: str = Field(max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class JobState(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "job"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    job: str = Field(max_length=60)
    value: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
