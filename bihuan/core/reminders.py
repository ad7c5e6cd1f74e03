"""Reminder and escalation planning for rectification items: which notice goes to whom today.

Pure and catch-up safe: the tracker passes the day of this run (``as_of``) and of the last
successful run (``last_run``); everything that became due in between is considered, but each item
gets at most ONE notice per run, the most advanced step, with the steps it stands for listed in
``skipped``. After a ten-day outage a department gets one consolidated notice per item, never a
burst.

Steps, counted in working days from the deadline (a deadline on a holiday counts from the next
working day, as a period ending on a holiday does in Chinese procedural law):

- ``pre-N``: N working days before the deadline, for each N in ``reminders.pre_due``;
- ``due``: on the deadline day (if ``reminders.due_day``);
- ``overdue-N``: N working days overdue; the gaps between them are ``reminders.overdue_every``
  and the last gap repeats (gaps 1, 2, 4, 8 give overdue-1, -3, -7, -15, -23, -31, ...);
- ``escalate-head`` / ``escalate-section`` / ``escalate-leadership``: when the escalation level
  rises (``reminders.escalate_after``: working days overdue at which contact, head, supervising
  section and office leadership are reached).

Rules:

- a step already in ``sent_steps`` is never planned again, nor is a pre/due/overdue step that is
  not later than the latest step sent (a re-run with a stale ``last_run`` cannot go backwards);
- steps due on or before ``issued_on`` are skipped: the problem list itself is that notice;
- after a deadline extension (延期) the item starts a new round: its step keys get the prefix
  ``ext<k>:`` (k = number of extensions), so the new deadline has its own reminders;
- only items the department still works on (open, in_progress, reopened) get notices; items
  waiting for the office (reported_fixed, cannot_solve_requested) and closed ones get nothing;
- on a non-working day nothing is planned: the next working day's run covers the gap.

Escalation freeze rule (the level measures silence after the deadline, not lateness): the level
follows the ladder until the department responds (start, report_fixed, request_cannot_solve).
A response on or after the day the stored level was reached freezes the level for good. If no
level was stored yet (the tracker did not run since the deadline), a response on or after the
first ladder day freezes the level at the one the ladder had reached on the response day. A
response before the deadline does not freeze anything. The level never goes down, except that an
extension resets it (the state machine sets it to None).

Recipients (apprise tags, see :func:`recipients`) accumulate up the ladder: the department
contact always, plus ``<dept>-head``, plus the supervising section's tag, plus ``leadership``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from bihuan.core.rectification import Level, Status
from bihuan.core.workdays import WorkCalendar
from bihuan.policy import Reminders

LEVELS: tuple[Level, ...] = tuple(Level)
ACTIVE = frozenset({Status.OPEN, Status.IN_PROGRESS, Status.REOPENED})
LEADERSHIP_TAG = "leadership"

# Tie-break between steps due on the same working day: the later kind is the more advanced.
_RANK = {"pre": 0, "due": 1, "overdue": 2, "escalate": 3}


@dataclass(frozen=True, slots=True)
class ItemView:
    """What the planner needs to know about one rectification item."""

    id: int
    department: str  # the department's apprise tag, e.g. "d01"
    deadline: date
    status: Status
    issued_on: date
    escalation_level: Level | None = None
    last_response_on: date | None = None
    sent_steps: frozenset[str] = frozenset()  # step keys already in the outbox, any recipient
    extensions: int = 0
    section: str = "office"  # apprise tag of the supervising section (督促科室)


@dataclass(frozen=True, slots=True)
class PlannedNotice:
    """One consolidated notice about one item; the shell stores ``level`` on the item."""

    item_id: int
    department: str
    step: str  # step key, e.g. "overdue-3" or "ext1:pre-2"
    kind: str  # pre | due | overdue | escalate
    due_on: date  # the working day the step became due
    skipped: tuple[str, ...]  # earlier unsent steps this notice stands for
    level: Level | None
    previous_level: Level | None
    recipients: tuple[str, ...]
    deadline: date
    overdue_days: int  # working days past the deadline; negative: working days left

    @property
    def escalated(self) -> bool:
        return self.level != self.previous_level


def recipients(level: Level | None, department: str, section: str = "office") -> tuple[str, ...]:
    """Apprise tags a notice at ``level`` goes to; the contact stays informed at every level.

    Tag scheme: ``d01`` the department's contact (联络人), ``d01-head`` its head (主要负责人),
    the supervising section's own tag (督促科室), ``leadership`` the office's leadership (编办领导).
    """
    reached = -1 if level is None else LEVELS.index(level)
    tags = [department]
    if reached >= 1:
        tags.append(f"{department}-head")
    if reached >= 2:
        tags.append(section)
    if reached >= 3:
        tags.append(LEADERSHIP_TAG)
    return tuple(dict.fromkeys(tags))


def notice_key(item_id: int, step: str, recipient: str) -> str:
    """Idempotency key of one notice in the outbox: item, step, recipient."""
    return f"item:{item_id}:{step}:{recipient}"


def parse_notice_key(key: str) -> tuple[int, str, str] | None:
    """(item id, step, recipient) of a key made by :func:`notice_key`; None for other keys.

    Steps may contain a colon themselves (``ext1:pre-2``); recipient tags do not."""
    parts = key.split(":")
    if len(parts) < 4 or parts[0] != "item":
        return None
    try:
        item_id = int(parts[1])
    except ValueError:
        return None
    return item_id, ":".join(parts[2:-1]), parts[-1]


def describe_step(step: str) -> str:
    """A step key in Chinese, as the item's page lists its reminders (e.g. ``ext1:overdue-3``
    is 第1次延期后：逾期3个工作日催办); an unknown key is shown as it is."""
    prefix = ""
    head, sep, rest = step.partition(":")
    if sep and head.startswith("ext") and head[3:].isdigit():
        prefix, step = f"第{int(head[3:])}次延期后：", rest
    kind, _, arg = step.partition("-")
    if kind == "pre" and arg.isdigit():
        text = f"到期前{int(arg)}个工作日提醒"
    elif kind == "due" and not arg:
        text = "到期当日提醒"
    elif kind == "overdue" and arg.isdigit():
        text = f"逾期{int(arg)}个工作日催办"
    elif kind == "escalate" and arg in {lvl.value for lvl in LEVELS}:
        text = f"升级提醒：{Level(arg).label}"
    else:
        return prefix + step
    return prefix + text


def digest_key(jurisdiction_id: int, day: date, recipient: str) -> str:
    """Idempotency key of the one digest a recipient gets on a day from a jurisdiction. The
    jurisdiction is part of it: in a province-wide installation the counties share recipient
    tags (`leadership`, a section's tag, a department code that every county has), and each
    county's digest is a message of its own (migration 0014 added it to older keys)."""
    return f"digest:{jurisdiction_id}:{day.isoformat()}:{recipient}"


def round_prefix(extensions: int) -> str:
    return "" if extensions == 0 else f"ext{extensions}:"


def _order(name: str, escalate_after: list[int]) -> tuple[int, int] | None:
    """(working-day offset from the deadline, kind rank) of a step name; None if unknown."""
    kind, _, arg = name.partition("-")
    try:
        if kind == "pre":
            return (-int(arg), 0)
        if kind == "due" and not arg:
            return (0, 1)
        if kind == "overdue":
            return (int(arg), 2)
        if kind == "escalate":
            return (escalate_after[LEVELS.index(Level(arg))], 3)
    except ValueError:
        return None
    return None


def _overdue_offsets(gaps: list[int], lo: int, hi: int) -> list[int]:
    """Overdue offsets in (lo, hi]; arithmetic past the list so long overdue items stay cheap."""
    out: list[int] = []
    offset = 0
    for gap in gaps:
        offset += gap
        if offset > hi:
            return out
        if offset > lo:
            out.append(offset)
    last = gaps[-1]
    if offset < lo:
        offset += (lo - offset) // last * last
    offset += last
    while offset <= hi:
        if offset > lo:
            out.append(offset)
        offset += last
    return out


def _ladder_index(overdue: int, escalate_after: list[int]) -> int:
    index = -1
    for i, threshold in enumerate(escalate_after):
        if overdue >= threshold:
            index = i
    return index


def escalation_level(
    item: ItemView, *, as_of: date, cal: WorkCalendar, ladder: Reminders
) -> Level | None:
    """The level ``item`` should be at on ``as_of`` under the freeze rule of this module."""
    deadline = cal.add_workdays(item.deadline, 0)
    between = cal.workdays_between
    return _level(item, deadline, between(deadline, as_of), between, ladder)


_Between = Callable[[date, date], int]


def _level(
    item: ItemView, deadline: date, overdue: int, between: _Between, ladder: Reminders
) -> Level | None:
    steps = ladder.escalate_after
    stored = -1 if item.escalation_level is None else LEVELS.index(item.escalation_level)
    response = None
    if item.last_response_on is not None:
        response = between(deadline, item.last_response_on)
    if stored >= 0 and response is not None and response >= steps[stored]:
        return LEVELS[stored]
    cutoff = overdue
    if response is not None and response >= steps[0]:
        cutoff = min(overdue, response)
    new = max(stored, _ladder_index(cutoff, steps))
    return None if new < 0 else LEVELS[new]


def plan_reminders(
    items: Iterable[ItemView],
    *,
    as_of: date,
    last_run: date | None,
    cal: WorkCalendar,
    ladder: Reminders,
) -> list[PlannedNotice]:
    """At most one notice per item for the run on ``as_of`` (see the module docstring)."""
    if not cal.is_workday(as_of):
        return []
    planned: list[PlannedNotice] = []
    # Deadlines repeat across items (a problem list gives a department one deadline), so the
    # calendar arithmetic is memoised for this run: about twice as fast on a million items.
    between = lru_cache(maxsize=1 << 16)(cal.workdays_between)
    add = lru_cache(maxsize=1 << 16)(cal.add_workdays)
    for item in items:
        if item.status not in ACTIVE:
            continue
        notice = _plan_one(item, as_of, last_run, between, add, ladder)
        if notice is not None:
            planned.append(notice)
    return planned


def _plan_one(
    item: ItemView,
    as_of: date,
    last_run: date | None,
    between: _Between,
    add: Callable[[date, int], date],
    ladder: Reminders,
) -> PlannedNotice | None:
    steps = ladder.escalate_after
    deadline = add(item.deadline, 0)
    hi = between(deadline, as_of)
    lo = between(deadline, item.issued_on)
    if last_run is not None:
        lo = max(lo, between(deadline, last_run))

    # Everything that fell due in the window, then the escalations; filtered against what was
    # sent only when there is something (most items on most days have nothing due).
    due: list[tuple[tuple[int, int], str]] = []
    if hi > lo:
        due += [((-n, 0), f"pre-{n}") for n in ladder.pre_due if lo < -n <= hi]
        if ladder.due_day and lo < 0 <= hi:
            due.append(((0, 1), "due"))
        if hi >= 1:
            due += [
                ((o, 2), f"overdue-{o}")
                for o in _overdue_offsets(ladder.overdue_every, max(lo, 0), hi)
            ]
    previous = item.escalation_level
    level = _level(item, deadline, hi, between, ladder) if hi >= 0 else previous
    before = -1 if previous is None else LEVELS.index(previous)
    after = -1 if level is None else LEVELS.index(level)
    rises = [
        ((steps[i], _RANK["escalate"]), f"escalate-{LEVELS[i].value}")
        for i in range(max(before + 1, 1), after + 1)
    ]
    if not due and not rises:
        return None

    prefix = round_prefix(item.extensions)
    if prefix:
        sent = {k[len(prefix) :] for k in item.sent_steps if k.startswith(prefix)}
    else:
        sent = {k for k in item.sent_steps if not k.startswith("ext")}
    orders = [o for o in (_order(name, steps) for name in sent) if o is not None]
    latest = max(orders, default=None)
    candidates = [
        (order, name)
        for order, name in due
        if name not in sent and (latest is None or order > latest)
    ]
    # An escalation is always announced, even if its day fell outside the window.
    candidates += [(order, name) for order, name in rises if name not in sent]

    if not candidates:
        return None
    candidates.sort()
    (offset, _), name = candidates[-1]
    return PlannedNotice(
        item_id=item.id,
        department=item.department,
        step=prefix + name,
        kind=name.partition("-")[0],
        due_on=add(deadline, offset),
        skipped=tuple(prefix + n for _, n in candidates[:-1]),
        level=level,
        previous_level=previous,
        recipients=recipients(level, item.department, item.section),
        deadline=deadline,
        overdue_days=hi,
    )


def digest(planned: Iterable[PlannedNotice]) -> dict[str, list[PlannedNotice]]:
    """Group notices by recipient tag: one digest per recipient per day."""
    out: dict[str, list[PlannedNotice]] = {}
    for notice in planned:
        for tag in notice.recipients:
            out.setdefault(tag, []).append(notice)
    return out
