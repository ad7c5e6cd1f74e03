"""SQLModel tables of the whole cycle, one module per aggregate; importing this registers all."""

from sqlmodel import SQLModel

from models.assessment import DepartmentAssessment
from models.audit import AuditCheckpoint, AuditHead, AuditLog, JobState
from models.base import BUSINESS_TZ, UTCDateTime, business_today, utc_now
from models.central import CentralTask, CentralTaskLink, CentralTaskResult
from models.cycle import Cycle, Phase
from models.draw import OnsiteAssignment, OnsiteDraw
from models.enums import *  # noqa: F403
from models.identity import User
from models.ledger import (
    Indicator,
    IndicatorHistory,
    StaffingCheck,
    Submission,
    SubmissionRequest,
)
from models.loop import Finding, ProblemList, RectificationEvent, RectificationItem
from models.notification import Notification, NotificationAttempt, NotificationDelivery
from models.org import (
    AssessmentTeam,
    BusinessSection,
    Commissioner,
    Department,
    DepartmentPublic,
    Jurisdiction,
    Town,
)
from models.results import BoardEntry, Consequence
from models.survey import HotlineCase, PeerBallot, PeerRating, PublicRating, TownRating
from models.web import ApiToken, SignInFailure, WebSession

metadata = SQLModel.metadata

__all__ = [
    "BUSINESS_TZ",
    "ApiToken",
    "AssessmentTeam",
    "AuditCheckpoint",
    "AuditHead",
    "AuditLog",
    "BoardEntry",
    "BusinessSection",
    "CentralTask",
    "CentralTaskLink",
    "CentralTaskResult",
    "Commissioner",
    "Consequence",
    "Cycle",
    "Department",
    "DepartmentAssessment",
    "DepartmentPublic",
    "Finding",
    "HotlineCase",
    "Indicator",
    "IndicatorHistory",
    "JobState",
    "Jurisdiction",
    "Notification",
    "NotificationAttempt",
    "NotificationDelivery",
    "OnsiteAssignment",
    "OnsiteDraw",
    "PeerBallot",
    "PeerRating",
    "Phase",
    "ProblemList",
    "PublicRating",
    "RectificationEvent",
    "RectificationItem",
    "SignInFailure",
    "StaffingCheck",
    "Submission",
    "SubmissionRequest",
    "Town",
    "TownRating",
    "UTCDateTime",
    "User",
    "WebSession",
    "business_today",
    "metadata",
    "utc_now",
]
