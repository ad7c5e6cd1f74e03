"""track-rectifications: the daily reminder and escalation run over the rectification ledger (整改台账).

What one run does (``as_of`` is the business day; nothing happens on a non-working day, the next
working day's run covers the gap): in ONE transaction it loads the jurisdiction's active items,
asks the pure planner (:func:`bihuan.core.reminders.plan_reminders`) for at most one notice per
item, stores each item's new escalation level (升级层级), writes the notices to the outbox
(发件箱) and records the day as the tracker's last run. Then the dispatcher sends the outbox.

The outbox design, chosen so that three promises hold with nothing but unique keys:

- **Markers** (kind ``reminder``, status ``digested``): one row per notice and recipient, key
  ``item:<id>:<step>:<recipient>`` (:func:`notice_key`). A marker is never sent; it is the record
  that this step of this item was notified, and the next run reads the markers back as the item's
  ``sent_steps``, so the planner never plans that step again. Its subject and body are the
  single-item reminder, so `bihuan notifications --kind reminder` shows what each one said.
- **Digests** (kind ``digest``, status ``pending``): one row per recipient per day, key
  ``digest:<day>:<recipient>`` (:func:`digest_key`), listing every item of that recipient's
  notices of the day. Only digests are delivered.
- Markers, digests, levels and the last run commit together. (a) A second run on the same day
  finds the markers and plans nothing; a crash before the commit leaves nothing, and the next
  run plans it all again; a crash after the commit and before the send leaves pending digests
  that the next dispatcher sends, once. (b) The digest key makes it one digest per recipient per
  day. (c) After an outage the planner folds every step that fell due into one notice per item
  (its ``skipped`` steps), so each recipient gets one digest with one line per item.
- The one exception to (b): a second run on the same day that finds something new (an item
  reopened or extended since the morning). Its items go out in a supplementary digest
  (``digest:<day>:<recipient>:2``, ...) rather than being lost.

Two trackers of one jurisdiction never interleave: the run locks its JobState row first
(SQLite's write transactions are serialised anyway). The level update does not bump the item's
``version`` (its optimistic lock for people's edits): the level is derived, the planner never
lowers it, and a department's exported workbook must stay importable while reminders go out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from bihuan.core.rectification import Level, Status
from bihuan.core.reminders import (
    ACTIVE,
    LEADERSHIP_TAG,
    ItemView,
    PlannedNotice,
    digest_key,
    notice_key,
    plan_reminders,
)
from bihuan.core.workdays import WorkCalendar
from bihuan.db import audit, dialect_insert, get_jurisdiction, session_scope, table, upsert
from bihuan.errors import UserError
from bihuan.policy import Policy
from flows.common import flow_context, resolve_as_of
from flows.dispatch import report_dispatch, send_due
from models import (
    Department,
    EscalationLevel,
    Finding,
    JobState,
    Notification,
    RectificationItem,
    utc_now,
)
from models.enums import NotificationStatus
from notifications.outbox import DispatchReport, enqueue
from notifications.render import (
    DigestContext,
    ReminderContext,
    ReminderLine,
    render,
    render_digest,
)
from notifications.tags import contact_tags, head_tag

JOB = "track-rectifications"
REMINDER_KIND = "reminder"
DIGEST_KIND = "digest"
UNKNOWN_SECTION_TAG = "office"
ARTIFACT_ROWS = 1000


@dataclass
class TrackSummary:
    as_of: date
    working_day: bool = True
    last_run: date | None = None
    active_items: int = 0
    notices: int = 0
    escalated: int = 0
    markers: int = 0
    digests: int = 0
    supplementary_digests: int = 0
    by_step: dict[str, int] = field(default_factory=dict)
    dispatch: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # today's notices, for artifacts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _ItemInfo:
    """What the shell needs beside the planner's ItemView: names for the Chinese messages."""

    department_id: int
    code: str
    department: str
    contacts: tuple[str, ...]
    title: str
    deadline: date


# ------------------------------------------------------------------ pure helpers


def parse_notice_key(key: str) -> tuple[int, str, str] | None:
    """(item id, step, recipient) of a key ``item:<id>:<step>:<recipient>``; None otherwise.

    Steps may contain a colon themselves (``ext1:pre-2``); recipient tags do not."""
    parts = key.split(":")
    if len(parts) < 4 or parts[0] != "item":
        return None
    try:
        item_id = int(parts[1])
    except ValueError:
        return None
    return item_id, ":".join(parts[2:-1]), parts[-1]


def expand_recipients(notice: PlannedNotice, contacts: tuple[str, ...]) -> tuple[str, ...]:
    """The planner addresses the department by one tag; its contact may have several."""
    out: list[str] = []
    for tag in notice.recipients:
        out.extend(contacts if tag == notice.department else (tag,))
    return tuple(dict.fromkeys(out))


def reminder_line(notice: PlannedNotice, info: _ItemInfo) -> ReminderLine:
    days = notice.overdue_days
    stage = "overdue" if days > 0 else "due" if days == 0 else "pre_due"
    return ReminderLine(
        department=info.department,
        title=info.title,
        deadline=info.deadline,
        stage=stage,
        days=abs(days),
        level=EscalationLevel(notice.level.value) if notice.level else EscalationLevel.CONTACT,
    )


def display_names(infos: dict[int, _ItemInfo], policy: Policy) -> dict[str, str]:
    """Who a tag is, in Chinese, for the digest's salutation."""
    names: dict[str, str] = {LEADERSHIP_TAG: "编办领导"}
    for section in policy.findings.sections.values():
        names.setdefault(section.tag, section.name)
    for info in infos.values():
        for tag in info.contacts:
            names.setdefault(tag, info.department)
        names.setdefault(head_tag(info.code), f"{info.department}主要负责人")
    return names


# ------------------------------------------------------------------ the transaction


def _lock_job_state(session: Session, jurisdiction_id: int) -> date | None:
    js = table(JobState)
    upsert(
        session,
        JobState,
        [{"jurisdiction_id": jurisdiction_id, "job": JOB, "value": "", "updated_at": utc_now()}],
        keys=["jurisdiction_id", "job"],
    )
    value = session.execute(
        select(js.c.value)
        .where(js.c.jurisdiction_id == jurisdiction_id, js.c.job == JOB)
        .with_for_update()
    ).scalar_one()
    return date.fromisoformat(value) if value else None


def load_items(
    session: Session, jurisdiction_id: int, policy: Policy
) -> tuple[list[ItemView], dict[int, _ItemInfo]]:
    """Active items of the jurisdiction with their department and section tags, and the steps
    already notified (from the markers), in three bulk selects."""
    ri, d, f = table(RectificationItem), table(Department), table(Finding)
    section_tags = {s.name: s.tag for s in policy.findings.sections.values()}
    rows = session.execute(
        select(
            ri.c.id,
            ri.c.department_id,
            ri.c.supervising_section,
            ri.c.issued_on,
            ri.c.deadline,
            ri.c.status,
            ri.c.escalation_level,
            ri.c.last_response_on,
            ri.c.extensions,
            d.c.code,
            d.c.name,
            d.c.notify_tags,
            f.c.title,
        )
        .join(d, d.c.id == ri.c.department_id)
        .join(f, f.c.id == ri.c.finding_id)
        .where(d.c.jurisdiction_id == jurisdiction_id, ri.c.status.in_([s.value for s in ACTIVE]))
        .order_by(ri.c.id)
    ).all()
    n = table(Notification)
    sent: dict[int, set[str]] = defaultdict(set)
    for (key,) in session.execute(
        select(n.c.idempotency_key).where(
            n.c.jurisdiction_id == jurisdiction_id, n.c.kind == REMINDER_KIND
        )
    ):
        parsed = parse_notice_key(key)
        if parsed is not None:
            sent[parsed[0]].add(parsed[1])
    views: list[ItemView] = []
    infos: dict[int, _ItemInfo] = {}
    unknown: set[str] = set()
    for r in rows:
        section = section_tags.get(r.supervising_section)
        if section is None:
            unknown.add(r.supervising_section)
            section = UNKNOWN_SECTION_TAG
        views.append(
            ItemView(
                id=r.id,
                department=r.code.lower(),
                deadline=r.deadline,
                status=Status(r.status),
                issued_on=r.issued_on,
                escalation_level=Level(r.escalation_level) if r.escalation_level else None,
                last_response_on=r.last_response_on,
                sent_steps=frozenset(sent.get(r.id, ())),
                extensions=r.extensions,
                section=section,
            )
        )
        infos[r.id] = _ItemInfo(
            department_id=r.department_id,
            code=r.code,
            department=r.name,
            contacts=tuple(contact_tags(r.code, r.notify_tags)),
            title=r.title,
            deadline=r.deadline,
        )
    if unknown:
        get_logger().warning(
            "supervising sections %s are not in config/policy.toml [findings.sections]; their "
            "escalations go to tag %r",
            sorted(unknown),
            UNKNOWN_SECTION_TAG,
        )
    return views, infos


def get_logger() -> Any:
    import logging

    try:
        return get_run_logger()
    except Exception:  # called outside a flow (a script, a test): plain logging will do
        return logging.getLogger(__name__)


def record_notices(
    session: Session,
    *,
    jurisdiction_id: int,
    as_of: date,
    planned: list[PlannedNotice],
    infos: dict[int, _ItemInfo],
    policy: Policy,
    summary: TrackSummary,
) -> None:
    """Levels, markers and digests of the day's notices, in the caller's transaction."""
    ri = table(RectificationItem)
    rises = [
        {"iid": p.item_id, "lvl": p.level.value}
        for p in planned
        if p.level is not None and p.level != p.previous_level
    ]
    if rises:
        session.execute(
            update(ri)
            .where(ri.c.id == bindparam("iid"))
            .values(escalation_level=bindparam("lvl"))
            .execution_options(synchronize_session=False),
            rises,
        )
    summary.escalated = len(rises)

    now = utc_now()
    markers: list[dict[str, Any]] = []
    per_tag: dict[str, list[ReminderLine]] = defaultdict(list)
    tag_department: dict[str, int | None] = {}
    for p in planned:
        info = infos[p.item_id]
        line = reminder_line(p, info)
        # Plain text only: a marker is a record, and the HTML would cost a third of the run.
        ctx = ReminderContext(
            department=info.department,
            stage=line.stage,
            items=[line],
            deadline=info.deadline,
            level=line.level,
            business_date=as_of,
        )
        subject = " ".join(render("reminder.subject.txt", ctx).split())
        text = render("reminder.txt", ctx)
        tags = expand_recipients(p, info.contacts)
        for tag in tags:
            markers.append(
                {
                    "jurisdiction_id": jurisdiction_id,
                    "idempotency_key": notice_key(p.item_id, p.step, tag),
                    "department_id": info.department_id,
                    "recipient_tag": tag,
                    "kind": REMINDER_KIND,
                    "subject": subject,
                    "body": text,
                    "business_date": as_of,
                    "status": NotificationStatus.DIGESTED.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                    "created_at": now,
                }
            )
            per_tag[tag].append(line)
            # A digest belongs to a department when it goes to that department's own people;
            # section and leadership digests span departments.
            own = tag in info.contacts or tag == head_tag(info.code)
            tag_department[tag] = info.department_id if own else None
        summary.rows.append(
            {
                "item": p.item_id,
                "department": info.code,
                "department_name": info.department,
                "step": p.step,
                "skipped": ", ".join(p.skipped),
                "level": p.level.value if p.level else "",
                "escalated": p.escalated,
                "recipients": ", ".join(tags),
            }
        )
        summary.by_step[p.kind] = summary.by_step.get(p.kind, 0) + 1
    if markers:
        n = table(Notification)
        session.execute(
            dialect_insert(session, n).on_conflict_do_nothing(index_elements=["idempotency_key"]),
            markers,
        )
    summary.markers = len(markers)

    names = display_names(infos, policy)
    for tag, lines in sorted(per_tag.items()):
        subject, text = render_digest(
            DigestContext(recipient=names.get(tag, tag), business_date=as_of, items=lines)
        )
        key = digest_key(as_of, tag)

        def put(key: str, tag: str = tag, subject: str = subject, text: str = text) -> bool:
            return enqueue(
                session,
                jurisdiction_id=jurisdiction_id,
                key=key,
                department_id=tag_department.get(tag),
                recipient_tag=tag,
                kind=DIGEST_KIND,
                subject=subject,
                body=text,
                business_date=as_of,
            )

        if put(key):
            summary.digests += 1
            continue
        n = table(Notification)
        earlier = session.execute(
            select(n.c.idempotency_key).where(
                (n.c.idempotency_key == key) | n.c.idempotency_key.like(f"{key}:%")
            )
        ).all()
        put(f"{key}:{len(earlier) + 1}")
        summary.supplementary_digests += 1


def track(url: str, *, jurisdiction: str, policy: Policy, as_of: date) -> TrackSummary:
    """One tracker run for `as_of` in one transaction (see the module docstring)."""
    summary = TrackSummary(as_of=as_of)
    cal = WorkCalendar.from_policy(policy.calendar)
    if not cal.is_workday(as_of):
        summary.working_day = False
        return summary
    with session_scope(url) as session:
        jur = get_jurisdiction(session, jurisdiction)
        if jur is None or jur.id is None:
            raise UserError(
                f"no jurisdiction {jurisdiction!r} in the database; load one with `bihuan import`"
            )
        last_run = _lock_job_state(session, jur.id)
        summary.last_run = last_run
        views, infos = load_items(session, jur.id, policy)
        summary.active_items = len(views)
        planned = plan_reminders(
            views, as_of=as_of, last_run=last_run, cal=cal, ladder=policy.reminders
        )
        summary.notices = len(planned)
        record_notices(
            session,
            jurisdiction_id=jur.id,
            as_of=as_of,
            planned=planned,
            infos=infos,
            policy=policy,
            summary=summary,
        )
        js = table(JobState)
        # Never backwards: re-running an old day must not reopen a window already covered.
        newest = max(as_of, last_run) if last_run else as_of
        session.execute(
            update(js)
            .where(js.c.jurisdiction_id == jur.id, js.c.job == JOB)
            .values(value=newest.isoformat(), updated_at=utc_now())
        )
        audit(
            session,
            actor="tracker",
            action="track_rectifications",
            entity="jurisdiction",
            entity_key=jurisdiction,
            jurisdiction_id=jur.id,
            details={
                "as_of": as_of,
                "last_run": last_run,
                "notices": summary.notices,
                "escalated": summary.escalated,
                "digests": summary.digests + summary.supplementary_digests,
            },
        )
    return summary


# ------------------------------------------------------------------ the flow


@task(name="plan-and-record-reminders", cache_policy=NO_CACHE)
def plan_and_record(as_of: date) -> TrackSummary:
    ctx = flow_context()
    return track(ctx.db_url, jurisdiction=ctx.jurisdiction, policy=ctx.policy, as_of=as_of)


def _artifacts(summary: TrackSummary, dispatched: DispatchReport | None) -> None:
    day = summary.as_of.isoformat()
    if summary.rows:
        rows = summary.rows[:ARTIFACT_ROWS]
        create_table_artifact(
            key="track-rectifications-notices",
            table=rows,
            description=f"整改提醒 {day}: {summary.notices} notices"
            + (f" (first {ARTIFACT_ROWS} shown)" if summary.notices > ARTIFACT_ROWS else ""),
        )
    steps = "、".join(f"{k} {v}" for k, v in sorted(summary.by_step.items())) or "无"
    sent = ""
    if dispatched is not None:
        sent = (
            f"- 发送: 已发送 {dispatched.sent}, 待重试 {dispatched.retrying}, "
            f"配置错误 {dispatched.failed}, 已停止重试 {dispatched.dead}\n"
        )
    create_markdown_artifact(
        key="track-rectifications-summary",
        markdown=(
            f"# 整改跟踪 {day}\n\n"
            f"- 上次运行: {summary.last_run or '无'}; 在办整改事项: {summary.active_items}\n"
            f"- 今日提醒: {summary.notices} 项 ({steps}); 层级上升: {summary.escalated} 项\n"
            f"- 每日汇总: {summary.digests} 份"
            + (
                f", 补充汇总 {summary.supplementary_digests} 份"
                if summary.supplementary_digests
                else ""
            )
            + "\n"
            + sent
        ),
        description=f"track-rectifications {day}",
    )


@flow(name="track-rectifications", flow_run_name="track-rectifications-{as_of}")
def track_rectifications(as_of: date | None = None, dispatch: bool = True) -> TrackSummary:
    """Plan the day's reminders and escalations, write them to the outbox, then send them."""
    day = resolve_as_of(as_of)
    if not WorkCalendar.from_policy(flow_context().policy.calendar).is_workday(day):
        get_run_logger().info("%s is not a working day: nothing to do", day)
        return TrackSummary(as_of=day, working_day=False)
    summary = plan_and_record(day)
    report = None
    if dispatch:
        report = send_due(day)
        report_dispatch(flow_context().db_url, report, day)
        summary.dispatch = {k: v for k, v in asdict(report).items() if k != "problems"}
    _artifacts(summary, report)
    return summary


__all__ = [
    "JOB",
    "TrackSummary",
    "expand_recipients",
    "load_items",
    "parse_notice_key",
    "record_notices",
    "track",
    "track_rectifications",
]
