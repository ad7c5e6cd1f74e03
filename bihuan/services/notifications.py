"""Notification use cases (通知): send the outbox, list it, re-queue failures, name the recipients.

Delivery guarantees of `dispatch`, stated plainly (docs/notifications.md has the whole story):

- Messages are written to the outbox in the transaction of the change that causes them
  (`uow.notifications.enqueue`), de-duplicated on their idempotency key, so a re-run never
  produces a second row and a crash before the commit leaves none.
- The dispatcher reads its clock (injected: `clock()`) at every claim and every outcome. It
  claims one row at a time, just before sending it, in a short transaction of its own (an
  UPDATE guarded by `status = 'pending' AND attempts = <seen>`), so two dispatchers never claim
  the same row. The claim leases the row from the real time of the claim
  (`reminders.lease_minutes`), and every send is bounded by explicit connect and read timeouts
  far shorter than the lease: however long the run, a row is never sent while its lease has
  run out, so a second dispatcher cannot claim it meanwhile. `sent_at`, the attempt's time and
  the backoff of a failure are the real time of the outcome.
- If the process dies after the claim and before it records the outcome, the row becomes due
  again when the lease ends and is sent again. Toward the channels this is at-least-once and
  cannot be better (nobody can know whether a message left before the crash), so every message
  carries a stable notice number (通知编号 N-<id>, in the body's footer) and, by e-mail, a
  Message-ID derived from it (`<bihuan-<jurisdiction>-<id>@<domain>>`): a repeat is
  recognisable as the same notice. In the normal path every row is sent exactly once.
- Where a tag holds several URLs, what each URL answered is recorded (a hash of the URL, never
  the URL), and a retry sends only to the URLs that did not receive the message.
- The outcome of a send is written in its own transaction; if the database is busy (SQLite's
  write lock held by a long import past the busy timeout) the WRITE is retried with backoff
  (`reminders.record_patience_seconds`, never beyond the row's lease), never the send. If it
  still cannot be written the run stops there (`stopped`), the row is re-sent after its lease
  with the same notice number, and the report counts that attempt (`unrecorded`). The report
  counts every attempt of the run: claimed = sent + retrying + failed + dead + deferred.
- A channel that fails to connect `reminders.breaker_failures` times in a row is not tried
  again in the run (a circuit breaker per SMTP server or bot API): its rows are given back
  without counting an attempt (`deferred`) and wait for the next run, so a hanging server costs
  a few timeouts, not one per message.
- A failed attempt is retried after the policy's backoff (`reminders.retry_backoff_minutes`, the
  last step repeating) until `reminders.max_attempts`, then dead-lettered; a configuration error
  (no channel for the tag) fails at once. `resend` re-queues dead and failed rows.
- Every error is masked by the sender (no URL, token or password is stored or reported).

The sender is a collaborator (`Sender`): the apprise channels in production
(notifications.channels.Channels, which sends every mail of a run through one SMTP connection
per server), a fake in tests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar, cast

from pydantic import BaseModel, Field

from bihuan.core.access import Actor, Permission, Target, listing, visible_department
from bihuan.core.outbox import (
    ERROR_MAX,
    RESENDABLE,
    Clock,
    Outgoing,
    SendLimits,
    TargetResult,
    WritePatience,
    after_attempt,
    with_notice,
)
from bihuan.core.reminders import LEADERSHIP_TAG, describe_step, digest_key, parse_notice_key
from bihuan.errors import UserError
from bihuan.policy import Policy
from bihuan.repositories.notifications import (
    DueRef,
    MessageContent,
    MessageSummary,
    transient,
)
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import EscalationLevel, NotificationKind, NotificationStatus, label
from notifications.tags import contact_tags, head_tag

DEFAULT_LIMIT = 200
ERRORS_SHOWN = 3  # distinct errors per department in a failure summary
CONTENT_CHUNK = 200  # due rows whose content is read ahead in one query
T = TypeVar("T")


# ------------------------------------------------------------------ the sender


class Delivery(Protocol):
    """What one send returned (notifications.channels.DeliveryResult)."""

    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> str: ...

    @property
    def permanent(self) -> bool: ...  # retrying cannot help until the configuration is fixed

    @property
    def targets(self) -> Sequence[TargetResult]: ...  # per URL; empty if the sender cannot tell

    @property
    def deferred(self) -> bool: ...  # nothing tried: the run's breaker closed every channel left


class Batch(Protocol):
    """The sends of one run (notifications.channels.SendBatch)."""

    def deliver(self, message: Outgoing) -> Delivery:
        """Send one message to every URL of its tag that has not received it; never raises for
        a delivery problem."""
        ...

    @property
    def closed_channels(self) -> list[str]: ...


class Sender(Protocol):
    def batch(self, limits: SendLimits) -> AbstractContextManager[Batch]:
        """Open a run: connections kept across messages, `limits` applied, closed at the end."""
        ...

    def mask(self, text: str) -> str:
        """`text` with every secret the sender knows (URLs, tokens, passwords) masked."""
        ...


class _Raised:
    """A sender that raised: a failed attempt (worth retrying), not a crash of the run."""

    ok = False
    permanent = False
    deferred = False
    targets: Sequence[TargetResult] = ()

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
    """What one dispatcher run did. Every claimed row is counted once:
    claimed = sent + retrying + failed + dead + deferred."""

    jurisdiction: str
    now: datetime  # when the run started (its clock)
    finished: datetime | None = None
    claimed: int = 0
    sent: int = 0  # accepted by every URL of the tag
    retrying: int = 0
    failed: int = 0  # permanent: a configuration error (no channel for the tag)
    dead: int = 0  # dead-lettered after max_attempts
    deferred: int = 0  # given back untried: its channel was closed by the run's breaker
    lost_race: int = 0  # another dispatcher claimed the row first
    # of the above: outcomes that could not be written (busy database); re-sent after the lease
    unrecorded: int = 0
    # of the above: outcomes that found the row claimed again (recorded as an attempt only)
    superseded: int = 0
    write_retries: int = 0  # writes retried because the database was busy
    closed_channels: list[str] = Field(default_factory=list)  # by the breaker, masked
    stopped: str = ""  # why the run stopped before the end of its due rows
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
            "deferred": self.deferred,
            "lost_race": self.lost_race,
            "unrecorded": self.unrecorded,
            "superseded": self.superseded,
            "write_retries": self.write_retries,
        }


class NotificationRow(BaseModel):
    """One outbox row as `bihuan notifications --json` lists it (never its body)."""

    id: int
    key: str
    department: str | None
    recipient_tag: str
    recipient_label: str  # who the tag is, in Chinese (编办领导, 机关职能运行监管办公室, …)
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


class _GaveUp(Exception):
    """A write that stayed impossible (a busy database) for as long as we may wait."""


class _Run:
    """One dispatcher run: its clock, limits, report, and the writes it retries."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        sender: Sender,
        clock: Clock,
        report: DispatchReport,
        *,
        patience: WritePatience,
        sleep: Callable[[float], None],
    ) -> None:
        self.uow_factory = uow_factory
        self.sender = sender
        self.clock = clock
        self.report = report
        self.patience = patience
        self.sleep = sleep

    def write(self, fn: Callable[[UnitOfWork], T], *, deadline: datetime | None = None) -> T:
        """Run `fn` in a transaction of its own, retried with backoff while the database is busy
        (never beyond `deadline` on the run's clock); raises _GaveUp when it stays busy."""
        waits = self.patience.schedule()
        for attempt in range(len(waits) + 1):
            try:
                with self.uow_factory() as uow:
                    return fn(uow)
            except Exception as exc:
                if not transient(exc):
                    raise
                # the driver's message, not the statement and its parameters
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                if attempt == len(waits):
                    raise _GaveUp(f"the database stayed busy ({reason})") from exc
                wait = waits[attempt]
                if deadline is not None and self.clock() + timedelta(seconds=wait) >= deadline:
                    raise _GaveUp(
                        f"the database stayed busy until the message's lease ran out ({reason})"
                    ) from exc
                self.report.write_retries += 1
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def dispatch(
    uow_factory: Callable[[], UnitOfWork],
    sender: Sender,
    clock: Clock,
    *,
    actor: Actor,
    jurisdiction: str,
    max_attempts: int | None = None,
    backoff_minutes: Sequence[int] | None = None,
    limit: int | None = None,
    lease: timedelta | None = None,
    limits: SendLimits | None = None,
    patience: WritePatience | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DispatchReport:
    """Send the jurisdiction's due pending rows through `sender`, each claim and each outcome
    in a short transaction of its own, reading `clock()` at each (see the module docstring).
    The attempts, backoff, lease, timeouts and breaker are the policy's `reminders` unless
    given."""
    started = clock()
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
        lease = lease or timedelta(minutes=ladder.lease_minutes)
        limits = limits or SendLimits(
            connect_timeout=ladder.connect_timeout_seconds,
            read_timeout=ladder.read_timeout_seconds,
            breaker_failures=ladder.breaker_failures,
        )
        patience = patience or WritePatience(total=ladder.record_patience_seconds)
        due = uow.notifications.due(jur.id, started, limit=limit)
    report = DispatchReport(jurisdiction=jurisdiction, now=started)
    run = _Run(uow_factory, sender, clock, report, patience=patience, sleep=sleep)
    with sender.batch(limits) as batch:
        try:
            _dispatch_all(run, batch, due, jurisdiction, lease, attempts, backoff)
        except _GaveUp as exc:
            report.stopped = _masked(sender, str(exc))
        report.closed_channels = list(batch.closed_channels)
    report.failures = failures_by_department(report.problems)
    report.finished = clock()
    if report.claimed:
        details = {"now": started, "finished": report.finished, **report.counts()}
        try:
            run.write(
                lambda uow: uow.audit.record(
                    actor,
                    action="notifications_dispatched",
                    entity="jurisdiction",
                    key=jurisdiction,
                    jurisdiction_id=jur.id,
                    details=details,
                )
            )
        except _GaveUp as exc:
            report.stopped = report.stopped or _masked(sender, f"audit row not written: {exc}")
    return report


@dataclass
class _Pending:
    """The outcome of the last send, written in the same transaction as the next claim (one
    commit per message), or on its own at the end of the run."""

    write: Callable[[UnitOfWork], object]
    settle: Callable[[object], None]  # account for it once written
    unrecorded: Callable[[], None]  # account for it when it could not be written
    deadline: datetime  # give up writing it then: its lease is about to end


def _dispatch_all(
    run: _Run,
    batch: Batch,
    due: Sequence[DueRef],
    jurisdiction: str,
    lease: timedelta,
    max_attempts: int,
    backoff: list[int],
) -> None:
    """Claim, send and record every due row in turn (raises _GaveUp when the database stays
    busy). Each transaction writes the previous row's outcome, then claims the next row at the
    real time of the claim, just before its send."""
    pending: _Pending | None = None
    contents: dict[int, MessageContent] = {}
    for i, ref in enumerate(due):
        if ref.id not in contents:
            # read the content of the next rows ahead, in this transaction (never stale: a row
            # changed since `due` was read fails its claim)
            ids = [r.id for r in due[i : i + CONTENT_CHUNK]]
            contents = {}
        else:
            ids = []
        lease_until = _claim(run, pending, ref, lease, ids, contents)
        pending = None
        content = contents.pop(ref.id, None)
        if lease_until is None or content is None:
            run.report.lost_race += 1
            continue
        run.report.claimed += 1
        pending = _send(run, batch, ref, content, lease_until, jurisdiction, lease, max_attempts,
                        backoff)  # fmt: skip
    if pending is not None:
        _flush(run, pending)


def _claim(
    run: _Run,
    pending: _Pending | None,
    ref: DueRef,
    lease: timedelta,
    read_ahead: list[int],
    contents: dict[int, MessageContent],
) -> datetime | None:
    def step(uow: UnitOfWork) -> tuple[datetime | None, object]:
        written = pending.write(uow) if pending is not None else None
        if read_ahead:
            contents.update(
                (nid, _with_attachment_path(c, uow.settings.var_dir))
                for nid, c in uow.notifications.contents(read_ahead).items()
            )
        # the lease runs from the real time of the claim (read inside the retried write)
        return uow.notifications.take(ref, now=run.clock(), lease=lease), written

    try:
        lease_until, written = run.write(
            step, deadline=pending.deadline if pending is not None else None
        )
    except _GaveUp:
        if pending is not None:
            pending.unrecorded()
        raise
    if pending is not None:
        pending.settle(written)
    return lease_until


def _with_attachment_path(content: MessageContent, var_dir: Path) -> MessageContent:
    """The row's attachment (stored relative to var/) as the full path the sender opens."""
    if not content.attachment:
        return content
    return replace(content, attachment=str(var_dir / content.attachment))


def _contact_email(content: MessageContent) -> str:
    """The department's contact_email for a message to its contact's tag (not its head's nor
    anyone else's): the address the office's SMTP account uses when the tag has no channel."""
    code = content.department_code
    if not code or not content.contact_email:
        return ""
    if content.recipient_tag not in contact_tags(code, content.notify_tags):
        return ""
    return content.contact_email.strip()


def _flush(run: _Run, pending: _Pending) -> None:
    try:
        written = run.write(pending.write, deadline=pending.deadline)
    except _GaveUp:
        pending.unrecorded()
        raise
    pending.settle(written)


def _send(
    run: _Run,
    batch: Batch,
    ref: DueRef,
    content: MessageContent,
    lease_until: datetime,
    jurisdiction: str,
    lease: timedelta,
    max_attempts: int,
    backoff: list[int],
) -> _Pending:
    """Send one claimed row; what to write about it (in the next transaction)."""
    report = run.report
    attempt = ref.attempts + 1
    outgoing = Outgoing(
        tag=content.recipient_tag,
        subject=content.subject,
        body=with_notice(content.body, content.id),
        notification_id=content.id,
        jurisdiction=jurisdiction,
        delivered=content.delivered,
        attachment=content.attachment,
        email=_contact_email(content),
    )
    try:
        result: Delivery = batch.deliver(outgoing)
    except Exception as exc:  # a sender should not raise; if it does, the attempt failed
        result = _Raised(exc)
    # give up writing the outcome a little before the lease ends, when another dispatcher may
    # claim the row again
    deadline = lease_until - lease / 10
    if result.deferred:
        # nothing was sent: give the row back (if that cannot be written, it is simply due
        # again when its lease ends)
        report.deferred += 1
        return _Pending(
            write=lambda uow: uow.notifications.release(
                content.id, attempt=attempt, now=run.clock()
            ),
            settle=lambda _: None,
            unrecorded=lambda: None,
            deadline=deadline,
        )
    error = "" if result.ok else _masked(run.sender, result.error or "failed without a reason")
    # per-URL results are kept where a tag has several URLs; with one, the row's status says it
    targets = (
        [
            TargetResult(t.key, t.ok, _masked(run.sender, t.error), t.skipped, t.earlier)
            for t in result.targets
        ]
        if len(result.targets) > 1
        else []
    )

    def write(uow: UnitOfWork) -> tuple[NotificationStatus, bool]:
        done = run.clock()  # the real time of the outcome: sent_at, backoff
        outcome = after_attempt(
            ok=result.ok,
            permanent=result.permanent,
            attempt=attempt,
            max_attempts=max_attempts,
            backoff_minutes=backoff,
            now=done,
        )
        moved = uow.notifications.record_attempt(
            content.id, attempt=attempt, error=error, outcome=outcome, now=done, targets=targets
        )
        return outcome.status, moved

    def settle(written: object) -> None:
        status, moved = cast(tuple[NotificationStatus, bool], written)
        if not moved:
            report.superseded += 1
        _count(report, result.ok, status if moved else NotificationStatus.PENDING)
        if not result.ok:
            _problem(report, content, attempt, status if moved else None, error)

    def unrecorded() -> None:
        report.unrecorded += 1
        _count(report, result.ok, NotificationStatus.PENDING)
        _problem(
            report, content, attempt, None, error or "sent, but the outcome could not be recorded"
        )

    return _Pending(write=write, settle=settle, unrecorded=unrecorded, deadline=deadline)


def _count(report: DispatchReport, ok: bool, status: NotificationStatus) -> None:
    report.count(NotificationStatus.SENT if ok else status)


def _problem(
    report: DispatchReport,
    message: MessageContent,
    attempt: int,
    status: NotificationStatus | None,
    error: str,
) -> None:
    report.problems.append(
        DeliveryProblem(
            id=message.id,
            department=message.department_code,
            department_name=message.department_name or "",
            tag=message.recipient_tag,
            attempt=attempt,
            status=status,
            status_label=status.label if status else "已被重新取出",
            error=error,
        )
    )


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


def recipient_label(policy: Policy, jurisdiction: str, tag: str) -> str:
    """Who an apprise tag reaches, as the office reads it: the leadership (编办领导), the office
    itself, a supervising section by its name, a department's head (D05主要负责人); a
    department's contact tag is shown as it is (its code)."""
    if tag == LEADERSHIP_TAG:
        return EscalationLevel.LEADERSHIP.label
    if tag == policy.office.alert_tag:
        return policy.office_name(jurisdiction)
    for section in policy.findings.sections.values():
        if tag == section.tag:
            return section.name
    if tag.endswith("-head"):
        return f"{tag.removesuffix('-head').upper()}主要负责人"
    return tag


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
                recipient_label=recipient_label(uow.policy, jurisdiction, r.recipient_tag),
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
            digest_key(jur.id, r.business_date, r.recipient_tag)
            for group in reminders.values()
            for r in group
        ],
    )
    out: list[ItemNotice] = []
    for step, group in reminders.items():
        first = group[0]
        found = [digests.get(digest_key(jur.id, r.business_date, r.recipient_tag)) for r in group]
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
    "Batch",
    "Delivery",
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
