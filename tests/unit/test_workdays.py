"""The working-day calendar: statutory holidays, 调休 Saturdays, config years, unknown years."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bihuan.core.workdays import CalendarError, WorkCalendar
from bihuan.errors import UserError
from bihuan.policy import Calendar, CalendarYear

CAL = WorkCalendar()


def naive_add(cal: WorkCalendar, start: date, n: int) -> date:
    """Day-by-day reference for add_workdays, to check the indexed version against."""
    day, step, left = start, (1 if n > 0 else -1), abs(n)
    while left:
        day += timedelta(days=step)
        if cal.is_workday(day):
            left -= 1
    return day


def test_national_day_2022() -> None:
    # Oct 1–7 off; Saturday Oct 8 and Sunday Oct 9 are worked in exchange (调休).
    assert CAL.add_workdays(date(2022, 9, 28), 5) == date(2022, 10, 10)
    assert CAL.add_workdays(date(2022, 9, 28), 3) == date(2022, 10, 8)
    assert not any(CAL.is_workday(date(2022, 10, d)) for d in range(1, 8))
    assert CAL.workdays_between(date(2022, 9, 30), date(2022, 10, 9)) == 2


def test_tiaoxiu_saturday_is_a_workday() -> None:
    assert date(2022, 10, 8).weekday() == 5
    assert CAL.is_workday(date(2022, 10, 8))
    assert CAL.next_workday(date(2022, 9, 30)) == date(2022, 10, 8)
    assert CAL.previous_workday(date(2022, 10, 10)) == date(2022, 10, 9)
    assert not CAL.is_workday(date(2022, 10, 15))  # an ordinary Saturday


def test_spring_festival_2023() -> None:
    assert not any(CAL.is_workday(date(2023, 1, d)) for d in range(21, 28))
    assert CAL.is_workday(date(2023, 1, 28)) and CAL.is_workday(date(2023, 1, 29))
    assert CAL.add_workdays(date(2023, 1, 19), 1) == date(2023, 1, 20)
    assert CAL.add_workdays(date(2023, 1, 20), 1) == date(2023, 1, 28)
    assert CAL.add_workdays(date(2023, 1, 19), 4) == date(2023, 1, 30)
    assert CAL.add_workdays(date(2023, 1, 30), -2) == date(2023, 1, 28)
    assert CAL.add_workdays(date(2023, 1, 30), -3) == date(2023, 1, 20)
    assert CAL.workdays_between(date(2023, 1, 20), date(2023, 1, 27)) == 0


def test_zero_days_is_the_day_or_the_next_workday() -> None:
    assert CAL.add_workdays(date(2022, 10, 10), 0) == date(2022, 10, 10)
    assert CAL.add_workdays(date(2022, 10, 1), 0) == date(2022, 10, 8)


def test_workdays_between_is_signed_and_half_open() -> None:
    a, b = date(2022, 9, 28), date(2022, 10, 10)
    assert CAL.workdays_between(a, b) == 5
    assert CAL.workdays_between(b, a) == -5
    assert CAL.workdays_between(a, a) == 0
    # across a year end: Dec 30 2022 (Fri) to Jan 3 2023 (Tue, Jan 2 is a holiday)
    assert CAL.workdays_between(date(2022, 12, 30), date(2023, 1, 3)) == 1


def test_year_outside_the_calendar_names_the_year_and_the_fix() -> None:
    with pytest.raises(CalendarError) as caught:
        CAL.is_workday(date(2027, 3, 1))
    message = str(caught.value)
    assert "2027" in message
    assert "[calendar.years.2027]" in message
    assert "config/policy.toml" in message
    assert "国务院办公厅关于2027年部分节假日安排的通知" in message
    assert isinstance(caught.value, UserError) and caught.value.exit_code == 2
    # a deadline counted into the unknown year fails too, rather than guessing weekdays
    with pytest.raises(CalendarError, match="2027"):
        CAL.add_workdays(date(2026, 12, 28), 10)


def test_config_year_and_overrides() -> None:
    cal = WorkCalendar.from_policy(
        Calendar(
            extra_holidays=[date(2022, 10, 10)],  # e.g. a county closure
            extra_workdays=[date(2022, 10, 15)],
            years={
                2027: CalendarYear(
                    holidays=[date(2027, 1, 1), date(2027, 2, 8)],
                    workdays=[date(2027, 2, 6)],  # a Saturday worked in exchange
                )
            },
        )
    )
    assert not cal.is_workday(date(2022, 10, 10))
    assert cal.is_workday(date(2022, 10, 15))
    assert cal.add_workdays(date(2022, 9, 28), 5) == date(2022, 10, 11)
    assert not cal.is_workday(date(2027, 1, 1))  # Friday, listed holiday
    assert cal.is_workday(date(2027, 2, 6))  # Saturday, listed workday
    assert cal.is_workday(date(2027, 3, 1))  # Monday, not listed: on
    assert not cal.is_workday(date(2027, 3, 6))  # Saturday, not listed: off
    assert cal.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)
    with pytest.raises(CalendarError, match="2028"):
        cal.add_workdays(date(2027, 12, 30), 5)


def test_config_year_replaces_the_package_year() -> None:
    cal = WorkCalendar(years={2022: ([date(2022, 3, 1)], [])})
    assert not cal.is_workday(date(2022, 3, 1))
    assert cal.is_workday(date(2022, 10, 3))  # the package's National Day is not used


def test_contradictory_config_names_the_key() -> None:
    with pytest.raises(CalendarError, match=r"calendar\.years\.2027"):
        WorkCalendar(years={2027: ([date(2027, 5, 3)], [date(2027, 5, 3)])})
    with pytest.raises(CalendarError, match=r"calendar\.years\.2027\.holidays"):
        WorkCalendar(years={2027: ([date(2028, 1, 1)], [])})
    with pytest.raises(CalendarError, match="extra_holidays"):
        WorkCalendar(extra_holidays=[date(2022, 1, 4)], extra_workdays=[date(2022, 1, 4)])


@given(
    start=st.dates(min_value=date(2006, 1, 1), max_value=date(2025, 6, 30)),
    n=st.integers(min_value=-300, max_value=300),
)
def test_add_workdays_matches_day_by_day_and_between_inverts_it(start: date, n: int) -> None:
    end = CAL.add_workdays(start, n)
    if n != 0:
        assert end == naive_add(CAL, start, n)
        assert CAL.is_workday(end)
        # workdays_between counts (a, b], so from start to the n-th workday after it is n
        # backwards, (end, start] holds the |n| - 1 workdays between plus start if it is one
        expected = n if n > 0 else n + (0 if CAL.is_workday(start) else 1)
        assert CAL.workdays_between(start, end) == expected


def test_fast_enough_for_a_million_items() -> None:
    import time

    CAL.add_workdays(date(2022, 1, 1), 400)  # warm the year cache
    began = time.perf_counter()
    day = date(2022, 3, 1)
    for i in range(100_000):
        CAL.add_workdays(day, i % 40)
    per_call = (time.perf_counter() - began) / 100_000
    assert per_call < 20e-6, f"{per_call * 1e6:.1f} µs per add_workdays"
