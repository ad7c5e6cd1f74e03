"""The three evaluations (三评) and 12345 hotline cases.

Peer ratings (部门互评) are anonymous in storage: a rating row holds the ratee, the phase, the day
and the scores, nothing else. "One response per rater and ratee" is enforced by a separate ballot
row holding only a one-way token, HMAC(secret, phase, rater, ratee), whose secret is not in the
database. No column joins a ballot to a rating, ids are random, and a batch is shuffled before it
is written, so nothing stored leads from a rating back to its rater.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# The modules whose tables this module's foreign keys name: a flush resolves those keys, and
# models/__init__.py loads table modules lazily, so they are imported here.
import models.cycle
import models.org  # noqa: F401
from models.base import enum_col
from models.enums import PublicLevel


class TownRating(SQLModel, table=True):
    """A town's rating of a county department (镇街道评县直) on five dimensions, 1–5."""

    __table_args__ = (
        UniqueConstraint("phase_id", "town_id", "department_id"),
        # scoring loads a batch of departments' ratings of a phase (migration 0012)
        Index("ix_townrating_phase_department", "phase_id", "department_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    town_id: int = Field(foreign_key="town.id")
    department_id: int = Field(foreign_key="department.id", index=True)
    overall: float  # 全面履职
    efficiency: float  # 运行效率
    policy_effect: float  # 政策有效性
    guidance: float  # 业务指导
    unblocking: float  # 解决基层堵点问题
    rated_on: date


class PeerBallot(SQLModel, table=True):
    """Proof that a (rater, ratee) pair has voted in a phase; nothing else."""

    __table_args__ = (UniqueConstraint("phase_id", "token"),)
    id: str = Field(primary_key=True, max_length=32)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    token: str = Field(max_length=64)


class PeerRating(SQLModel, table=True):
    """An anonymous department-to-department rating (县直部门互评) on five dimensions, 1–5."""

    __table_args__ = (Index("ix_peerrating_phase_ratee", "phase_id", "ratee_department_id"),)
    id: str = Field(primary_key=True, max_length=32)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    ratee_department_id: int = Field(foreign_key="department.id", index=True)
    style: float  # 工作作风
    efficiency: float  # 工作效率
    quality: float  # 工作质量
    cooperation: float  # 协作配合
    one_go: float  # 部门间一次办好
    rated_on: date  # the day only, never a finer timestamp


class PublicRating(SQLModel, table=True):
    """A citizen's rating (人民群众评满意) from the app survey."""

    __table_args__ = (
        UniqueConstraint("phase_id", "response_key"),
        Index("ix_publicrating_phase_department", "phase_id", "department_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="phase.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    response_key: str = Field(max_length=64)
    level: PublicLevel = Field(sa_type=enum_col())
    rated_on: date


class HotlineCase(SQLModel, table=True):
    """A 12345 government hotline case (12345政务热线受理件)."""

    __table_args__ = (
        UniqueConstraint("cycle_id", "case_no"),
        Index("ix_hotlinecase_cycle_department", "cycle_id", "department_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    case_no: str = Field(max_length=64)
    received_on: date
    due_on: date
    closed_on: date | None = None
    satisfaction: PublicLevel | None = Field(default=None, sa_type=enum_col())
    sampled_on: date | None = None
    check_note: str = Field(default="", max_length=300)
