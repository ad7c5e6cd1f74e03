"""The notification outbox: written with the change that causes it, sent by the dispatcher."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.org  # noqa: F401
from models.base import UTCDateTime, enum_col, utc_now
from models.enums import NotificationStatus


class Notification(SQLModel, table=True):
    """One message to one recipient tag; `idempotency_key` = (item or digest, step, recipient)."""

    # a department's rows of one kind (e.g. the reminder markers of its items, which the
    # portal counts per item) without reading the whole outbox
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_notification_department_kind", "department_id", "kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id", index=True)
    idempotency_key: str = Field(max_length=200)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    recipient_tag: str = Field(max_length=100)
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=300)
    body: str
    # a file under var/ sent with the message (the problem list's rectification workbook);
    # "" for none
    attachment: str = Field(default="", max_length=300)
    business_date: date
    status: NotificationStatus = Field(
        default=NotificationStatus.PENDING, sa_type=enum_col(), index=True
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NotificationAttempt(SQLModel, table=True):
    """Every delivery attempt and its outcome (errors with secrets masked)."""

    __table_args__ = (UniqueConstraint("notification_id", "attempt_no"),)
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    attempt_no: int
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    ok: bool
    error: str = Field(default="", max_length=500)


class NotificationDelivery(SQLModel, table=True):
    """What one URL of a message's tag answered (one row per message and URL): a retry sends
    only to the URLs that have not received the message. `target_key` is a one-way hash of the
    URL without its password (notifications.channels.target_key); the URL is never stored."""

    __table_args__ = (UniqueConstraint("notification_id", "target_key"),)
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    target_key: str = Field(max_length=64)
    ok: bool
    at: datetime = Field(sa_type=UTCDateTime)
    error: str = Field(default="", max_length=500)
