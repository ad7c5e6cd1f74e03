"""The coordinator's decision on a phase's problem lists (问题清单审核), as plain functions.

Pure: the service layer loads the proposed findings, these functions check the decision
(every finding it names must be awaiting approval in the departments decided; a changed
deadline may not lie before the day of approval, nor on a day that is not a working day) and plan one rectification item (整改事项) per kept finding, with its deadline
counted in Chinese working days from the severity (config [deadlines]) unless the coordinator
set one, and the office section that supervises it (config [findings.sections]).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from bihuan.core.workdays import CalendarError, WorkCalendar
from bihuan.policy import Deadlines, SupervisingSection
from bihuan.vocab import FindingCategory, Severity


@dataclass(frozen=True)
class Proposed:
    """A finding awaiting approval, with what its item and its problem list need."""

    id: int
    department_id: int
    department: str  # code
    department_name: str
    notify_tags: str
    category: FindingCategory
    severity: Severity
    title: str
    measures: str


@dataclass(frozen=True)
class Decision:
    """What the coordinator decided: findings to drop (with reasons) and deadlines to change."""

    drops: Mapping[int, str]
    deadlines: Mapping[int, date]


@dataclass(frozen=True)
class PlannedItem:
    """The rectification item a kept finding becomes."""

    finding: Proposed
    deadline: date
    section: SupervisingSection
    deadline_changed: bool  # the coordinator set it (audited as deadline_changed)
    # the first provisional year (暂定) the deadline is counted over, None when it is official
    provisional_from: int | None = None

    @property
    def provisional(self) -> bool:
        return self.provisional_from is not None


WEEKDAYS = "一二三四五六日"


class Problem(str):
    """What is wrong, in English (the string itself, for the command line and the logs), with
    the same in Chinese (`zh`) for the coordinator's page in the portal."""

    zh: str

    def __new__(cls, en: str, zh: str) -> Problem:
        said = super().__new__(cls, en)
        said.zh = zh
        return said


def decision_problems(
    pending_ids: Iterable[int],
    decision: Decision,
    as_of: date,
    *,
    calendar: WorkCalendar | None = None,
    elsewhere: Mapping[int, str] | None = None,
) -> list[Problem]:
    """What is wrong with a decision, in words for the coordinator (empty: nothing).

    `elsewhere` maps findings awaiting approval in departments this decision does not decide
    to their department's code (named in the message); with a `calendar`, a deadline set by
    hand must be a working day, and the message names the next one."""
    known = set(pending_ids)
    others = elsewhere or {}
    out: list[Problem] = [
        Problem(
            f"finding {ref} is of {others[ref]}, which this decision does not approve",
            f"问题 {ref} 属于 {others[ref]}，不在本次审核的部门之内",
        )
        if ref in others
        else Problem(f"finding {ref} is not awaiting approval", f"问题 {ref} 不在待审核之列")
        for ref in sorted({*decision.drops, *decision.deadlines})
        if ref not in known
    ]
    out += [
        Problem(
            f"finding {ref}: it is both dropped and given a deadline; do one or the other",
            f"问题 {ref} 既被删除又被设定了整改期限，请二者择一",
        )
        for ref in sorted(set(decision.drops) & set(decision.deadlines))
        if ref in known
    ]
    out += [
        Problem(
            f"finding {ref}: deadline {day} is before the day of approval {as_of}",
            f"问题 {ref} 的整改期限 {day} 早于审核日期 {as_of}",
        )
        for ref, day in sorted(decision.deadlines.items())
        if day < as_of
    ]
    if calendar is not None:
        out += [
            problem
            for ref, day in sorted(decision.deadlines.items())
            if day >= as_of and (problem := not_a_workday(ref, day, calendar))
        ]
    return out


def not_a_workday(ref: int, day: date, calendar: WorkCalendar) -> Problem | None:
    """Why `day` cannot be a deadline (None when it can): a weekend or a holiday, with the next
    working day to choose instead; or a year the calendar does not know."""
    try:
        if calendar.is_workday(day):
            return None
        suggestion = calendar.next_workday(day)
    except CalendarError:
        return Problem(
            f"finding {ref}: deadline {day} is in a year the working-day calendar does not cover",
            f"问题 {ref} 的整改期限 {day} 所在年度不在工作日历范围内",
        )
    weekday, next_weekday = WEEKDAYS[day.weekday()], WEEKDAYS[suggestion.weekday()]
    return Problem(
        f"finding {ref}: deadline {day} (星期{weekday}) is not a working day; "
        f"the next working day is {suggestion} (星期{next_weekday})",
        f"问题 {ref} 的整改期限 {day}（星期{weekday}）不是工作日，"
        f"下一个工作日是 {suggestion}（星期{next_weekday}）",
    )


def plan_items(
    kept: Sequence[Proposed],
    *,
    as_of: date,
    overrides: Mapping[int, date],
    days: Deadlines,
    sections: Mapping[str, SupervisingSection],
    calendar: WorkCalendar,
) -> list[PlannedItem]:
    """One item per kept finding: the coordinator's deadline, or `as_of` plus the severity's
    working days; supervised by the section configured for the finding's category."""
    planned = []
    for f in kept:
        deadline = overrides.get(f.id) or calendar.add_workdays(
            as_of, getattr(days, Severity(f.severity).value)
        )
        planned.append(
            PlannedItem(
                finding=f,
                deadline=deadline,
                section=sections[FindingCategory(f.category).value],
                deadline_changed=f.id in overrides,
                provisional_from=calendar.first_provisional_year(as_of, deadline),
            )
        )
    return planned


def by_department(items: Iterable[PlannedItem]) -> dict[int, list[PlannedItem]]:
    """Items grouped into one problem list per department, departments in code order."""
    groups: dict[int, list[PlannedItem]] = defaultdict(list)
    for item in sorted(items, key=lambda i: (i.finding.department, i.finding.id)):
        groups[item.finding.department_id].append(item)
    return dict(groups)


def reply_deadline(items: Sequence[PlannedItem]) -> date:
    """The date a department's rectification ledger is due back: its latest item deadline."""
    return max(i.deadline for i in items)
