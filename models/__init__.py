"""SQLModel tables of the whole cycle, one module per aggregate.

A table class loads on first use (`from models import Department` imports models.org only), so a
command that lists departments does not build all 45 table classes (issue 13.1: each costs a few
milliseconds of class construction). Whatever needs every table (`metadata`, `create_all`,
Alembic) calls `load_all()`, or reads `models.metadata`, which loads them all first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sqlmodel import SQLModel

from models.base import BUSINESS_TZ, UTCDateTime, business_today, utc_now
from models.enums import *  # noqa: F403

if TYPE_CHECKING:
    from models.assessment import DepartmentAssessment
    from models.audit import AuditCheckpoint, AuditHead, AuditLog, JobState
    from models.central import CentralTask, CentralTaskLink, CentralTaskResult
    from models.cycle import Cycle, Phase
    from models.draw import OnsiteAssignment, OnsiteDraw
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

# table class -> the module that defines it
_WHERE: dict[str, str] = {
    "DepartmentAssessment": "models.assessment",
    "AuditCheckpoint": "models.audit",
    "AuditHead": "models.audit",
    "AuditLog": "models.audit",
    "JobState": "models.audit",
    "CentralTask": "models.central",
    "CentralTaskLink": "models.central",
    "CentralTaskResult": "models.central",
    "Cycle": "models.cycle",
    "Phase": "models.cycle",
    "OnsiteAssignment": "models.draw",
    "OnsiteDraw": "models.draw",
    "User": "models.identity",
    "Indicator": "models.ledger",
    "IndicatorHistory": "models.ledger",
    "StaffingCheck": "models.ledger",
    "Submission": "models.ledger",
    "SubmissionRequest": "models.ledger",
    "Finding": "models.loop",
    "ProblemList": "models.loop",
    "RectificationEvent": "models.loop",
    "RectificationItem": "models.loop",
    "Notification": "models.notification",
    "NotificationAttempt": "models.notification",
    "NotificationDelivery": "models.notification",
    "AssessmentTeam": "models.org",
    "BusinessSection": "models.org",
    "Commissioner": "models.org",
    "Department": "models.org",
    "DepartmentPublic": "models.org",
    "Jurisdiction": "models.org",
    "Town": "models.org",
    "BoardEntry": "models.results",
    "Consequence": "models.results",
    "HotlineCase": "models.survey",
    "PeerBallot": "models.survey",
    "PeerRating": "models.survey",
    "PublicRating": "models.survey",
    "TownRating": "models.survey",
    "ApiToken": "models.web",
    "SignInFailure": "models.web",
    "WebSession": "models.web",
}


def load_all() -> type[SQLModel]:
    """Import every table module, so that SQLModel.metadata holds the whole schema."""
    for module in sorted(set(_WHERE.values())):
        importlib.import_module(module)
    return SQLModel


def __getattr__(name: str) -> Any:
    if name == "metadata":
        return load_all().metadata
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
    "load_all",
    "metadata",
    "utc_now",
]
