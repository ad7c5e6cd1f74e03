"""The web portal's credentials: sessions of signed-in people, API tokens, failed sign-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.identity  # noqa: F401
from models.base import UTCDateTime, utc_now


class WebSession(SQLModel, table=True):
    """A signed-in browser (服务器端会话). The cookie holds a random secret; only its SHA-256
    is stored. Ends at sign-out, on revocation, after the idle or the absolute timeout."""

    __tablename__ = "websession"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="useraccount.id", index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # signed_out | revoked | disabled | password_changed | password_reset
    revoked_reason: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=64)  # the client's address at sign-in
    user_agent: str = Field(default="", max_length=200)


class ApiToken(SQLModel, table=True):
    """A personal access token (访问令牌) for a machine client of the REST API: it acts as its
    user, with the user's role and scope. Shown once; only its SHA-256 and a short prefix
    (to tell tokens apart in listings) are stored."""

    __tablename__ = "apitoken"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="useraccount.id", index=True)
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="useraccount.id")
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignInFailure(SQLModel, table=True):
    """One failed portal sign-in, counted per login and per address for throttling (the
    audit log keeps the history; this small table is pruned)."""

    __tablename__ = "signinfailure"
    __table_args__ = (
        Index("ix_signinfailure_login_at", "login", "at"),
        Index("ix_signinfailure_address_at", "address", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64)
    address: str = Field(default="", max_length=64)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
