"""Deadlines counted on a provisional year (暂定), and what happens when the year becomes official.

A deadline is N Chinese working days after the item's issue. For a year that neither the
chinese_calendar package nor `[calendar.years.YYYY]` covers, the calendar counts by the
provisional rule (weekends plus the statutory holidays of the 2024 放假办法, no 调休 yet), so such
a deadline may move once the State Council's notice for that year is imported (`bihuan calendar
import-notice`) or a newer package is installed.

Each open item keeps the first provisional year its deadline was counted over
(`provisional_from`). When that year is no longer provisional, the deadline is re-counted: the
working days it stood for under the provisional rule (:meth:`WorkCalendar.with_provisional`) are
counted again on the official calendar from the same issue date. A deadline that moves is
audited and its department told once (bihuan.services.tracking). Pure: the caller passes the
calendar of today's policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bihuan.core.workdays import WorkCalendar


@dataclass(frozen=True, slots=True)
class CountedDeadline:
    """An open item's deadline and what it was counted from."""

    item_id: int
    issued_on: date
    deadline: date
    provisional_from: int | None  # as stored: the first provisional year of (issued_on, deadline]


@dataclass(frozen=True, slots=True)
class Recount:
    """A deadline whose provisional year became official, re-counted (``moved`` when it changed)."""

    item_id: int
    old_deadline: date
    new_deadline: date
    workdays: int  # the working days after issue the deadline stands for
    official_years: tuple[int, ...]  # the years that were provisional and are official now

    @property
    def moved(self) -> bool:
        return self.new_deadline != self.old_deadline


@dataclass(frozen=True, slots=True)
class Reconciliation:
    recounts: list[Recount]
    flags: list[tuple[int, int | None]]  # (item id, provisional_from) to store, changed ones only

    @property
    def moved(self) -> list[Recount]:
        return [r for r in self.recounts if r.moved]


def reconcile(items: Iterable[CountedDeadline], cal: WorkCalendar) -> Reconciliation:
    """Re-count the deadlines whose provisional years are official in `cal`, and the flags to
    store: each item's first provisional year under `cal` (None when its deadline is official)."""
    recounts: list[Recount] = []
    flags: list[tuple[int, int | None]] = []
    for item in items:
        now = cal.first_provisional_year(item.issued_on, item.deadline)
        was = item.provisional_from
        if was is not None and (now is None or now > was):
            # every year from `was` on was counted by the rule then (coverage is unbroken)
            then = range(was, item.deadline.year + 1)
            official = tuple(y for y in then if not cal.is_provisional_year(y))
            workdays = cal.with_provisional(then).workdays_between(item.issued_on, item.deadline)
            new = cal.add_workdays(item.issued_on, workdays) if workdays > 0 else item.deadline
            recounts.append(Recount(item.item_id, item.deadline, new, workdays, official))
            now = cal.first_provisional_year(item.issued_on, new)
        if now != was:
            flags.append((item.item_id, now))
    return Reconciliation(recounts, flags)


__all__ = ["CountedDeadline", "Reconciliation", "Recount", "reconcile"]
