"""The outbox's rules (发件箱): when a message is due, and what a delivery attempt leads to.

Pure: the dispatcher (bihuan.services.notifications) reads the clock and passes `now`; the
repository stores what these functions decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bihuan.clock import BUSINESS_TZ
from bihuan.vocab import NotificationStatus

DEFAULT_LEASE_MINUTES = 15
ERROR_MAX = 500  # characters of an error kept with a message and its attempts


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to write to the outbox."""

    jurisdiction_id: int
    key: str  # idempotency key: a second message with the same key is not written
    department_id: int | None
    recipient_tag: str
    kind: str  # a NotificationKind value
    subject: str
    body: str
    business_date: date
    status: NotificationStatus = NotificationStatus.PENDING
    # due from then; default: the start of its business day (Asia/Shanghai), so a simulated
    # calendar (the demo, tests) and the real clock both work
    not_before: datetime | None = None

    @property
    def due_at(self) -> datetime:
        return self.not_before or start_of(self.business_date)


def start_of(day: date) -> datetime:
    """00:00 of a business day in Asia/Shanghai: when that day's messages become due."""
    return datetime.combine(day, time.min, tzinfo=BUSINESS_TZ)


def dispatch_clock(as_of: date, real_now: datetime) -> datetime:
    """The `now` a dispatcher run for business day `as_of` uses.

    A run for today (or a later day) uses the real clock, so the backoff between attempts works
    in real time; a run for a past day (the demo and tests simulate the calendar) uses the start
    of that day, so rows of that day and earlier are due and a retry after backoff comes due on
    the next simulated day."""
    today = real_now.astimezone(BUSINESS_TZ).date()
    if as_of < today:
        return start_of(as_of)
    return max(real_now, start_of(as_of))


def retry_delay(backoff_minutes: Sequence[int], attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based); the last step repeats."""
    if not backoff_minutes:
        return timedelta(0)
    return timedelta(minutes=backoff_minutes[min(attempt, len(backoff_minutes)) - 1])


@dataclass(frozen=True)
class Outcome:
    """Where a message goes after one attempt: its new status, and when a retry is due."""

    status: NotificationStatus
    retry_at: datetime | None = None  # only for PENDING (a retry)


def after_attempt(
    *,
    ok: bool,
    permanent: bool,
    attempt: int,
    max_attempts: int,
    backoff_minutes: Sequence[int],
    now: datetime,
) -> Outcome:
    """Sent; failed for good (a configuration error: retrying cannot help until someone fixes
    it); dead-lettered after `max_attempts`; or pending again after the backoff."""
    if ok:
        return Outcome(NotificationStatus.SENT)
    if permanent:
        return Outcome(NotificationStatus.FAILED)
    if attempt >= max_attempts:
        return Outcome(NotificationStatus.DEAD)
    return Outcome(NotificationStatus.PENDING, now + retry_delay(backoff_minutes, attempt))


RESENDABLE = frozenset({NotificationStatus.DEAD, NotificationStatus.FAILED})


__all__ = [
    "DEFAULT_LEASE_MINUTES",
    "ERROR_MAX",
    "RESENDABLE",
    "NewMessage",
    "Outcome",
    "after_attempt",
    "dispatch_clock",
    "retry_delay",
    "start_of",
]
