"""The daily tracker (整改跟踪): reminders and escalation over the rectification ledger (整改台账).

What one run does (``as_of`` is the business day; nothing happens on a non-working day, the next
working day's run covers the gap): in ONE transaction it loads the jurisdiction's active items,
asks the pure planner (:func:`bihuan.core.reminders.plan_reminders`) for at most one notice per
item, stores each item's new escalation level (升级层级), writes the notices to the outbox
(发件箱) and records the day as the tracker's last run. Then the dispatcher sends the outbox
(bihuan.services.notifications.dispatch).

The outbox design, chosen so that three promises hold with nothing but unique keys:

- **Markers** (kind ``reminder``, status ``digested``): one row per notice and recipient, key
  ``item:<id>:<step>:<recipient>`` (:func:`~bihuan.core.reminders.notice_key`). A marker is never
  sent; it is the record that this step of this item was notified, and the next run reads the
  markers back as the item's ``sent_steps``, so the planner never plans that step again. Its
  subject and body are the single-item reminder, so `bihuan notifications --kind reminder` shows
  what each one said.
- **Digests** (kind ``digest``, status ``pending``): one row per recipient per day and
  jurisdiction, key ``digest:<jurisdiction id>:<day>:<recipient>``
  (:func:`~bihuan.core.reminders.digest_key`), listing every item of that recipient's notices of
  the day. Only digests are delivered.
- Markers, digests, levels and the last run commit together. (a) A second run on the same day
  finds the markers and plans nothing; a crash before the commit leaves nothing, and the next
  run plans it all again; a crash after the commit and before the send leaves pending digests
  that the next dispatcher sends, once. (b) The digest key makes it one digest per recipient per
  day. (c) After an outage the planner folds every step that fell due into one notice per item
  (its ``skipped`` steps), so each recipient gets one digest with one line per item.
- The one exception to (b): a second run on the same day that finds something new (an item
  reopened or extended since the morning). Its items go out in a supplementary digest
  (``digest:<jurisdiction id>:<day>:<recipient>:2``, ...) rather than being lost.

Two trackers of one jurisdiction never interleave: the run locks its JobState row first
(SQLite's write transactions are serialised anyway). The level update does not bump the item's
``version`` (its optimistic lock for people's edits): the level is derived, the planner never
lowers it, and a department's exported workbook must stay importable while reminders go out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from bihuan.core.access import Actor, Permission, Target
from bihuan.core.links import item_link
from bihuan.core.outbox import NewMessage
from bihuan.core.provisional import CountedDeadline, Recount, reconcile
from bihuan.core.reminders import (
    ACTIVE,
    LEADERSHIP_TAG,
    ItemView,
    PlannedNotice,
    digest_key,
    notice_key,
    parse_notice_key,
    plan_reminders,
)
from bihuan.core.workdays import WorkCalendar
from bihuan.policy import Policy
from bihuan.repositories.rectification import ITEM_ENTITY
from bihuan.services.authz import require
from bihuan.services.notifications import DispatchReport
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import EscalationLevel, NotificationKind, NotificationStatus
from notifications.render import (
    DigestContext,
    ReminderContext,
    ReminderLine,
    render,
    render_digest,
)
from notifications.tags import contact_tags, head_tag

if TYPE_CHECKING:
    from bihuan.repositories.tracking import TrackedItem

JOB = "track-rectifications"
UNKNOWN_SECTION_TAG = "office"  # escalations of an item whose section is not in the policy


# ------------------------------------------------------------------ results


class NoticeRow(BaseModel):
    """One notice of the day (one item, its most advanced step, everyone it goes to)."""

    item: int
    department: str  # code
    department_name: str
    step: str
    skipped: list[str]  # earlier steps this notice stands for (after an outage)
    level: EscalationLevel | None
    level_label: str
    escalated: bool
    recipients: list[str]


class TrackSummary(BaseModel):
    """What one tracker run did (and, from the flow, what its dispatcher sent)."""

    jurisdiction: str
    as_of: date
    working_day: bool = True
    last_run: date | None = None
    active_items: int = 0
    notices: int = 0
    escalated: int = 0
    markers: int = 0
    digests: int = 0
    supplementary_digests: int = 0
    # deadlines counted on a provisional year (暂定) that became official: re-counted, moved
    deadlines_recounted: int = 0
    deadlines_moved: int = 0
    calendar_warning: bool = False  # the office was told official coverage ends soon
    by_step: dict[str, int] = Field(default_factory=dict)
    unknown_sections: list[str] = Field(default_factory=list)  # not in [findings.sections]
    warnings: list[str] = Field(default_factory=list)  # e.g. a run dated before the last one
    rows: list[NoticeRow] = Field(default_factory=list)
    dispatch: DispatchReport | None = None


# ------------------------------------------------------------------ the use case


def track(uow: UnitOfWork, actor: Actor, jurisdiction: str, as_of: date) -> TrackSummary:
    """One tracker run for `as_of` in the unit of work's transaction (see the module docstring)."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.RUN_CYCLE,
        Target(jurisdiction_id=jur.id),
        action=f"run the rectification tracker of {jurisdiction}",
    )
    summary = TrackSummary(jurisdiction=jurisdiction, as_of=as_of)
    policy = uow.policy
    cal = WorkCalendar.from_policy(policy.calendar)
    if not cal.is_workday(as_of):
        summary.working_day = False
        return summary
    last_run = uow.tracking.lock_last_run(jur.id, JOB)
    summary.last_run = last_run
    if last_run is not None and as_of < last_run:
        summary.warnings.append(
            f"this run is dated {as_of}, before the last run on {last_run}: business dates "
            f"only move forward, so it plans only what falls due by {as_of} and was not yet "
            f"sent; check --as-of (the tracker's date stays {last_run})"
        )
    items = _load(uow, jur.id, policy, summary)
    _recount_deadlines(uow, actor, jurisdiction, jur.id, as_of, items, cal, summary)
    summary.calendar_warning = _warn_calendar_ending(uow, jurisdiction, jur.id, as_of, cal)
    planned = plan_reminders(
        [i.view for i in items.values()],
        as_of=as_of,
        last_run=last_run,
        cal=cal,
        ladder=policy.reminders,
    )
    summary.notices = len(planned)
    rises = [
        (p.item_id, p.level) for p in planned if p.level is not None and p.level != p.previous_level
    ]
    uow.tracking.set_levels(rises)
    summary.escalated = len(rises)
    day = _Day(
        jurisdiction_id=jur.id,
        as_of=as_of,
        office=policy.office_name(jurisdiction),
        base_url=uow.settings.base_url,
    )
    uow.notifications.add_all(_markers(day, planned, items, summary))
    _digests(uow, day, items, policy, summary)
    # Never backwards: re-running an old day must not reopen a window already covered.
    uow.tracking.record_last_run(jur.id, JOB, max(as_of, last_run) if last_run else as_of)
    uow.audit.record(
        actor,
        action="track_rectifications",
        entity="jurisdiction",
        key=jurisdiction,
        jurisdiction_id=jur.id,
        details={
            "as_of": as_of,
            "last_run": last_run,
            "notices": summary.notices,
            "warnings": summary.warnings,
            "escalated": summary.escalated,
            "digests": summary.digests + summary.supplementary_digests,
            "deadlines_moved": summary.deadlines_moved,
        },
    )
    return summary


# ------------------------------------------------------------------ its steps


@dataclass(frozen=True, slots=True)
class _Item:
    """An active item: the planner's view and the names the Chinese messages need."""

    view: ItemView
    row: TrackedItem
    contacts: tuple[str, ...]


@dataclass
class _Day:
    """One run's messages in the making: per recipient tag, the lines of its digest."""

    jurisdiction_id: int
    as_of: date
    office: str
    base_url: str = ""  # BIHUAN_BASE_URL: each line links to its item's page
    lines: dict[str, list[ReminderLine]] = field(default_factory=lambda: defaultdict(list))
    # A digest belongs to a department when it goes to that department's own people; section
    # and leadership digests span departments.
    department_of: dict[str, int | None] = field(default_factory=dict)


def _load(
    uow: UnitOfWork, jurisdiction_id: int, policy: Policy, summary: TrackSummary
) -> dict[int, _Item]:
    """Active items with their department and section tags, and the steps already notified
    (read back from the markers)."""
    section_tags = {s.name: s.tag for s in policy.findings.sections.values()}
    sent: dict[int, set[str]] = defaultdict(set)
    for key in uow.notifications.keys(jurisdiction_id, NotificationKind.REMINDER):
        parsed = parse_notice_key(key)
        if parsed is not None:
            sent[parsed[0]].add(parsed[1])
    items: dict[int, _Item] = {}
    unknown: set[str] = set()
    for row in uow.tracking.active_items(jurisdiction_id, ACTIVE):
        section = section_tags.get(row.supervising_section)
        if section is None:
            unknown.add(row.supervising_section)
            section = UNKNOWN_SECTION_TAG
        view = ItemView(
            id=row.id,
            department=row.department_code.lower(),
            deadline=row.deadline,
            status=row.status,
            issued_on=row.issued_on,
            escalation_level=row.escalation_level,
            last_response_on=row.last_response_on,
            sent_steps=frozenset(sent.get(row.id, ())),
            extensions=row.extensions,
            section=section,
        )
        contacts = tuple(contact_tags(row.department_code, row.notify_tags))
        items[row.id] = _Item(view=view, row=row, contacts=contacts)
    summary.active_items = len(items)
    summary.unknown_sections = sorted(unknown)
    return items


def _recount_deadlines(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    jurisdiction_id: int,
    as_of: date,
    items: dict[int, _Item],
    cal: WorkCalendar,
    summary: TrackSummary,
) -> None:
    """Deadlines counted on a provisional year that is official now are re-counted (the same
    working days from the same issue date, bihuan.core.provisional); each move is audited and
    each department told once, in one message per contact tag listing its moved items. The
    items' flags (the first provisional year of their deadline) are stored for the next run."""
    result = reconcile(
        (
            CountedDeadline(
                i.row.id, i.row.issued_on, i.row.deadline, i.row.deadline_provisional_from
            )
            for i in items.values()
        ),
        cal,
    )
    uow.tracking.set_provisional_from(result.flags)
    summary.deadlines_recounted = len(result.recounts)
    moved = result.moved
    summary.deadlines_moved = len(moved)
    if not moved:
        return
    uow.tracking.move_deadlines([(r.item_id, r.new_deadline) for r in moved])
    by_department: dict[int, list[tuple[_Item, Recount]]] = defaultdict(list)
    for r in moved:
        item = items[r.item_id]
        items[r.item_id] = item = _Item(
            view=replace(item.view, deadline=r.new_deadline),
            row=replace(item.row, deadline=r.new_deadline),
            contacts=item.contacts,
        )
        by_department[item.row.department_id].append((item, r))
        uow.audit.record(
            actor,
            action="recount_deadline",
            entity=ITEM_ENTITY,
            key=str(r.item_id),
            jurisdiction_id=jurisdiction_id,
            details={
                "old_deadline": r.old_deadline,
                "new_deadline": r.new_deadline,
                "workdays": r.workdays,
                "official_years": list(r.official_years),
                "as_of": as_of,
            },
        )
    base_url = uow.settings.base_url
    for department_id, moves in by_department.items():
        first = moves[0][0]
        context = {
            "department": first.row.department_name,
            "office": uow.policy.office_name(jurisdiction),
            "on_date": as_of,
            "years": sorted({y for _, r in moves for y in r.official_years}),
            "moves": [
                {
                    "item_id": r.item_id,
                    "title": item.row.title,
                    "old_deadline": r.old_deadline,
                    "new_deadline": r.new_deadline,
                    "link": item_link(base_url, r.item_id) if base_url else "",
                }
                for item, r in moves
            ],
        }
        subject = " ".join(render("deadline_recount.subject.txt", context).split())
        body = render("deadline_recount.txt", context)
        for tag in first.contacts:
            uow.notifications.enqueue(
                NewMessage(
                    jurisdiction_id=jurisdiction_id,
                    key=f"deadline-recount:{department_id}:{as_of.isoformat()}:{tag}",
                    department_id=department_id,
                    recipient_tag=tag,
                    kind=NotificationKind.RECTIFICATION_NOTICE,
                    subject=subject,
                    body=body,
                    business_date=as_of,
                )
            )


def _warn_calendar_ending(
    uow: UnitOfWork, jurisdiction: str, jurisdiction_id: int, as_of: date, cal: WorkCalendar
) -> bool:
    """Within `[calendar] warn_days_before_end` days of the end of official coverage, tell the
    office once (the key carries the coverage's end, so a new notice imported starts afresh)."""
    until = cal.official_until()
    left = (until - as_of).days
    if left > uow.policy.calendar.warn_days_before_end:
        return False
    context = {
        "office": uow.policy.office_name(jurisdiction),
        "until": until,
        "days_left": left,
        "next_year": until.year + 1,
        "on_date": as_of,
    }
    return uow.notifications.enqueue(
        NewMessage(
            jurisdiction_id=jurisdiction_id,
            key=f"calendar-ending:{jurisdiction}:{until.isoformat()}",
            department_id=None,
            recipient_tag=uow.policy.office.alert_tag,
            kind=NotificationKind.OFFICE_ALERT,
            subject=" ".join(render("calendar_ending.subject.txt", context).split()),
            body=render("calendar_ending.txt", context),
            business_date=as_of,
        )
    )


def expand_recipients(notice: PlannedNotice, contacts: tuple[str, ...]) -> tuple[str, ...]:
    """The planner addresses the department by one tag; its contact may have several."""
    out: list[str] = []
    for tag in notice.recipients:
        out.extend(contacts if tag == notice.department else (tag,))
    return tuple(dict.fromkeys(out))


def reminder_line(notice: PlannedNotice, row: TrackedItem, *, base_url: str = "") -> ReminderLine:
    days = notice.overdue_days
    stage = "overdue" if days > 0 else "due" if days == 0 else "pre_due"
    return ReminderLine(
        department=row.department_name,
        title=row.title,
        deadline=row.deadline,
        stage=stage,
        days=abs(days),
        level=notice.level or EscalationLevel.CONTACT,
        link=item_link(base_url, notice.item_id),
    )


def _markers(
    day: _Day, planned: Sequence[PlannedNotice], items: dict[int, _Item], summary: TrackSummary
) -> list[NewMessage]:
    """One marker per notice and recipient (the record that the step was notified), and each
    recipient's digest lines; fills the summary's rows."""
    markers: list[NewMessage] = []
    for p in planned:
        item = items[p.item_id]
        row = item.row
        line = reminder_line(p, row, base_url=day.base_url)
        # Plain text only: a marker is a record, and the HTML would cost a third of the run.
        ctx = ReminderContext(
            department=row.department_name,
            stage=line.stage,
            items=[line],
            deadline=row.deadline,
            level=line.level,
            business_date=day.as_of,
            office=day.office,
        )
        subject = " ".join(render("reminder.subject.txt", ctx).split())
        text = render("reminder.txt", ctx)
        tags = expand_recipients(p, item.contacts)
        for tag in tags:
            markers.append(
                NewMessage(
                    jurisdiction_id=day.jurisdiction_id,
                    key=notice_key(p.item_id, p.step, tag),
                    department_id=row.department_id,
                    recipient_tag=tag,
                    kind=NotificationKind.REMINDER,
                    subject=subject,
                    body=text,
                    business_date=day.as_of,
                    status=NotificationStatus.DIGESTED,
                )
            )
            day.lines[tag].append(line)
            own = tag in item.contacts or tag == head_tag(row.department_code)
            day.department_of[tag] = row.department_id if own else None
        summary.rows.append(
            NoticeRow(
                item=p.item_id,
                department=row.department_code,
                department_name=row.department_name,
                step=p.step,
                skipped=list(p.skipped),
                level=p.level,
                level_label=p.level.label if p.level else "",
                escalated=p.escalated,
                recipients=list(tags),
            )
        )
        summary.by_step[p.kind] = summary.by_step.get(p.kind, 0) + 1
    summary.markers = len(markers)
    return markers


def display_names(items: dict[int, _Item], policy: Policy) -> dict[str, str]:
    """Who a tag is, in Chinese, for the digest's salutation."""
    names: dict[str, str] = {LEADERSHIP_TAG: EscalationLevel.LEADERSHIP.label}
    for section in policy.findings.sections.values():
        names.setdefault(section.tag, section.name)
    for item in items.values():
        for tag in item.contacts:
            names.setdefault(tag, item.row.department_name)
        names.setdefault(
            head_tag(item.row.department_code), f"{item.row.department_name}主要负责人"
        )
    return names


def _digests(
    uow: UnitOfWork, day: _Day, items: dict[int, _Item], policy: Policy, summary: TrackSummary
) -> None:
    """One digest per recipient of the day; a supplementary one when the day's digest was
    already written by an earlier run that day."""
    names = display_names(items, policy)
    for tag, lines in sorted(day.lines.items()):
        subject, text = render_digest(
            DigestContext(
                recipient=names.get(tag, tag),
                business_date=day.as_of,
                items=lines,
                office=day.office,
            )
        )
        key = digest_key(day.jurisdiction_id, day.as_of, tag)

        def message(
            key: str, tag: str = tag, subject: str = subject, text: str = text
        ) -> NewMessage:
            return NewMessage(
                jurisdiction_id=day.jurisdiction_id,
                key=key,
                department_id=day.department_of.get(tag),
                recipient_tag=tag,
                kind=NotificationKind.DIGEST,
                subject=subject,
                body=text,
                business_date=day.as_of,
            )

        if uow.notifications.enqueue(message(key)):
            summary.digests += 1
            continue
        # the day's digest went out with an earlier run: the next free supplement, key:2,
        # key:3, ... (each try one insert on the key's unique index)
        supplement = 2
        while not uow.notifications.enqueue(message(f"{key}:{supplement}")):
            supplement += 1
        summary.supplementary_digests += 1


__all__ = [
    "JOB",
    "NoticeRow",
    "TrackSummary",
    "display_names",
    "expand_recipients",
    "reminder_line",
    "track",
]
