"""The working-day calendar: statutory holidays, 调休 Saturdays, config, provisional and unknown years."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bihuan.core.holidays import Festival
from bihuan.core.workdays import CalendarError, Source, SpecialDay, WorkCalendar
from bihuan.errors import UserError
from bihuan.policy import Calendar, CalendarYear, load_policy

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
    strict = WorkCalendar(provisional=False)
    with pytest.raises(CalendarError) as caught:
        strict.is_workday(date(2027, 3, 1))
    message = str(caught.value)
    assert "2027" in message
    assert "[calendar.years.2027]" in message
    assert "config/policy.toml" in message
    assert "国务院办公厅关于2027年部分节假日安排的通知" in message
    assert "bihuan calendar import-notice" in message
    assert "provisional = true" in message  # the switch that would have avoided the error
    assert isinstance(caught.value, UserError) and caught.value.exit_code == 2
    # a deadline counted into the unknown year fails too, rather than guessing weekdays
    with pytest.raises(CalendarError, match="2027"):
        strict.add_workdays(date(2026, 12, 28), 10)


def test_provisional_rule_does_not_reach_years_before_the_2024_revision_or_past_2099() -> None:
    cal = WorkCalendar(use_package=False)
    with pytest.raises(CalendarError, match="2024"):
        cal.is_workday(date(2024, 3, 1))
    with pytest.raises(CalendarError, match="2025–2099"):
        CAL.is_workday(date(2100, 3, 1))


def test_config_year_and_overrides() -> None:
    cal = WorkCalendar.from_policy(
        Calendar(
            provisional=False,
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


# ---------------------------------------------------------------- provisional years (暂定)


def test_provisional_year_is_weekends_plus_statutory_days() -> None:
    cal = WorkCalendar()  # provisional is on by default, as in config/policy.toml
    assert cal.source(2027) is Source.PROVISIONAL and not cal.covers(2027)
    assert not cal.is_workday(date(2027, 1, 1))  # 元旦, a Friday
    assert not cal.is_workday(date(2027, 2, 5))  # 除夕, a Friday
    assert not cal.is_workday(date(2027, 2, 8))  # 初三, a Monday
    assert cal.is_workday(date(2027, 2, 9))  # no bridge days are guessed
    assert not cal.is_workday(date(2027, 2, 13))  # and no 调休 Saturdays
    assert not cal.is_workday(date(2027, 4, 5))  # 清明
    assert not cal.is_workday(date(2027, 6, 9)) and not cal.is_workday(date(2027, 9, 15))
    assert cal.is_workday(date(2027, 10, 4))  # 国庆 is Oct 1–3 only
    # the year-end run's deadlines now count into 2027 instead of failing
    assert cal.add_workdays(date(2026, 12, 28), 10) == date(2027, 1, 12)
    assert cal.workdays_between(date(2026, 12, 31), date(2027, 1, 12)) == 7
    # 365 days − 104 weekend days − 7 statutory days on weekdays
    assert cal.workdays_between(date(2026, 12, 31), date(2027, 12, 31)) == 254


def test_switching_provisional_off_keeps_the_error() -> None:
    cal = WorkCalendar.from_policy(Calendar(provisional=False))
    assert cal.source(2027) is None and not cal.is_provisional_year(2027)
    with pytest.raises(CalendarError, match=r"\[calendar\.years\.2027\]"):
        cal.add_workdays(date(2026, 12, 28), 10)


def test_provisional_marking() -> None:
    cal = WorkCalendar()
    assert cal.is_provisional_year(2027) and cal.is_provisional_year(2030)
    assert not cal.is_provisional_year(2026)
    assert not cal.is_provisional_year(2003)  # unknown, not provisional: it raises
    start = date(2026, 12, 28)
    deadline = cal.add_workdays(start, 10)
    assert cal.provisional_between(start, deadline)
    assert cal.provisional_between(deadline, start)  # order does not matter
    assert not cal.provisional_between(date(2026, 12, 1), date(2026, 12, 31))
    assert cal.provisional_between(date(2026, 12, 31), date(2027, 1, 1))  # (a, b]: Jan 1 counts
    assert not cal.provisional_between(date(2027, 1, 1), date(2027, 1, 1))
    assert not cal.provisional_between(date(2025, 3, 1), date(2026, 12, 31))
    # once 2027 is configured (the notice imported), 2027 is official and 2028 provisional
    configured = WorkCalendar(years={2027: ([date(2027, 1, 1)], [])})
    assert not configured.is_provisional_year(2027)
    assert not configured.provisional_between(start, date(2027, 12, 31))
    assert configured.provisional_between(start, date(2028, 1, 3))


def test_official_until_is_the_end_of_the_unbroken_run() -> None:
    assert WorkCalendar().official_until() == date(2026, 12, 31)
    assert WorkCalendar(provisional=False).official_until() == date(2026, 12, 31)
    assert WorkCalendar(years={2027: ([], [])}).official_until() == date(2027, 12, 31)
    # a configured 2028 with 2027 missing does not extend official coverage
    assert WorkCalendar(years={2028: ([], [])}).official_until() == date(2026, 12, 31)
    no_package = WorkCalendar(use_package=False, years={2027: ([], []), 2028: ([], [])})
    assert no_package.official_until() == date(2028, 12, 31)
    with pytest.raises(CalendarError, match="no official year"):
        WorkCalendar(use_package=False).official_until()


def test_a_notice_may_start_the_new_year_break_in_december() -> None:
    """The 2019 notice gave 2018-12-29 (Sat) as a workday and Dec 30–31 off; a notice for 2027
    doing the same must override those days of 2026, whatever 2026's source."""
    cal = WorkCalendar(years={2027: ([date(2026, 12, 31), date(2027, 1, 1)], [date(2026, 12, 26)])})
    assert not cal.is_workday(date(2026, 12, 31))  # a Thursday, off by the 2027 notice
    assert cal.is_workday(date(2026, 12, 26))  # a Saturday, worked
    assert cal.is_workday(date(2026, 12, 30))  # the rest of 2026 is the package's
    assert not cal.is_workday(date(2026, 10, 1))
    assert cal.add_workdays(date(2026, 12, 29), 2) == date(2027, 1, 4)
    assert cal.source(2026) is Source.PACKAGE  # single days, not the year
    shown = {d.day: d for d in cal.special_days(2026)}
    assert shown[date(2026, 12, 31)].source is Source.CONFIG
    assert shown[date(2026, 12, 31)].name == "元旦" and not shown[date(2026, 12, 31)].workday
    assert shown[date(2026, 12, 26)].workday
    # the office's own single-day overrides still win
    overridden = WorkCalendar(
        years={2027: ([date(2026, 12, 31)], [])}, extra_workdays=[date(2026, 12, 31)]
    )
    assert overridden.is_workday(date(2026, 12, 31))


def test_only_late_december_may_be_carried() -> None:
    with pytest.raises(CalendarError, match=r"calendar\.years\.2027\.holidays: 2026-06-01"):
        WorkCalendar(years={2027: ([date(2026, 6, 1)], [])})
    with pytest.raises(CalendarError, match=r"move it under \[calendar\.years\.2028\]"):
        WorkCalendar(years={2027: ([], [date(2028, 1, 1)])})


def test_special_days_name_and_source_every_listed_day() -> None:
    cal = WorkCalendar(extra_holidays=[date(2026, 7, 15)])
    days = {d.day: d for d in cal.special_days(2026)}
    assert days[date(2026, 2, 16)] == SpecialDay(
        date(2026, 2, 16), False, "春节", Festival.SPRING_FESTIVAL, Source.PACKAGE
    )
    assert days[date(2026, 1, 4)].workday and days[date(2026, 1, 4)].name == "元旦"
    assert days[date(2026, 7, 15)].source is Source.OVERRIDE and days[date(2026, 7, 15)].name == ""
    assert date(2026, 3, 7) not in days  # an ordinary Saturday is not listed
    provisional = cal.special_days(2027)
    assert len(provisional) == 13 and {d.source for d in provisional} == {Source.PROVISIONAL}
    assert not any(d.workday for d in provisional)
    with pytest.raises(CalendarError):
        WorkCalendar(provisional=False).special_days(2027)


def test_policy_default_and_the_shipped_file_turn_provisional_on() -> None:
    assert Calendar().provisional is True
    assert Calendar().warn_days_before_end == 60
    policy = load_policy(Path(__file__).resolve().parents[2] / "config")
    assert policy.calendar.provisional is True
    assert policy.calendar.warn_days_before_end == 60


@given(
    start=st.dates(min_value=date(2026, 6, 1), max_value=date(2031, 6, 30)),
    n=st.integers(min_value=-300, max_value=300),
)
def test_add_workdays_matches_day_by_day_across_provisional_years(start: date, n: int) -> None:
    end = CAL.add_workdays(start, n)
    assert end == (naive_add(CAL, start, n) if n else CAL.add_workdays(start, 0))
    assert CAL.is_workday(end)
