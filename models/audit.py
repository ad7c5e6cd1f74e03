"""The append-only, hash-chained audit log, and small per-job state (e.g. the tracker's last run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.identity
import models.org  # noqa: F401
from models.base import UTCDateTime, utc_now


class AuditLog(SQLModel, table=True):
    """Append-only: database triggers reject UPDATE and DELETE on this table.

    Tamper-evident besides: the rows of each chain (one per jurisdiction, `chain_id` = its id,
    0 for installation-wide rows) are numbered by `seq`, and each stores `row_hash` =
    SHA-256 of its own content and of the previous row's hash (`prev_hash`), so an edited,
    removed or inserted row breaks the chain (`bihuan audit verify`).
    """

    # a unique index rather than a constraint: SQLite adds one without rebuilding the table
    # (a rebuild would drop the append-only triggers)
    __table_args__ = (Index("ux_auditlog_chain_seq", "chain_id", "seq", unique=True),)
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
    chain_id: int = 0
    seq: int = 0
    prev_hash: str = Field(default="", max_length=64)
    row_hash: str = Field(default="", max_length=64)


class AuditHead(SQLModel, table=True):
    """The newest row of each audit chain: appends lock it (one writer per chain at a time),
    and `bihuan audit verify` compares it with the rows (a truncated tail shows here)."""

    chain_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    row_hash: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class AuditCheckpoint(SQLModel, table=True):
    """A chain head recorded by the daily tracker; append-only like the log. A truncation that
    also rewrote the head would still have to remove checkpoints, which the triggers refuse."""

    __table_args__ = (UniqueConstraint("chain_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    chain_id: int = Field(index=True)
    seq: int
    row_hash: str = Field(max_length=64)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class JobState(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "job"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    job: str = Field(max_length=60)
    value: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
