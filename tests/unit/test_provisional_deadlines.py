"""Deadlines counted on a provisional year (暂定) re-counted when the year becomes official
(bihuan.core.provisional), by hand-checked dates of 2026–2027."""

from __future__ import annotations

from datetime import date

from bihuan.core.holidays import statutory_holidays
from bihuan.core.provisional import CountedDeadline, reconcile
from bihuan.core.workdays import WorkCalendar

ISSUED = date(2026, 12, 28)  # a Monday; 2026 is official (package), 2027 provisional


def official_2027() -> WorkCalendar:
    """2027 as a notice might set it: the rule's days off plus Monday and Tuesday 4–5 January
    off, Saturday 9 January worked (调休)."""
    off = {*statutory_holidays(2027), date(2027, 1, 4), date(2027, 1, 5)}
    return WorkCalendar(years={2027: (off, {date(2027, 1, 9)})})


def test_first_provisional_year_of_a_span() -> None:
    cal = WorkCalendar()
    assert cal.first_provisional_year(ISSUED, date(2026, 12, 31)) is None
    assert cal.first_provisional_year(ISSUED, date(2027, 1, 20)) == 2027
    assert official_2027().first_provisional_year(ISSUED, date(2027, 1, 20)) is None
    # before a year is official, a copy counted as it was
    assert (
        official_2027().with_provisional([2027]).first_provisional_year(ISSUED, date(2027, 1, 20))
        == 2027
    )


def test_a_provisional_deadline_moves_by_the_working_days_it_stood_for() -> None:
    provisional, official = WorkCalendar(), official_2027()
    old = provisional.add_workdays(ISSUED, 10)
    # by the rule: 29, 30, 31 Dec, (1 Jan off), 4, 5, 6, 7, 8, 11, 12 → the 10th is 12 January
    assert old == date(2027, 1, 12)
    item = CountedDeadline(1, ISSUED, old, provisional.first_provisional_year(ISSUED, old))
    result = reconcile([item], official)
    (recount,) = result.moved
    # officially 4 and 5 January are off and Saturday 9 is worked: 29, 30, 31, 6, 7, 8, 9, 11,
    # 12, 13 → 13 January
    assert recount.new_deadline == date(2027, 1, 13) == official.add_workdays(ISSUED, 10)
    assert recount.workdays == 10 and recount.official_years == (2027,)
    assert result.flags == [(1, None)]  # official now: never re-counted again


def test_nothing_moves_while_the_year_is_still_provisional_and_flags_are_set_once() -> None:
    cal = WorkCalendar()
    deadline = cal.add_workdays(ISSUED, 10)
    unflagged = CountedDeadline(1, ISSUED, deadline, None)
    flagged = CountedDeadline(2, ISSUED, deadline, 2027)
    official = CountedDeadline(3, date(2026, 11, 2), date(2026, 11, 30), None)
    result = reconcile([unflagged, flagged, official], cal)
    assert result.recounts == []
    assert result.flags == [(1, 2027)]  # only the change is written


def test_an_unchanged_count_is_re_counted_but_not_moved() -> None:
    """The official year equal to the rule in the span: the flag clears, the date stays."""
    rule_like = WorkCalendar(years={2027: (set(statutory_holidays(2027)), set())})
    deadline = WorkCalendar().add_workdays(ISSUED, 10)
    result = reconcile([CountedDeadline(7, ISSUED, deadline, 2027)], rule_like)
    assert [r.moved for r in result.recounts] == [False]
    assert result.moved == [] and result.flags == [(7, None)]
