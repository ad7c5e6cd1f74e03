"""Time: the one place that reads the clock, and the business time zone (Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def utc_now() -> datetime:
    """The one place that reads the clock for timestamps; logic takes `as_of` instead."""
    return datetime.now(UTC)


def business_today() -> date:
    """Today in Asia/Shanghai, for command-line defaults only."""
    return datetime.now(BUSINESS_TZ).date()
