"""The notification outbox (发件箱): enqueue, claim, record attempts, list, re-queue.

Every write here runs in the caller's transaction (the unit of work); the dispatcher
(bihuan.services.notifications) keeps each claim and each outcome in a short transaction of its
own. Two guards make the outbox safe without locks held across a send:

- `enqueue` / `add_all` insert with ON CONFLICT (idempotency_key) DO NOTHING, so a re-run never
  writes a second row;
- `claim`, `record_attempt` and `release` are UPDATEs guarded by `status = 'pending' AND
  attempts = <seen>`, so of two dispatchers that read the same due row only one claims it, and
  an outcome never overwrites a row that was claimed again meanwhile.

`record_attempt` also stores what each URL of the tag answered (`NotificationDelivery`, keyed by
a one-way hash of the URL), and `claim` reads back the URLs that already received the message,
so a retry skips them.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Integer, bindparam, func, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from bihuan.core.outbox import ERROR_MAX, NewMessage, Outcome, TargetResult
from bihuan.db import dialect_insert, table
from bihuan.vocab import NotificationStatus
from models import Department, Notification, NotificationAttempt, NotificationDelivery, utc_now
from models.base import UTCDateTime

# Messages of database errors that pass when retried: SQLite's write lock held past the busy
# timeout, PostgreSQL's serialization failures and deadlocks, a dropped connection.
_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "could not serialize access",
    "deadlock detected",
    "server closed the connection",
    "connection refused",
    "terminating connection",
)


def transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying (busy, locked, a lost connection): the
    dispatcher retries the WRITE of an outcome on these, never the send."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | DBAPIError):
        return False
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return any(marker in text for marker in _TRANSIENT)


@dataclass(frozen=True, slots=True)
class DueRef:
    """A due row as read before claiming it: the claim succeeds only if `attempts` is unchanged."""

    id: int
    attempts: int


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A row taken for sending, with what the sender and the report need."""

    id: int
    attempt: int  # the number of this attempt (1-based)
    department_id: int | None
    department_code: str | None
    department_name: str | None
    recipient_tag: str
    subject: str
    body: str
    lease_until: datetime
    delivered: frozenset[str] = frozenset()  # target keys that already received it


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What the dispatcher sends of a row, read ahead for a chunk of due rows (a row's content
    never changes once written; its claim is checked separately, by `take`)."""

    id: int
    department_id: int | None
    department_code: str | None
    department_name: str | None
    recipient_tag: str
    subject: str
    body: str
    delivered: frozenset[str] = frozenset()  # target keys that already received it
    attachment: str = ""  # relative to var/, "" for none
    contact_email: str = ""  # the department's (contact_email), "" for none
    notify_tags: str = ""  # the department's contact tags as configured ("" = its code)


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """One row of a listing: everything but the body."""

    id: int
    key: str
    department: str | None  # code
    recipient_tag: str
    kind: str
    subject: str
    status: str
    attempts: int
    last_error: str
    business_date: date
    sent_at: datetime | None
    created_at: datetime | None = None  # filled by `for_item` (an item's timeline)


def _row(message: NewMessage, created: datetime) -> dict[str, Any]:
    return {
        "jurisdiction_id": message.jurisdiction_id,
        "idempotency_key": message.key,
        "department_id": message.department_id,
        "recipient_tag": message.recipient_tag,
        "kind": str(message.kind),
        "subject": message.subject,
        "body": message.body,
        "attachment": message.attachment,
        "business_date": message.business_date,
        "status": message.status.value,
        "attempts": 0,
        "next_attempt_at": message.due_at,
        "last_error": "",
        "created_at": created,
    }


@dataclass(frozen=True)
class _Statements:
    """The dispatcher's per-message statements, built once (building a Core statement cost more
    than running it)."""

    take: Any
    attempt: Any
    outcome: Any


@functools.cache
def _statements() -> _Statements:
    n, na = table(Notification), table(NotificationAttempt)
    pending = NotificationStatus.PENDING.value
    guard = (n.c.id == bindparam("nid"), n.c.status == pending, n.c.attempts == bindparam("seen"))
    return _Statements(
        take=update(n)
        .where(*guard, n.c.next_attempt_at <= bindparam("now", type_=UTCDateTime()))
        .values(
            attempts=n.c.attempts + 1,
            next_attempt_at=bindparam("lease_until", type_=UTCDateTime()),
        ),
        # the next attempt number is computed by the database
        attempt=na.insert().from_select(
            ["notification_id", "attempt_no", "at", "ok", "error"],
            select(
                bindparam("nid", type_=Integer()),
                func.coalesce(func.max(na.c.attempt_no), 0) + 1,
                bindparam("at", type_=UTCDateTime()),
                bindparam("ok", type_=Boolean()),
                bindparam("error", type_=na.c.error.type),
            ).where(na.c.notification_id == bindparam("nid")),
        ),
        # a claimed row was never sent (sent_at is empty); a retry moves next_attempt_at on,
        # any other outcome leaves it at the end of the lease
        outcome=update(n)
        .where(*guard)
        .values(
            status=bindparam("status", type_=n.c.status.type),
            last_error=bindparam("last_error", type_=n.c.last_error.type),
            sent_at=bindparam("sent_at", type_=UTCDateTime()),
            next_attempt_at=func.coalesce(
                bindparam("retry_at", type_=UTCDateTime()), n.c.next_attempt_at
            ),
        ),
    )


class NotificationRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ writing

    def enqueue(self, message: NewMessage) -> bool:
        """Add one message; False if its key was already there."""
        n = table(Notification)
        stmt = (
            dialect_insert(self.session, n)
            .values(**_row(message, utc_now()))
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT .. ON CONFLICT here.
            .returning(n.c.id)
        )
        return self.session.execute(stmt).first() is not None

    def add_all(self, messages: Iterable[NewMessage]) -> None:
        """Add many messages in one bulk statement; keys already there are skipped."""
        created = utc_now()
        rows = [_row(m, created) for m in messages]
        if rows:
            stmt = dialect_insert(self.session, table(Notification)).on_conflict_do_nothing(
                index_elements=["idempotency_key"]
            )
            self.session.execute(stmt, rows)

    def keys(self, jurisdiction_id: int, kind: str) -> list[str]:
        """The idempotency keys of a jurisdiction's messages of one kind."""
        n = table(Notification)
        return list(
            self.session.execute(
                select(n.c.idempotency_key).where(
                    n.c.jurisdiction_id == jurisdiction_id, n.c.kind == str(kind)
                )
            ).scalars()
        )

    # ------------------------------------------------------------------ dispatching

    def due(self, jurisdiction_id: int, now: datetime, *, limit: int | None = None) -> list[DueRef]:
        """Pending rows of a jurisdiction due at `now`, oldest first."""
        n = table(Notification)
        stmt = (
            select(n.c.id, n.c.attempts)
            .where(
                n.c.jurisdiction_id == jurisdiction_id,
                n.c.status == NotificationStatus.PENDING.value,
                n.c.next_attempt_at <= now,
            )
            .order_by(n.c.next_attempt_at, n.c.id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [DueRef(int(i), int(a)) for i, a in self.session.execute(stmt)]

    def claim(self, ref: DueRef, *, now: datetime, lease: timedelta) -> ClaimedMessage | None:
        """Take one due row for sending, leased until `now + lease` (after which it is due
        again, should the sender never record an outcome); None if someone else took or
        finished it first. `now` is the real time of the claim."""
        n = table(Notification)
        lease_until = now + lease
        claimed: Any = self.session.execute(
            update(n)
            .where(
                n.c.id == ref.id,
                n.c.status == NotificationStatus.PENDING.value,
                n.c.attempts == ref.attempts,
                n.c.next_attempt_at <= now,
            )
            .values(attempts=ref.attempts + 1, next_attempt_at=lease_until)
        )
        if claimed.rowcount != 1:
            return None
        d = table(Department)
        row = self.session.execute(
            select(n.c.department_id, d.c.code, d.c.name, n.c.recipient_tag, n.c.subject, n.c.body)
            .outerjoin(d, d.c.id == n.c.department_id)
            .where(n.c.id == ref.id)
        ).one()
        return ClaimedMessage(
            id=ref.id,
            attempt=ref.attempts + 1,
            department_id=row.department_id,
            department_code=row.code,
            department_name=row.name,
            recipient_tag=row.recipient_tag,
            subject=row.subject,
            body=row.body,
            lease_until=lease_until,
            delivered=self.delivered_targets(ref.id),
        )

    def contents(self, ids: Sequence[int]) -> dict[int, MessageContent]:
        """The content of rows, with the URLs that already received each (two queries)."""
        if not ids:
            return {}
        n, d, nd = table(Notification), table(Department), table(NotificationDelivery)
        delivered: dict[int, set[str]] = {}
        for nid, key in self.session.execute(
            select(nd.c.notification_id, nd.c.target_key).where(
                nd.c.notification_id.in_(list(ids)), nd.c.ok.is_(True)
            )
        ):
            delivered.setdefault(int(nid), set()).add(str(key))
        rows = self.session.execute(
            select(
                n.c.id, n.c.department_id, d.c.code, d.c.name, n.c.recipient_tag, n.c.subject,
                n.c.body, n.c.attachment, d.c.contact_email, d.c.notify_tags,
            )
            .outerjoin(d, d.c.id == n.c.department_id)
            .where(n.c.id.in_(list(ids)))
        )  # fmt: skip
        return {
            int(r.id): MessageContent(
                id=int(r.id),
                department_id=r.department_id,
                department_code=r.code,
                department_name=r.name,
                recipient_tag=r.recipient_tag,
                subject=r.subject,
                body=r.body,
                delivered=frozenset(delivered.get(int(r.id), ())),
                attachment=r.attachment or "",
                contact_email=r.contact_email or "",
                notify_tags=r.notify_tags or "",
            )
            for r in rows
        }

    def take(self, ref: DueRef, *, now: datetime, lease: timedelta) -> datetime | None:
        """`claim` without reading the row back (the dispatcher read its content ahead): the
        end of the lease, or None if someone else took or finished it first."""
        lease_until = now + lease
        claimed: Any = self.session.execute(
            _statements().take,
            {"nid": ref.id, "seen": ref.attempts, "now": now, "lease_until": lease_until},
        )
        return lease_until if claimed.rowcount == 1 else None

    def delivered_targets(self, notification_id: int) -> frozenset[str]:
        """The target keys (URLs, hashed) that already received a message."""
        nd = table(NotificationDelivery)
        return frozenset(
            self.session.execute(
                select(nd.c.target_key).where(
                    nd.c.notification_id == notification_id, nd.c.ok.is_(True)
                )
            ).scalars()
        )

    def release(self, notification_id: int, *, attempt: int, now: datetime) -> bool:
        """Give a claimed row back without counting the attempt (nothing was tried: its
        channel is closed for this run), due again at `now`."""
        n = table(Notification)
        done: Any = self.session.execute(
            update(n)
            .where(
                n.c.id == notification_id,
                n.c.status == NotificationStatus.PENDING.value,
                n.c.attempts == attempt,
            )
            .values(attempts=attempt - 1, next_attempt_at=now)
        )
        return bool(done.rowcount == 1)

    def record_attempt(
        self,
        notification_id: int,
        *,
        attempt: int,
        error: str,
        outcome: Outcome,
        now: datetime,
        targets: Sequence[TargetResult] = (),
    ) -> bool:
        """Store one attempt (its error already masked) and what each URL answered, and move
        the row on to `outcome`; False when the row was claimed again meanwhile (the attempt
        is still recorded). `now` is the real time of the outcome."""
        error = error[:ERROR_MAX]
        tried = [t for t in targets if not t.skipped and not t.earlier]
        if tried:
            nd = table(NotificationDelivery)
            stmt = dialect_insert(self.session, nd)
            stmt = stmt.on_conflict_do_update(
                index_elements=["notification_id", "target_key"],
                set_={c: stmt.excluded[c] for c in ("ok", "at", "error")},
            )
            self.session.execute(
                stmt,
                [
                    {
                        "notification_id": notification_id,
                        "target_key": t.key,
                        "ok": t.ok,
                        "at": now,
                        "error": t.error[:ERROR_MAX],
                    }
                    for t in tried
                ],
            )
        ok = outcome.status is NotificationStatus.SENT
        # two prepared statements: this runs once per message sent
        stmts = _statements()
        self.session.execute(
            stmts.attempt, {"nid": notification_id, "at": now, "ok": ok, "error": error}
        )
        changed: Any = self.session.execute(
            stmts.outcome,
            {
                "nid": notification_id,
                "seen": attempt,
                "status": outcome.status.value,
                "last_error": error,
                "sent_at": now if ok else None,
                "retry_at": outcome.retry_at,
            },
        )
        return bool(changed.rowcount == 1)

    # ------------------------------------------------------------------ listing, re-queueing

    def _filtered(
        self,
        stmt: Any,
        jurisdiction_id: int,
        *,
        department_id: int | None,
        status: NotificationStatus | None,
        kind: str | None,
    ) -> Any:
        n = table(Notification)
        stmt = stmt.where(n.c.jurisdiction_id == jurisdiction_id)
        if department_id is not None:
            stmt = stmt.where(n.c.department_id == department_id)
        if status is not None:
            stmt = stmt.where(n.c.status == status.value)
        if kind:
            stmt = stmt.where(n.c.kind == kind)
        return stmt

    def summaries(
        self,
        jurisdiction_id: int,
        *,
        department_id: int | None = None,
        status: NotificationStatus | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[MessageSummary]:
        """Rows of a jurisdiction, newest first, without their bodies."""
        n, d = table(Notification), table(Department)
        stmt = select(
            n.c.id,
            n.c.idempotency_key,
            d.c.code,
            n.c.recipient_tag,
            n.c.kind,
            n.c.subject,
            n.c.status,
            n.c.attempts,
            n.c.last_error,
            n.c.business_date,
            n.c.sent_at,
        ).outerjoin(d, d.c.id == n.c.department_id)
        stmt = self._filtered(
            stmt, jurisdiction_id, department_id=department_id, status=status, kind=kind
        ).order_by(n.c.business_date.desc(), n.c.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return [
            MessageSummary(
                id=r.id,
                key=r.idempotency_key,
                department=r.code,
                recipient_tag=r.recipient_tag,
                kind=r.kind,
                subject=r.subject,
                status=r.status,
                attempts=r.attempts,
                last_error=r.last_error,
                business_date=r.business_date,
                sent_at=r.sent_at,
            )
            for r in self.session.execute(stmt)
        ]

    def count(
        self,
        jurisdiction_id: int,
        *,
        department_id: int | None = None,
        status: NotificationStatus | None = None,
        kind: str | None = None,
    ) -> int:
        stmt = select(func.count()).select_from(table(Notification))
        stmt = self._filtered(
            stmt, jurisdiction_id, department_id=department_id, status=status, kind=kind
        )
        return int(self.session.execute(stmt).scalar_one())

    def for_item(
        self, jurisdiction_id: int, department_id: int, item_id: int
    ) -> list[MessageSummary]:
        """The rows about one item of a department (its reminder markers and the office's
        notices and corrections, whose keys start with `item:<id>:`), oldest first."""
        n, d = table(Notification), table(Department)
        stmt = (
            select(
                n.c.id,
                n.c.idempotency_key,
                d.c.code,
                n.c.recipient_tag,
                n.c.kind,
                n.c.subject,
                n.c.status,
                n.c.attempts,
                n.c.last_error,
                n.c.business_date,
                n.c.sent_at,
                n.c.created_at,
            )
            .outerjoin(d, d.c.id == n.c.department_id)
            .where(
                n.c.jurisdiction_id == jurisdiction_id,
                # the index by department and kind narrows it to the department's rows
                n.c.department_id == department_id,
                n.c.kind.in_(["reminder", "rectification_notice", "correction"]),
                n.c.idempotency_key.startswith(f"item:{item_id}:", autoescape=True),
            )
            .order_by(n.c.business_date, n.c.id)
        )
        return [
            MessageSummary(
                id=r.id,
                key=r.idempotency_key,
                department=r.code,
                recipient_tag=r.recipient_tag,
                kind=r.kind,
                subject=r.subject,
                status=r.status,
                attempts=r.attempts,
                last_error=r.last_error,
                business_date=r.business_date,
                sent_at=r.sent_at,
                created_at=r.created_at,
            )
            for r in self.session.execute(stmt)
        ]

    def statuses(
        self, jurisdiction_id: int, keys: Collection[str]
    ) -> dict[str, tuple[str, datetime | None]]:
        """(status, sent_at) of the rows with these idempotency keys (e.g. the digests a
        reminder marker was folded into)."""
        n = table(Notification)
        wanted = sorted(set(keys))
        out: dict[str, tuple[str, datetime | None]] = {}
        for start in range(0, len(wanted), 1000):
            rows = self.session.execute(
                select(n.c.idempotency_key, n.c.status, n.c.sent_at).where(
                    n.c.jurisdiction_id == jurisdiction_id,
                    n.c.idempotency_key.in_(wanted[start : start + 1000]),
                )
            )
            out.update({k: (st, at) for k, st, at in rows})
        return out

    def marker_keys(
        self, jurisdiction_id: int, kind: str, department_ids: Collection[int]
    ) -> list[tuple[str, date]]:
        """(key, business date) of a kind of row (reminder markers) of some departments."""
        if not department_ids:
            return []
        n = table(Notification)
        return [
            (k, day)
            for k, day in self.session.execute(
                select(n.c.idempotency_key, n.c.business_date).where(
                    n.c.jurisdiction_id == jurisdiction_id,
                    n.c.department_id.in_(sorted(department_ids)),
                    n.c.kind == kind,
                )
            )
        ]

    def existing_ids(self, jurisdiction_id: int, ids: Collection[int]) -> set[int]:
        n = table(Notification)
        return set(
            self.session.execute(
                select(n.c.id).where(n.c.jurisdiction_id == jurisdiction_id, n.c.id.in_(ids))
            ).scalars()
        )

    def requeue(
        self,
        jurisdiction_id: int,
        *,
        statuses: Collection[NotificationStatus],
        now: datetime,
        ids: Sequence[int] | None = None,
        department_id: int | None = None,
    ) -> int:
        """Make rows in `statuses` pending again with a fresh attempt count, due at `now`."""
        n = table(Notification)
        stmt = update(n).where(
            n.c.jurisdiction_id == jurisdiction_id,
            n.c.status.in_([s.value for s in statuses]),
        )
        if ids:
            stmt = stmt.where(n.c.id.in_(list(ids)))
        if department_id is not None:
            stmt = stmt.where(n.c.department_id == department_id)
        result: Any = self.session.execute(
            stmt.values(status=NotificationStatus.PENDING.value, attempts=0, next_attempt_at=now)
        )
        return int(result.rowcount)


__all__ = [
    "ClaimedMessage",
    "DueRef",
    "MessageContent",
    "MessageSummary",
    "NotificationRepo",
    "transient",
]
