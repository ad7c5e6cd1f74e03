"""Read models of the rectification ledger (整改台账) for the people in the loop.

Each is one use case over the same scoping as `rectification.list_items` (a department user sees
its own department's items, a section user those its section supervises, the reading roles all):

- `item_list`: items with their deadline, working days left, escalation and reminders sent;
- `item_page` and `item_timeline`: one item, the moves the user may make, and every event,
  reminder, notice and decision with who and when (the item's history, the outbox's markers and
  notices, and the audit log's other records of the item);
- `verification_queue` (VERIFY): items reported fixed, waiting, with the evidence of the report;
- `overdue_items`: items past their deadline, by escalation level;
- `pending_requests` (DECIDE): extension and "cannot be solved" requests for the office;
- `department_rectifications`: one department's items of a year and its recent history.

Working days are the policy's calendar (`WorkCalendar.from_policy(policy.calendar)`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from bihuan.core.access import Actor, Permission, Target, check, listing, visible_department
from bihuan.core.links import item_path, problem_list_path
from bihuan.core.reminders import ACTIVE, parse_notice_key
from bihuan.core.workdays import CalendarError, WorkCalendar
from bihuan.repositories.rectification import ITEM_ENTITY, ItemView
from bihuan.services import notifications
from bihuan.services.authz import require
from bihuan.services.rectification import (
    PROGRESS_LABEL,
    EvidenceFile,
    HistoryEntry,
    ItemDetail,
    ItemRow,
    action_label,
    item_history,
    row_fields,
    scoped_views,
    visible_item,
)
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import (
    EscalationLevel,
    NotificationKind,
    RecheckOutcome,
    RectificationAction,
    RectificationStatus,
    label,
)

Status = RectificationStatus
WAITING = frozenset({Status.REPORTED_FIXED, Status.CANNOT_SOLVE_REQUESTED})  # for the office
STATUS_ORDER = {
    s: i
    for i, s in enumerate(
        [
            Status.REOPENED,
            Status.OPEN,
            Status.IN_PROGRESS,
            Status.CANNOT_SOLVE_REQUESTED,
            Status.REPORTED_FIXED,
            Status.VERIFIED_CLOSED,
            Status.CANNOT_SOLVE,
            Status.WITHDRAWN,
        ]
    )
}
PER_PAGE = 50
HISTORY_SHOWN = 100


# ------------------------------------------------------------------ typed results


class ItemLine(ItemRow):
    """An item as the lists show it: the ledger's fields and where it stands today."""

    workdays_left: int | None  # to the deadline, negative when overdue; None: nothing due
    overdue_days: int
    reminders: int  # reminder steps notified (每一步提醒算一次)
    last_reminder_on: date | None
    path: str  # its page, e.g. /items/12


class ItemList(BaseModel):
    """`item_list`: one page of the items the user may see, and how many there are by status."""

    as_of: date
    years: list[int]
    year: int | None
    department: str | None
    status: Status | None
    level: EscalationLevel | None
    counts: dict[str, int]  # by status, over the year and department chosen
    total: int  # with the status and level filters
    page: int
    per_page: int
    pages: int
    rows: list[ItemLine]


class TimelineEntry(BaseModel):
    """One thing that happened to an item: a move, a reminder, a notice or another record."""

    on_date: date  # the business day
    at: datetime | None  # when it was written (UTC)
    kind: str  # move | reminder | notice | record
    kind_label: str
    title: str
    who: str  # the acting user's name, or who sent it
    login: str
    role_label: str
    change: str  # e.g. 待整改 → 整改中
    text: str  # the note, reason or subject
    evidence_files: list[EvidenceFile] = []
    evidence_refs: list[str] = []
    recipients: list[str] = []
    delivery_label: str = ""


class Timeline(BaseModel):
    item: ItemRow
    entries: list[TimelineEntry]


class ItemPage(BaseModel):
    """`item_page`: what the item's page shows and offers."""

    as_of: date
    item: ItemDetail
    path: str
    allowed: list[RectificationAction]
    can_respond: bool  # may record progress (开始整改 / 报告整改进展)
    workdays_left: int | None
    overdue_days: int
    history: list[HistoryEntry]
    notices: list[notifications.ItemNotice]
    timeline: list[TimelineEntry]
    evidence: list[EvidenceFile]  # every file reported on the item, newest first
    problem_list_path: str


class QueueItem(ItemLine):
    """An item reported fixed, waiting for verification, with what the report said."""

    reported_on: date | None
    reported_by: str
    report_note: str
    evidence_files: list[EvidenceFile]
    evidence_refs: list[str]


class VerificationQueue(BaseModel):
    as_of: date
    rows: list[QueueItem]


class LevelGroup(BaseModel):
    level: EscalationLevel | None
    level_label: str
    rows: list[ItemLine]


class OverdueBoard(BaseModel):
    as_of: date
    total: int
    groups: list[LevelGroup]  # highest level first; items not escalated last


class PendingRequests(BaseModel):
    as_of: date
    extensions: list[ItemLine]  # 申请延期, oldest request first
    cannot_solve: list[ItemDetail]  # 申请无法解决


class DepartmentEvent(BaseModel):
    """One event of a department's rectification history."""

    item_id: int
    title: str
    path: str
    seq: int
    on_date: date
    at: datetime
    action_label: str
    change: str
    actor: str
    login: str
    reason: str


class DepartmentRectifications(BaseModel):
    code: str
    name: str
    as_of: date
    years: list[int]
    year: int | None
    counts: dict[str, int]
    on_time: int  # closed on or before the deadline
    rows: list[ItemLine]
    history: list[DepartmentEvent]


# ------------------------------------------------------------------ helpers


def _calendar(uow: UnitOfWork) -> WorkCalendar:
    return WorkCalendar.from_policy(uow.policy.calendar)


def workdays_left(cal: WorkCalendar, status: Status, deadline: date, as_of: date) -> int | None:
    """Working days from `as_of` to the deadline (0: due today, negative: overdue) while the
    department still owes work; None once the item waits for the office or is closed, or when
    the calendar cannot answer for the dates."""
    if status not in ACTIVE:
        return None
    try:
        return cal.workdays_between(as_of, cal.add_workdays(deadline, 0))
    except CalendarError:
        return None


def _reminders(
    uow: UnitOfWork, jurisdiction_id: int, views: Sequence[ItemView]
) -> dict[int, tuple[int, date | None]]:
    """(reminder steps notified, the last one's day) per item, from the outbox's markers."""
    wanted = {v.id for v in views}
    steps: dict[int, set[str]] = defaultdict(set)
    last: dict[int, date] = {}
    for key, day in uow.notifications.marker_keys(
        jurisdiction_id, NotificationKind.REMINDER.value, {v.department_id for v in views}
    ):
        parsed = parse_notice_key(key)
        if parsed is None or parsed[0] not in wanted:
            continue
        steps[parsed[0]].add(parsed[1])
        last[parsed[0]] = max(day, last.get(parsed[0], day))
    return {i: (len(steps[i]), last.get(i)) for i in wanted}


def _lines(
    uow: UnitOfWork, jurisdiction_id: int, views: Sequence[ItemView], as_of: date
) -> list[ItemLine]:
    cal = _calendar(uow)
    sent = _reminders(uow, jurisdiction_id, views)
    out = []
    for v in views:
        left = workdays_left(cal, Status(v.status), v.deadline, as_of)
        count, last = sent.get(v.id, (0, None))
        out.append(
            ItemLine(
                **row_fields(v),
                workdays_left=left,
                overdue_days=max(0, -left) if left is not None else 0,
                reminders=count,
                last_reminder_on=last,
                path=item_path(v.id),
            )
        )
    return out


def _work_order(v: ItemView) -> tuple[int, date, int]:
    return (STATUS_ORDER.get(Status(v.status), 99), v.deadline, v.id)


# ------------------------------------------------------------------ the list and one item


def item_list(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    as_of: date,
    *,
    year: int | None = None,
    department: str | None = None,
    status: Status | str | None = None,
    level: EscalationLevel | str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> ItemList:
    """The items the user may see (all years unless `year`), work still owed first (by
    status, then deadline), one page at a time, with the counts by status."""
    wanted = Status(status) if status else None
    chosen_level = EscalationLevel(level) if level else None
    jur_id, views = scoped_views(
        uow, actor, jurisdiction, "list rectification items", year=year, department=department
    )
    counts = Counter(v.status for v in views)
    if wanted is not None:
        views = [v for v in views if v.status == wanted.value]
    if chosen_level is not None:
        views = [v for v in views if v.escalation_level == chosen_level.value]
    views.sort(key=_work_order)
    pages = max(1, -(-len(views) // per_page))
    page = min(max(1, page), pages)
    shown = views[(page - 1) * per_page : page * per_page]
    return ItemList(
        as_of=as_of,
        years=uow.rectification.years(jur_id),
        year=year,
        department=department,
        status=wanted,
        level=chosen_level,
        counts={s.value: counts.get(s.value, 0) for s in Status},
        total=len(views),
        page=page,
        per_page=per_page,
        pages=pages,
        rows=_lines(uow, jur_id, shown, as_of),
    )


def item_page(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, item_id: int, as_of: date
) -> ItemPage:
    """One item for its page: the item, the moves this user may make, working days left, its
    history, reminders and notices, the timeline, and every evidence file."""
    found = item_history(uow, actor, jurisdiction, item_id)
    item = found.item
    jur_id = uow.jurisdictions.require(jurisdiction).id
    assert jur_id is not None
    notices = notifications.item_notices(uow, actor, jurisdiction, item_id)
    left = workdays_left(_calendar(uow), item.status, item.deadline, as_of)
    evidence = [f for e in reversed(found.history) for f in e.evidence_files]
    _v, target = visible_item(uow, actor, jurisdiction, item_id, f"show item {item_id}")
    can_respond = item.status in ACTIVE and check(actor, Permission.RESPOND, target) is None
    return ItemPage(
        as_of=as_of,
        item=item,
        path=item_path(item.id),
        allowed=found.allowed,
        can_respond=can_respond,
        workdays_left=left,
        overdue_days=max(0, -left) if left is not None else 0,
        history=found.history,
        notices=notices,
        timeline=_timeline(uow, jur_id, item_id, found.history, notices),
        evidence=list({f.sha256: f for f in evidence}.values()),
        problem_list_path=problem_list_path(item.year, item.phase.value, item.department),
    )


def item_timeline(uow: UnitOfWork, actor: Actor, jurisdiction: str, item_id: int) -> Timeline:
    """Every event, reminder and decision of one item, with who and when, oldest first. The
    same answer for an item that does not exist and one the user may not see."""
    found = item_history(uow, actor, jurisdiction, item_id)
    jur_id = uow.jurisdictions.require(jurisdiction).id
    assert jur_id is not None
    notices = notifications.item_notices(uow, actor, jurisdiction, item_id)
    return Timeline(
        item=ItemRow(**found.item.model_dump(include=set(ItemRow.model_fields))),
        entries=_timeline(uow, jur_id, item_id, found.history, notices),
    )


def _change(a: str, b: str) -> str:
    return f"{a} → {b}" if a and a != b else b


def _timeline(
    uow: UnitOfWork,
    jurisdiction_id: int,
    item_id: int,
    history: Sequence[HistoryEntry],
    notices: Sequence[notifications.ItemNotice],
) -> list[TimelineEntry]:
    entries: list[tuple[tuple[Any, ...], TimelineEntry]] = []
    for h in history:
        entries.append(
            (
                (h.on_date, h.at, 0, h.seq),
                TimelineEntry(
                    on_date=h.on_date,
                    at=h.at,
                    kind="move",
                    kind_label="整改记录",
                    title=h.action_label,
                    who=h.actor,
                    login=h.login,
                    role_label=h.role_label,
                    change=_change(h.from_status_label, h.to_status_label),
                    text=h.reason,
                    evidence_files=h.evidence_files,
                    evidence_refs=[
                        e for e in h.evidence if e not in {f.path for f in h.evidence_files}
                    ],
                ),
            )
        )
    for n in notices:
        reminder = n.kind == NotificationKind.REMINDER
        entries.append(
            (
                (n.business_date, n.created_at or datetime.min, 1, 0),
                TimelineEntry(
                    on_date=n.business_date,
                    at=n.created_at,
                    kind="reminder" if reminder else "notice",
                    kind_label=n.kind_label,
                    title=n.step_label if reminder else n.kind_label,
                    who="系统（每日整改跟踪）" if reminder else "系统（发件箱）",
                    login="",
                    role_label="",
                    change="",
                    text=n.subject,
                    recipients=n.recipients,
                    delivery_label=n.delivery_label,
                ),
            )
        )
    for a in uow.rectification.item_audits(jurisdiction_id, item_id):
        if a.entity != ITEM_ENTITY:
            continue  # the moves are in the history already
        details = a.details or {}
        on = details.get("as_of")
        day = date.fromisoformat(on) if isinstance(on, str) else a.at.date()
        entries.append(
            (
                (day, a.at, 2, a.id or 0),
                TimelineEntry(
                    on_date=day,
                    at=a.at,
                    kind="record",
                    kind_label="记录",
                    title=_record_title(a.action, details),
                    who=a.actor,
                    login=a.actor,
                    role_label="",
                    change="",
                    text=str(details.get("reason", "")),
                ),
            )
        )
    entries.sort(key=lambda pair: _sortable(pair[0]))
    return [e for _, e in entries]


def _sortable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    # timestamps from different sources: compare them as naive UTC
    return tuple(
        k.replace(tzinfo=None) if isinstance(k, datetime) and k.tzinfo is not None else k
        for k in key
    )


def _record_title(action: str, details: dict[str, Any]) -> str:
    if action == "alternative_lapsed":
        return "替代措施失效"
    if action == "recount_deadline":  # a provisional year became official (bihuan.core.provisional)
        years = "、".join(str(y) for y in details.get("official_years", []))
        return (
            f"{years}年节假日安排正式确定，整改期限按正式日历重新计算："
            f"{details.get('old_deadline', '')} → {details.get('new_deadline', '')}"
        )
    if action.startswith("recheck:"):
        outcome = label(str(details.get("outcome", "")), RecheckOutcome)
        return f"{action.removeprefix('recheck:')}年复查：{outcome}"
    return action


# ------------------------------------------------------------------ the office's queues


def verification_queue(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, as_of: date
) -> VerificationQueue:
    """Items reported fixed and waiting for verification (验收), oldest report first, with the
    report's note and evidence: the office sees all, a section user those it supervises."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(uow, actor, Permission.VERIFY, listing(jur.id), action="open the verification queue")
    _jur, views = scoped_views(
        uow,
        actor,
        jurisdiction,
        "open the verification queue",
        statuses=[Status.REPORTED_FIXED.value],
    )
    reports = uow.rectification.last_move_audits([v.id for v in views], "rectify_report_fixed")
    rows = []
    for line in _lines(uow, jur.id, views, as_of):
        a = reports.get(line.id)
        details = (a.details or {}) if a is not None else {}
        rows.append(
            QueueItem(
                **line.model_dump(),
                reported_on=line.last_response_on,
                reported_by=str(details.get("by", "")),
                report_note=str(details.get("reason", "")),
                evidence_files=[EvidenceFile(**f) for f in details.get("evidence_files", [])],
                evidence_refs=[str(r) for r in details.get("evidence_refs", [])],
            )
        )
    rows.sort(key=lambda r: (r.reported_on or date.min, r.id))
    return VerificationQueue(as_of=as_of, rows=rows)


def overdue_items(uow: UnitOfWork, actor: Actor, jurisdiction: str, as_of: date) -> OverdueBoard:
    """Items still owed past their deadline (in working days), grouped by escalation level,
    highest first, the longest overdue first within a level."""
    jur_id, views = scoped_views(
        uow,
        actor,
        jurisdiction,
        "list overdue items",
        statuses=[s.value for s in ACTIVE],
        deadline_before=as_of,
    )
    lines = [line for line in _lines(uow, jur_id, views, as_of) if line.overdue_days > 0]
    by_level: dict[EscalationLevel | None, list[ItemLine]] = defaultdict(list)
    for line in lines:
        by_level[line.escalation_level].append(line)
    order: list[EscalationLevel | None] = [*reversed(list(EscalationLevel)), None]
    groups = [
        LevelGroup(
            level=level,
            level_label=level.label if level else "尚未升级",
            rows=sorted(by_level[level], key=lambda r: (-r.overdue_days, r.department, r.id)),
        )
        for level in order
        if by_level.get(level)
    ]
    return OverdueBoard(as_of=as_of, total=len(lines), groups=groups)


def pending_requests(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, as_of: date
) -> PendingRequests:
    """What the office has to decide: extension requests (申请延期) and "cannot be solved"
    requests (申请无法解决). The office only (Permission.DECIDE)."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(uow, actor, Permission.DECIDE, listing(jur.id), action="list pending requests")
    extensions = uow.rectification.views(
        jur.id, extension_requested=True, statuses=[s.value for s in ACTIVE]
    )
    extensions.sort(key=lambda v: (v.extension_requested_on or date.min, v.id))
    cannot = uow.rectification.views(jur.id, statuses=[Status.CANNOT_SOLVE_REQUESTED.value])
    cannot.sort(key=lambda v: (v.last_response_on or date.min, v.id))
    return PendingRequests(
        as_of=as_of,
        extensions=_lines(uow, jur.id, extensions, as_of),
        cannot_solve=[
            ItemDetail(
                **row_fields(v),
                measures=v.measures,
                explanation=v.explanation,
                alternative=v.alternative,
            )
            for v in cannot
        ],
    )


# ------------------------------------------------------------------ a department's ledger


def department_rectifications(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    code: str,
    as_of: date,
    year: int | None = None,
) -> DepartmentRectifications:
    """One department's rectification ledger (all years unless `year`) and its latest history
    events. Another department is out of scope for a department user (the portal's 404)."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    dept = uow.departments.require_code(jur.id, code)
    assert dept.id is not None
    if visible_department(actor) is not None:
        require(
            uow,
            actor,
            Permission.READ_CYCLE,
            Target(jurisdiction_id=jur.id, department_id=dept.id, what=f"department {code}"),
            action=f"read the rectification ledger of {code}",
        )
    _jur, views = scoped_views(
        uow, actor, jurisdiction, "read a rectification ledger", department=code, year=year
    )
    views.sort(key=_work_order)
    counts = Counter(v.status for v in views)
    on_time = sum(1 for v in views if v.closed_on is not None and v.closed_on <= v.deadline)
    return DepartmentRectifications(
        code=dept.code,
        name=dept.name,
        as_of=as_of,
        years=uow.rectification.years(jur.id),
        year=year,
        counts={s.value: counts.get(s.value, 0) for s in Status},
        on_time=on_time,
        rows=_lines(uow, jur.id, views, as_of),
        history=_department_history(uow, views),
    )


def _department_history(uow: UnitOfWork, views: Iterable[ItemView]) -> list[DepartmentEvent]:
    titles = {v.id: v.title for v in views}
    events = uow.rectification.recent_events(list(titles), limit=HISTORY_SHOWN)
    moves = uow.rectification.move_actions(sorted({e.item_id for e in events}))
    out = []
    for e in events:
        action, login = moves.get((e.item_id, e.seq), ("", ""))
        name = (
            action.removeprefix("rectify_") if action else ("issued" if e.seq == 1 else "recorded")
        )
        before = Status(e.from_status).label if e.from_status else ""
        after = Status(e.to_status).label
        out.append(
            DepartmentEvent(
                item_id=e.item_id,
                title=titles.get(e.item_id, ""),
                path=item_path(e.item_id),
                seq=e.seq,
                on_date=e.on_date,
                at=e.at,
                action_label=action_label(name) if name != "progress" else PROGRESS_LABEL,
                change=_change(before, after),
                actor=e.actor,
                login=login,
                reason=e.reason,
            )
        )
    return out


__all__ = [
    "DepartmentEvent",
    "DepartmentRectifications",
    "ItemLine",
    "ItemList",
    "ItemPage",
    "LevelGroup",
    "OverdueBoard",
    "PendingRequests",
    "QueueItem",
    "Timeline",
    "TimelineEntry",
    "VerificationQueue",
    "department_rectifications",
    "item_list",
    "item_page",
    "item_timeline",
    "overdue_items",
    "pending_requests",
    "verification_queue",
    "workdays_left",
]
