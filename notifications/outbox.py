"""The transactional outbox (发件箱): enqueue with the change that causes it, dispatch later.

Delivery guarantees, stated plainly:
- `enqueue` runs in the caller's transaction and de-duplicates on the idempotency key, so a
  re-run of the tracker, or a crash before its commit, never produces a second row.
- `dispatch` claims one row at a time in its own short transaction (an UPDATE guarded by
  `status = 'pending' AND attempts = <seen>`), so two dispatchers never send the same row.
  The claim pushes `next_attempt_at` forward by a lease; if the process dies after the claim
  and before it records the outcome, the row becomes due again when the lease ends and is sent
  again. Toward apprise this is at-least-once and cannot be better: nobody can know whether a
  message left before the crash. In the normal path every row is sent exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bihuan.db import audit, dialect_insert, session_scope
from models import BUSINESS_TZ, Department, Notification, NotificationAttempt, utc_now
from models.enums import NotificationStatus
from notifications.channels import ERROR_MAX, MASKER, DeliveryResult

DEFAULT_LEASE_MINUTES = 15


class Sender(Protocol):
    def send(self, tag: str, subject: str, body: str) -> DeliveryResult: ...


@dataclass
class DispatchReport:
    """What one dispatcher run did; `problems` lists every failed attempt (masked)."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # permanent: a configuration error (no channel for the tag)
    dead: int = 0  # dead-lettered after max_attempts
    lost_race: int = 0  # another dispatcher claimed the row first
    problems: list[dict[str, Any]] = field(default_factory=list)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BUSINESS_TZ)


def enqueue(
    session: Session,
    *,
    jurisdiction_id: int,
    key: str,
    department_id: int | None,
    recipient_tag: str,
    kind: str,
    subject: str,
    body: str,
    business_date: date,
    not_before: datetime | None = None,
) -> bool:
    """Add one message in the caller's transaction; False if the key was already there.

    It becomes due at the start of its business day (Asia/Shanghai) unless `not_before` says
    otherwise, so a simulated calendar (the demo, tests) and the real clock both work.
    """
    created = utc_now()
    values = {
        "jurisdiction_id": jurisdiction_id,
        "idempotency_key": key,
        "department_id": department_id,
        "recipient_tag": recipient_tag,
        "kind": kind,
        "subject": subject,
        "body": body,
        "business_date": business_date,
        "status": NotificationStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": not_before or _start_of(business_date),
        "last_error": "",
        "created_at": created,
    }
    stmt = (
        dialect_insert(session, Notification.__table__)  # type: ignore[attr-defined]
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT .. ON CONFLICT here.
        .returning(Notification.__table__.c.id)  # type: ignore[attr-defined]
    )
    return session.execute(stmt).first() is not None


def _due_ids(session: Session, now: datetime, limit: int | None) -> list[tuple[int, int]]:
    stmt = (
        select(Notification.id, Notification.attempts)
        .where(Notification.status == NotificationStatus.PENDING)
        .where(Notification.next_attempt_at <= now)
        .order_by(col(Notification.next_attempt_at), col(Notification.id))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(int(i), int(a)) for i, a in session.exec(stmt).all() if i is not None]


def claim(
    session: Session, *, notification_id: int, seen_attempts: int, now: datetime, lease_minutes: int
) -> bool:
    """Take one due row for sending; False if someone else took (or finished) it first."""
    stmt = (
        update(Notification)
        .where(col(Notification.id) == notification_id)
        .where(col(Notification.status) == NotificationStatus.PENDING)
        .where(col(Notification.attempts) == seen_attempts)
        .where(col(Notification.next_attempt_at) <= now)
        .values(attempts=seen_attempts + 1, next_attempt_at=now + timedelta(minutes=lease_minutes))
        .execution_options(synchronize_session=False)
    )
    result: Any = session.execute(stmt)
    return bool(result.rowcount == 1)


def _backoff(backoff_minutes: Sequence[int], attempt: int) -> timedelta:
    if not backoff_minutes:
        return timedelta(0)
    return timedelta(minutes=backoff_minutes[min(attempt, len(backoff_minutes)) - 1])


def record_outcome(
    session: Session,
    *,
    notification_id: int,
    attempt: int,
    result: DeliveryResult,
    now: datetime,
    max_attempts: int,
    backoff_minutes: Sequence[int],
) -> NotificationStatus | None:
    """Store the attempt and move the row on; None if the row was re-claimed meanwhile."""
    error = "" if result.ok else MASKER.mask(result.error or "failed without a reason")[:ERROR_MAX]
    last_no = session.exec(
        select(func.max(NotificationAttempt.attempt_no)).where(
            NotificationAttempt.notification_id == notification_id
        )
    ).one()
    session.add(
        NotificationAttempt(
            notification_id=notification_id,
            attempt_no=(last_no or 0) + 1,
            at=now,
            ok=result.ok,
            error=error,
        )
    )
    values: dict[str, Any]
    if result.ok:
        status = NotificationStatus.SENT
        values = {"status": status, "sent_at": now, "last_error": ""}
    elif result.permanent:
        status = NotificationStatus.FAILED
        values = {"status": status, "last_error": error}
    elif attempt >= max_attempts:
        status = NotificationStatus.DEAD
        values = {"status": status, "last_error": error}
    else:
        status = NotificationStatus.PENDING
        values = {"last_error": error, "next_attempt_at": now + _backoff(backoff_minutes, attempt)}
    stmt = (
        update(Notification)
        .where(col(Notification.id) == notification_id)
        .where(col(Notification.status) == NotificationStatus.PENDING)
        .where(col(Notification.attempts) == attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed: Any = session.execute(stmt)
    return status if changed.rowcount == 1 else None


def dispatch(
    url: str,
    *,
    sender: Sender,
    now: datetime,
    max_attempts: int,
    backoff_minutes: Sequence[int],
    limit: int | None = None,
    lease_minutes: int = DEFAULT_LEASE_MINUTES,
    on_progress: Callable[[Notification, DeliveryResult], None] | None = None,
) -> DispatchReport:
    """Send every due pending row through `sender`; owns its own short transactions."""
    report = DispatchReport()
    with session_scope(url) as session:
        due = _due_ids(session, now, limit)
    for notification_id, seen in due:
        with session_scope(url) as session:
            if not claim(
                session,
                notification_id=notification_id,
                seen_attempts=seen,
                now=now,
                lease_minutes=lease_minutes,
            ):
                report.lost_race += 1
                continue
            row = session.get(Notification, notification_id)
            assert row is not None
        report.claimed += 1
        attempt = seen + 1
        try:
            result = sender.send(row.recipient_tag, row.subject, row.body)
        except Exception as exc:  # a sender should not raise; if it does, it is a failed attempt
            result = DeliveryResult(False, f"sender raised {type(exc).__name__}: {exc}")
        with session_scope(url) as session:
            status = record_outcome(
                session,
                notification_id=notification_id,
                attempt=attempt,
                result=result,
                now=now,
                max_attempts=max_attempts,
                backoff_minutes=backoff_minutes,
            )
        if status is NotificationStatus.SENT:
            report.sent += 1
        elif status is NotificationStatus.FAILED:
            report.failed += 1
        elif status is NotificationStatus.DEAD:
            report.dead += 1
        elif status is NotificationStatus.PENDING:
            report.retrying += 1
        if not result.ok:
            report.problems.append(
                {
                    "id": notification_id,
                    "department_id": row.department_id,
                    "tag": row.recipient_tag,
                    "attempt": attempt,
                    "status": status.value if status else "re-claimed",
                    "error": MASKER.mask(result.error)[:ERROR_MAX],
                }
            )
        if on_progress is not None:
            on_progress(row, result)
    return report


def resend(
    url: str,
    *,
    ids: Sequence[int] | None = None,
    status: str | NotificationStatus | None = None,
    department: int | str | None = None,
    now: datetime | None = None,
    actor: str = "system",
) -> int:
    """Re-queue rows (by id, or all dead/failed ones, optionally of one department); returns how many."""
    if not ids and status is None:
        status = NotificationStatus.DEAD
    allowed = {NotificationStatus.DEAD, NotificationStatus.FAILED}
    wanted = NotificationStatus(status) if status is not None else None
    if wanted is not None and wanted not in allowed:
        from bihuan.errors import UserError

        raise UserError(
            f"--status {wanted.value}: only 'dead' or 'failed' notifications can be re-sent"
        )
    when = now or utc_now()
    with session_scope(url) as session:
        stmt = update(Notification).where(col(Notification.status).in_([s.value for s in allowed]))
        if ids:
            stmt = stmt.where(col(Notification.id).in_(list(ids)))
        if wanted is not None:
            stmt = stmt.where(col(Notification.status) == wanted)
        if isinstance(department, int):
            stmt = stmt.where(col(Notification.department_id) == department)
        elif isinstance(department, str):
            dept_ids = select(Department.id).where(Department.code == department)
            stmt = stmt.where(col(Notification.department_id).in_(dept_ids))
        stmt = stmt.values(
            status=NotificationStatus.PENDING, attempts=0, next_attempt_at=when
        ).execution_options(synchronize_session=False)
        result: Any = session.execute(stmt)
        count = int(result.rowcount)
        audit(
            session,
            actor=actor,
            action="notifications.resend",
            entity="notification",
            entity_key=",".join(map(str, ids)) if ids else (wanted.value if wanted else "*"),
            details={
                "count": count,
                "department": department,
                "status": wanted.value if wanted else None,
            },
        )
    return count


__all__ = [
    "DEFAULT_LEASE_MINUTES",
    "DispatchReport",
    "Sender",
    "claim",
    "dispatch",
    "enqueue",
    "record_outcome",
    "resend",
]
