"""Notification use cases (通知): send the outbox, list it, re-queue failures, name the recipients.

Delivery guarantees of `dispatch`, stated plainly:

- Messages are written to the outbox in the transaction of the change that causes them
  (`uow.notifications.enqueue`), de-duplicated on their idempotency key, so a re-run never
  produces a second row and a crash before the commit leaves none.
- `dispatch` claims one row at a time in its own short transaction (an UPDATE guarded by
  `status = 'pending' AND attempts = <seen>`), so two dispatchers never send the same row. The
  claim pushes `next_attempt_at` forward by a lease; if the process dies after the claim and
  before it records the outcome, the row becomes due again when the lease ends and is sent
  again. Toward the channels this is at-least-once and cannot be better: nobody can know whether
  a message left before the crash. In the normal path every row is sent exactly once.
- A failed attempt is retried after the policy's backoff (`reminders.retry_backoff_minutes`, the
  last step repeating) until `reminders.max_attempts`, then dead-lettered; a configuration error
  (no channel for the tag) fails at once. `resend` re-queues dead and failed rows.
- Every error is masked by the sender (no URL, token or password is stored or reported).

The sender is a collaborator (`Sender`): the apprise channels in production
(notifications.channels.Channels), a fake in tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Protocol

from pydantic import BaseModel, Field

from bihuan.core.access import Actor, Permission, Target, listing, visible_department
from bihuan.core.outbox import (
    DEFAULT_LEASE_MINUTES,
    ERROR_MAX,
    RESENDABLE,
    after_attempt,
)
from bihuan.core.reminders import LEADERSHIP_TAG, describe_step, digest_key, parse_notice_key
from bihuan.errors import UserError
from bihuan.repositories.notifications import MessageSummary
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import NotificationKind, NotificationStatus, label
from notifications.tags import contact_tags, head_tag

DEFAULT_LIMIT = 200
ERRORS_SHOWN = 3  # distinct errors per department in a failure summary


# ------------------------------------------------------------------ the sender


class Delivery(Protocol):
    """What one send returned (notifications.channels.DeliveryResult)."""

    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> str: ...

    @property
    def permanent(self) -> bool: ...  # retrying cannot help until the configuration is fixed


class Sender(Protocol):
    def send(self, tag: str, subject: str, body: str) -> Delivery:
        """Send one message to every channel of `tag`; never raises for a delivery problem."""
        ...

    def mask(self, text: str) -> str:
        """`text` with every secret the sender knows (URLs, tokens, passwords) masked."""
        ...


class _Raised:
    """A sender that raised: a failed attempt (worth retrying), not a crash of the run."""

    ok = False
    permanent = False

    def __init__(self, exc: Exception) -> None:
        self.error = f"sender raised {type(exc).__name__}: {exc}"


# ------------------------------------------------------------------ results


class DeliveryProblem(BaseModel):
    """One failed attempt (its error masked)."""

    id: int
    department: str | None  # code; None for the office's own recipients
    department_name: str
    tag: str
    attempt: int
    status: NotificationStatus | None  # None: the row was claimed again meanwhile
    status_label: str
    error: str


class DepartmentFailures(BaseModel):
    """The failed attempts of one run for one department, by outcome, with distinct errors."""

    department: str  # code; "" for the office's own recipients
    department_name: str
    failed_attempts: int
    retrying: int
    config_errors: int
    dead: int
    tags: list[str]
    errors: list[str]  # distinct, masked, the first ERRORS_SHOWN
    more_errors: int  # distinct errors not shown


class DispatchReport(BaseModel):
    """What one dispatcher run did."""

    jurisdiction: str
    now: datetime
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # permanent: a configuration error (no channel for the tag)
    dead: int = 0  # dead-lettered after max_attempts
    lost_race: int = 0  # another dispatcher claimed the row first
    problems: list[DeliveryProblem] = Field(default_factory=list)
    failures: list[DepartmentFailures] = Field(default_factory=list)

    def count(self, status: NotificationStatus | None) -> None:
        if status is NotificationStatus.SENT:
            self.sent += 1
        elif status is NotificationStatus.FAILED:
            self.failed += 1
        elif status is NotificationStatus.DEAD:
            self.dead += 1
        elif status is NotificationStatus.PENDING:
            self.retrying += 1

    def counts(self) -> dict[str, int]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "dead": self.dead,
            "lost_race": self.lost_race,
        }


class NotificationRow(BaseModel):
    """One outbox row as `bihuan notifications --json` lists it (never its body)."""

    id: int
    key: str
    department: str | None
    recipient_tag: str
    kind: str
    kind_label: str
    subject: str
    status: NotificationStatus
    status_label: str
    attempts: int
    last_error: str
    business_date: date
    sent_at: datetime | None


class NotificationPage(BaseModel):
    """The newest `limit` rows of a listing and how many matched in all."""

    total: int
    limit: int | None
    rows: list[NotificationRow]


class Resend(BaseModel):
    """`bihuan notifications resend`: by id, or every dead (default) or failed row, optionally
    of one department."""

    ids: list[int] = Field(default_factory=list)
    status: NotificationStatus | None = None
    department: str | None = None  # code


class ResendResult(BaseModel):
    count: int


# ------------------------------------------------------------------ dispatch


def dispatch(
    uow_factory: Callable[[], UnitOfWork],
    sender: Sender,
    now: datetime,
    *,
    actor: Actor,
    jurisdiction: str,
    max_attempts: int | None = None,
    backoff_minutes: Sequence[int] | None = None,
    limit: int | None = None,
    lease_minutes: int = DEFAULT_LEASE_MINUTES,
) -> DispatchReport:
    """Send the jurisdiction's due pending rows through `sender`, each claim and each outcome
    in a short transaction of its own (see the module docstring). The attempts and backoff are
    the policy's `reminders` unless given."""
    with uow_factory() as uow:
        jur = uow.jurisdictions.require(jurisdiction)
        assert jur.id is not None
        require(
            uow,
            actor,
            Permission.SEND_NOTIFICATIONS,
            Target(jurisdiction_id=jur.id),
            action=f"send the notifications of {jurisdiction}",
        )
        ladder = uow.policy.reminders
        attempts = max_attempts if max_attempts is not None else ladder.max_attempts
        backoff = list(
            backoff_minutes if backoff_minutes is not None else ladder.retry_backoff_minutes
        )
        due = uow.notifications.due(jur.id, now, limit=limit)
    report = DispatchReport(jurisdiction=jurisdiction, now=now)
    for ref in due:
        with uow_factory() as uow:
            message = uow.notifications.claim(ref, now=now, lease_minutes=lease_minutes)
        if message is None:
            report.lost_race += 1
            continue
        report.claimed += 1
        try:
            result: Delivery = sender.send(message.recipient_tag, message.subject, message.body)
        except Exception as exc:  # a sender should not raise; if it does, the attempt failed
            result = _Raised(exc)
        error = "" if result.ok else _masked(sender, result.error or "failed without a reason")
        outcome = after_attempt(
            ok=result.ok,
            permanent=result.permanent,
            attempt=message.attempt,
            max_attempts=attempts,
            backoff_minutes=backoff,
            now=now,
        )
        with uow_factory() as uow:
            moved = uow.notifications.record_attempt(
                message.id, attempt=message.attempt, error=error, outcome=outcome, now=now
            )
        status = outcome.status if moved else None
        report.count(status)
        if not result.ok:
            report.problems.append(
                DeliveryProblem(
                    id=message.id,
                    department=message.department_code,
                    department_name=message.department_name or "",
                    tag=message.recipient_tag,
                    attempt=message.attempt,
                    status=status,
                    status_label=status.label if status else "已被重新取出",
                    error=error,
                )
            )
    report.failures = failures_by_department(report.problems)
    if report.claimed:
        with uow_factory() as uow:
            uow.audit.record(
                actor,
                action="notifications_dispatched",
                entity="jurisdiction",
                key=jurisdiction,
                jurisdiction_id=jur.id,
                details={"now": now, **report.counts()},
            )
    return report


def _masked(sender: Sender, text: str) -> str:
    return sender.mask(text)[:ERROR_MAX]


def failures_by_department(problems: Sequence[DeliveryProblem]) -> list[DepartmentFailures]:
    """One summary per department with failed attempts, by code. A configuration error ("no
    channel configured for tag ...") shows here per department; it is never counted as sent."""
    grouped: dict[str | None, list[DeliveryProblem]] = defaultdict(list)
    for problem in problems:
        grouped[problem.department].append(problem)
    out = []
    for code, group in grouped.items():
        errors = list(dict.fromkeys(p.error for p in group))
        out.append(
            DepartmentFailures(
                department=code or "",
                department_name=(group[0].department_name if code else "") or "(编办)",
                failed_attempts=len(group),
                retrying=sum(p.status is NotificationStatus.PENDING for p in group),
                config_errors=sum(p.status is NotificationStatus.FAILED for p in group),
                dead=sum(p.status is NotificationStatus.DEAD for p in group),
                tags=sorted({p.tag for p in group}),
                errors=errors[:ERRORS_SHOWN],
                more_errors=max(0, len(errors) - ERRORS_SHOWN),
            )
        )
    return sorted(out, key=lambda f: (f.department, f.department_name))


# ------------------------------------------------------------------ listing, re-sending


def list_notifications(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    *,
    status: NotificationStatus | None = None,
    department: str | None = None,
    kind: str | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> NotificationPage:
    """The outbox, newest first: a department user sees only its own department's messages
    (not the section and leadership digests, which span departments). Errors were masked when
    stored; no URL is ever stored."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    dept_id = uow.departments.require_code(jur.id, department).id if department else None
    require(
        uow,
        actor,
        Permission.READ_NOTIFICATIONS,
        Target(
            jurisdiction_id=jur.id, department_id=dept_id, what=f"the notifications of {department}"
        )
        if dept_id
        else listing(jur.id),
        action="list notifications" + (f" of {department}" if department else ""),
    )
    only = visible_department(actor)
    if only is not None:
        dept_id = only
    rows = uow.notifications.summaries(
        jur.id, department_id=dept_id, status=status, kind=kind, limit=limit
    )
    total = (
        len(rows)
        if limit is None or len(rows) < limit
        else uow.notifications.count(jur.id, department_id=dept_id, status=status, kind=kind)
    )
    return NotificationPage(
        total=total,
        limit=limit,
        rows=[
            NotificationRow(
                id=r.id,
                key=r.key,
                department=r.department,
                recipient_tag=r.recipient_tag,
                kind=r.kind,
                kind_label=label(r.kind, NotificationKind),
                subject=r.subject,
                status=NotificationStatus(r.status),
                status_label=NotificationStatus(r.status).label,
                attempts=r.attempts,
                last_error=r.last_error,
                business_date=r.business_date,
                sent_at=r.sent_at,
            )
            for r in rows
        ],
    )


def resend(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, cmd: Resend, now: datetime
) -> ResendResult:
    """Re-queue dead or failed rows (by id, or all dead ones unless `status` says failed),
    due from `now`; the next dispatcher run sends them."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.SEND_NOTIFICATIONS,
        Target(jurisdiction_id=jur.id),
        action=f"re-send notifications of {jurisdiction}",
    )
    status = cmd.status
    if status is not None and status not in RESENDABLE:
        raise UserError(
            f"--status {status.value}: only 'dead' or 'failed' notifications can be re-sent"
        )
    if not cmd.ids and status is None:
        status = NotificationStatus.DEAD
    if cmd.ids:
        missing = sorted(set(cmd.ids) - uow.notifications.existing_ids(jur.id, cmd.ids))
        if missing:
            raise UserError(
                f"--id {', '.join(map(str, missing))}: no such notification in {jurisdiction!r};"
                " see `bihuan notifications`"
            )
    dept_id = uow.departments.require_code(jur.id, cmd.department).id if cmd.department else None
    count = uow.notifications.requeue(
        jur.id,
        statuses=[status] if status is not None else RESENDABLE,
        now=now,
        ids=cmd.ids or None,
        department_id=dept_id,
    )
    uow.audit.record(
        actor,
        action="notifications_resent",
        entity="notification",
        key=",".join(map(str, cmd.ids)) if cmd.ids else (status.value if status else "*"),
        jurisdiction_id=jur.id,
        details={
            "count": count,
            "department": cmd.department,
            "status": status.value if status else None,
            "now": now,
        },
    )
    return ResendResult(count=count)


# ------------------------------------------------------------------ one item's messages


class ItemNotice(BaseModel):
    """A reminder step (整改提醒) or an office's notice (整改事项通知) about one item: when, to
    whom, and whether it went out. A reminder is never sent on its own: it is folded into each
    recipient's daily digest (每日汇总), whose state it shows."""

    kind: str  # reminder | rectification_notice
    kind_label: str
    step: str  # the reminder's step key (e.g. overdue-3); "" for a notice
    step_label: str  # 逾期3个工作日催办, or the notice's subject
    business_date: date
    recipients: list[str]  # apprise tags
    subject: str
    delivery: str  # sent | pending | failed (of the digests or of the notice)
    delivery_label: str
    sent_at: datetime | None
    created_at: datetime | None  # when the tracker (or the move) wrote it


_DELIVERY_LABELS = {
    "sent": "已发送",
    "pending": "待发送",
    "failed": "发送失败",
    "none": "未生成汇总",
}


def _delivery(statuses: Sequence[str]) -> str:
    if not statuses:
        return "none"
    if any(s in (NotificationStatus.FAILED, NotificationStatus.DEAD) for s in statuses):
        return "failed"
    if all(s == NotificationStatus.SENT for s in statuses):
        return "sent"
    return "pending"


def item_notices(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, item_id: int
) -> list[ItemNotice]:
    """The reminders and notices about one item, oldest first, for a user who may see the item
    (they are part of its record, like its history: READ_CYCLE on the item, not the outbox's
    READ_NOTIFICATIONS). Subjects and dates only, never a body or a channel's address."""
    from bihuan.services.rectification import visible_item

    item, _target = visible_item(
        uow, actor, jurisdiction, item_id, f"list the notices of item {item_id}"
    )
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    rows = uow.notifications.for_item(jur.id, item.department_id, item_id)
    reminders: dict[str, list[MessageSummary]] = defaultdict(list)
    notices: dict[str, list[MessageSummary]] = defaultdict(list)
    for r in rows:
        parsed = parse_notice_key(r.key)
        if parsed is None:
            continue
        _, step, _tag = parsed
        if r.kind == NotificationKind.REMINDER.value:
            reminders[step].append(r)
        else:  # item:<id>:event:<seq>:<tag>, the office's decisions
            notices[step].append(r)
    digests = uow.notifications.statuses(
        jur.id,
        [
            digest_key(r.business_date, r.recipient_tag)
            for group in reminders.values()
            for r in group
        ],
    )
    out: list[ItemNotice] = []
    for step, group in reminders.items():
        first = group[0]
        found = [digests.get(digest_key(r.business_date, r.recipient_tag)) for r in group]
        states = [f[0] for f in found if f is not None]
        sent = [f[1] for f in found if f is not None and f[1] is not None]
        delivery = _delivery(states)
        out.append(
            ItemNotice(
                kind=first.kind,
                kind_label=label(first.kind, NotificationKind),
                step=step,
                step_label=describe_step(step),
                business_date=first.business_date,
                recipients=[r.recipient_tag for r in group],
                subject=first.subject,
                delivery=delivery,
                delivery_label="已并入每日汇总，" + _DELIVERY_LABELS[delivery],
                sent_at=min(sent) if sent else None,
                created_at=first.created_at,
            )
        )
    for group in notices.values():
        first = group[0]
        delivery = _delivery([r.status for r in group])
        sent = [r.sent_at for r in group if r.sent_at is not None]
        out.append(
            ItemNotice(
                kind=first.kind,
                kind_label=label(first.kind, NotificationKind),
                step="",
                step_label=first.subject,
                business_date=first.business_date,
                recipients=[r.recipient_tag for r in group],
                subject=first.subject,
                delivery=delivery,
                delivery_label=_DELIVERY_LABELS[delivery],
                sent_at=min(sent) if sent else None,
                created_at=first.created_at,
            )
        )
    return sorted(out, key=lambda n: (n.business_date, n.kind != NotificationKind.REMINDER))


# ------------------------------------------------------------------ recipients


def recipient_tags(uow: UnitOfWork, actor: Actor, jurisdiction: str) -> list[str]:
    """Every apprise tag the loop can address in the jurisdiction: the department contacts and
    heads, the supervising sections, the office leadership (for a channel configuration)."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.SEND_NOTIFICATIONS,
        Target(jurisdiction_id=jur.id),
        action=f"configure the notification channels of {jurisdiction}",
    )
    tags: set[str] = {LEADERSHIP_TAG, uow.policy.office.alert_tag}
    tags.update(s.tag for s in uow.policy.findings.sections.values())
    for d in uow.departments.views(jur.id):
        tags.update(contact_tags(d.code, d.notify_tags))
        tags.add(head_tag(d.code))
    return sorted(tags)


__all__ = [
    "DEFAULT_LIMIT",
    "DeliveryProblem",
    "DepartmentFailures",
    "DispatchReport",
    "ItemNotice",
    "NotificationPage",
    "NotificationRow",
    "Resend",
    "ResendResult",
    "Sender",
    "alert_office",
    "dispatch",
    "failures_by_department",
    "item_notices",
    "list_notifications",
    "recipient_tags",
    "resend",
]


def alert_office(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    *,
    what: str,
    error: str,
    day: date,
) -> bool:
    """Tell the office that an unattended run failed (a missing calendar year, a database
    error): one message per flow and day (its key), so a run retried all day does not flood
    anyone. False when the day's message exists already."""
    from bihuan.clock import business_today
    from bihuan.core.outbox import NewMessage
    from notifications.render import render

    jur = uow.jurisdictions.get(jurisdiction)
    require(
        uow,
        actor,
        Permission.RUN_CYCLE,
        Target(jurisdiction_id=jur.id if jur else None),
        action=f"report the failure of {what}",
    )
    if jur is None or jur.id is None:
        return False
    context = {
        "what": what,
        "error": error,
        "day": day,
        "jurisdiction": jur.name,
        "office": uow.policy.office_name(jurisdiction),
        "reported_on": business_today(),
    }
    return uow.notifications.enqueue(
        NewMessage(
            jurisdiction_id=jur.id,
            key=f"alert:{jurisdiction}:{what}:{day.isoformat()}",
            department_id=None,
            recipient_tag=uow.policy.office.alert_tag,
            kind=NotificationKind.OFFICE_ALERT,
            subject=" ".join(render("office_alert.subject.txt", context).split()),
            body=render("office_alert.txt", context),
            business_date=day,
        )
    )
