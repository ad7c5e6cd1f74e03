"""The outbox's rules (发件箱): when a message is due, what a delivery attempt leads to, and
what every message carries so a recipient can recognise a repeat.

Pure: the dispatcher (bihuan.services.notifications) reads its clock (a `Clock`, injected) at
every claim and every outcome and passes the time in; the repository stores what these
functions decide; the sender (notifications.channels) applies `SendLimits` and keeps a
`CircuitBreaker` per channel for the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bihuan.clock import BUSINESS_TZ
from bihuan.vocab import NotificationStatus

DEFAULT_LEASE_MINUTES = 15
ERROR_MAX = 500  # characters of an error kept with a message and its attempts

Clock = Callable[[], datetime]
"""What the dispatcher asks for the time, at every claim and every outcome."""


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
    attachment: str = ""  # a file under var/ sent with it (e.g. the rectification workbook)
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
    """The time a dispatcher run for business day `as_of` starts at.

    A run for today uses the real clock, so the backoff between attempts works in real time; a
    run for a past day (the demo and tests simulate the calendar) starts at the start of that
    day, so rows of that day and earlier are due and a retry after backoff comes due on the next
    simulated day. A run for a future day is clamped to the real clock: the dispatcher never
    sends tomorrow's messages today (they stay pending until their day begins)."""
    if as_of < business_day(real_now):
        return start_of(as_of)
    return real_now


def business_day(moment: datetime) -> date:
    """The business day (Asia/Shanghai) of a moment."""
    return moment.astimezone(BUSINESS_TZ).date()


def is_future(as_of: date, real_now: datetime) -> bool:
    """Whether `as_of` is after today (the dispatcher then clamps to the real clock)."""
    return as_of > business_day(real_now)


def run_clock(as_of: date, real_now: Clock, elapsed: Callable[[], float]) -> Clock:
    """The clock of one dispatcher run for `as_of`, read at every claim and every outcome.

    Today (or a future day, clamped): the real clock. A past day (a simulated calendar): the
    start of that day plus the real time elapsed since the run began (`elapsed()` in seconds,
    a monotonic counter), so leases, `sent_at` and backoff still follow the real passing of
    time within the run."""
    started = real_now()
    if as_of >= business_day(started):
        return real_now
    origin = start_of(as_of)
    zero = elapsed()
    return lambda: origin + timedelta(seconds=elapsed() - zero)


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


# ------------------------------------------------------------------ what a message carries


def notice_number(notification_id: int) -> str:
    """The stable number of one outbox row (通知编号): the same on every attempt, so a recipient
    who gets a message twice can see it is the same notice."""
    return f"N-{notification_id}"


NOTICE_LINE = "通知编号 {number}（编号相同的通知为同一通知的重发，请以先收到的为准）"


def with_notice(body: str, notification_id: int) -> str:
    """The body as sent: the stored body with its notice number in a footer line. Added at send
    time, so the stored text (and its meaning) stays what the use case wrote."""
    return f"{body.rstrip()}\n\n{NOTICE_LINE.format(number=notice_number(notification_id))}"


_MSGID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def message_id(jurisdiction: str, notification_id: int, domain: str) -> str:
    """The e-mail Message-ID of one outbox row, `<bihuan-<jurisdiction>-<id>@<domain>>`: the
    same on every attempt, so a mail client shows a repeat as the same message."""
    local = _MSGID_UNSAFE.sub("-", jurisdiction).strip("-") or "x"
    host = _MSGID_UNSAFE.sub("-", domain).strip("-.") or "localhost"
    return f"<bihuan-{local}-{notification_id}@{host}>"


# ------------------------------------------------------------------ sending: limits and results


@dataclass(frozen=True, slots=True)
class SendLimits:
    """What bounds one dispatcher run's sends (policy `[reminders]`)."""

    connect_timeout: float = 5.0  # seconds to open a connection (TCP, TLS)
    read_timeout: float = 10.0  # seconds to wait for any one reply
    breaker_failures: int = 3  # consecutive connection failures that close a channel for the run


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message as the sender gets it: the body already carries its notice number."""

    tag: str
    subject: str
    body: str
    notification_id: int | None = None
    jurisdiction: str = ""
    # target keys (see notifications.channels.target_key) that already received this message
    delivered: frozenset[str] = frozenset()
    attachment: str = ""  # the full path of a file to send with it, "" for none
    # the department contact's e-mail (contact_email) when the tag is its contact's: where the
    # office's SMTP account sends it if the tag has no channel of its own
    email: str = ""

    @property
    def notice(self) -> str | None:
        return notice_number(self.notification_id) if self.notification_id is not None else None


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What happened at one URL of a tag. `key` is a one-way hash, never the URL."""

    key: str
    ok: bool
    error: str = ""  # masked
    skipped: bool = False  # not tried: its channel's circuit is open for this run
    earlier: bool = False  # not sent again: an earlier attempt delivered it


class CircuitBreaker:
    """Per-run memory of channels that fail to connect: after `threshold` consecutive
    connection failures of one channel, the rest of the run skips it (its rows wait for the next
    run) instead of paying a timeout per message."""

    def __init__(self, threshold: int) -> None:
        self.threshold = max(1, threshold)
        self._failures: dict[str, int] = {}
        self.opened: list[str] = []  # channels closed in this run, in order

    def allows(self, channel: str) -> bool:
        return self._failures.get(channel, 0) < self.threshold

    def record(self, channel: str, *, connection_failed: bool) -> None:
        if not connection_failed:
            self._failures[channel] = 0
            return
        count = self._failures.get(channel, 0) + 1
        self._failures[channel] = count
        if count == self.threshold:
            self.opened.append(channel)


@dataclass(frozen=True, slots=True)
class WritePatience:
    """How long the dispatcher keeps retrying the write of an outcome (never the send) while
    the database is busy: the waits between tries, bounded by `total` seconds."""

    waits: Sequence[float] = field(default_factory=lambda: (0.5, 1, 2, 5, 10, 20, 30))
    total: float = 300.0

    def schedule(self) -> list[float]:
        """The waits to use, cut so their sum stays within `total` (the last repeats)."""
        out: list[float] = []
        spent = 0.0
        steps = list(self.waits) or [1.0]
        i = 0
        while True:
            wait = steps[min(i, len(steps) - 1)]
            if spent + wait > self.total:
                return out
            out.append(wait)
            spent += wait
            i += 1


__all__ = [
    "DEFAULT_LEASE_MINUTES",
    "ERROR_MAX",
    "NOTICE_LINE",
    "RESENDABLE",
    "CircuitBreaker",
    "Clock",
    "NewMessage",
    "Outcome",
    "Outgoing",
    "SendLimits",
    "TargetResult",
    "WritePatience",
    "after_attempt",
    "business_day",
    "dispatch_clock",
    "is_future",
    "message_id",
    "notice_number",
    "retry_delay",
    "run_clock",
    "start_of",
    "with_notice",
]
