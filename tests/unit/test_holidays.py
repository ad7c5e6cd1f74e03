"""The statutory-holiday rule (2024 放假办法) against chinese_calendar's published years."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from lunardate import LunarDate

from bihuan.core.holidays import (
    RULE_FIRST_YEAR,
    RULE_LAST_YEAR,
    STATUTORY_DAYS,
    Festival,
    festival_of_package_name,
    name_arrangement,
    qingming,
    spring_festival_eve,
    statutory_holidays,
)


@pytest.mark.parametrize("year", [2025, 2026])
def test_rule_is_a_subset_of_the_package_with_the_same_names(year: int) -> None:
    # the package also has the 调休 bridge days; every statutory day must be among its holidays
    rule = statutory_holidays(year)
    assert len(rule) == sum(STATUTORY_DAYS.values()) == 13
    for day, festival in rule.items():
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        assert on_holiday, f"{day} ({festival.label}) is a workday in chinese_calendar"
        assert name is not None and festival_of_package_name(name) is festival, (day, name)


@pytest.mark.parametrize("year", range(2008, 2027))
def test_lunar_and_solar_days_match_every_package_year(year: int) -> None:
    """初一–初三, 清明, 端午, 中秋, 元旦, May 1 and Oct 1–3 were statutory under the earlier
    revisions too, so 19 years of data check the lunar conversion and the solar term."""
    rule = statutory_holidays(year)
    older = {d for d, f in rule.items() if d != spring_festival_eve(year) and d != date(year, 5, 2)}
    for day in older:
        # a festival on a weekend was not always named in the package (端午 2012-06-23)
        assert day in chinese_calendar.holidays or day.weekday() >= 5, (day, rule[day])


def test_spring_festival_eve_in_a_short_twelfth_month() -> None:
    # 2025 had no 腊月三十: 除夕 was 腊月二十九, and the 2025 notice's 春节 begins on it
    eve = spring_festival_eve(2025)
    assert eve == date(2025, 1, 28)
    lunar = LunarDate.from_solar_date(eve.year, eve.month, eve.day)
    assert (lunar.month, lunar.day) == (12, 29)
    # a 30-day 腊月 (2023): 除夕 is 腊月三十
    eve = spring_festival_eve(2023)
    assert eve == date(2023, 1, 21)
    assert LunarDate.from_solar_date(2023, 1, 21).day == 30


def test_qingming_matches_the_package_and_stays_on_april_4_or_5() -> None:
    for year in range(2008, 2027):  # 清明 became a holiday in 2008
        day = qingming(year)
        assert chinese_calendar.holidays.get(day) == "Tomb-sweeping Day", day
    assert {qingming(y).day for y in range(RULE_FIRST_YEAR, RULE_LAST_YEAR + 1)} == {4, 5}


def test_2027_by_rule() -> None:
    assert statutory_holidays(2027) == {
        date(2027, 1, 1): Festival.NEW_YEAR,
        date(2027, 2, 5): Festival.SPRING_FESTIVAL,  # 除夕
        date(2027, 2, 6): Festival.SPRING_FESTIVAL,  # 初一
        date(2027, 2, 7): Festival.SPRING_FESTIVAL,
        date(2027, 2, 8): Festival.SPRING_FESTIVAL,
        date(2027, 4, 5): Festival.QINGMING,
        date(2027, 5, 1): Festival.LABOUR_DAY,
        date(2027, 5, 2): Festival.LABOUR_DAY,
        date(2027, 6, 9): Festival.DRAGON_BOAT,
        date(2027, 9, 15): Festival.MID_AUTUMN,
        date(2027, 10, 1): Festival.NATIONAL_DAY,
        date(2027, 10, 2): Festival.NATIONAL_DAY,
        date(2027, 10, 3): Festival.NATIONAL_DAY,
    }


def test_every_rule_year_has_its_thirteen_days_in_order() -> None:
    for year in range(RULE_FIRST_YEAR, RULE_LAST_YEAR + 1):
        rule = statutory_holidays(year)
        assert list(rule) == sorted(rule) and all(d.year == year for d in rule)
        mid_autumn = [d for d, f in rule.items() if f is Festival.MID_AUTUMN]
        # 中秋 on Oct 1–3 is one day off, not two (as in 2020, under 国庆节)
        assert len(rule) == (13 if mid_autumn else 12), year
        eve = spring_festival_eve(year)
        assert [rule[eve + timedelta(days=i)] for i in range(4)] == [Festival.SPRING_FESTIVAL] * 4


def test_mid_autumn_on_national_day_is_named_like_the_package() -> None:
    # 2020: 中秋 fell on Oct 1; chinese_calendar names the day 国庆节
    rule = statutory_holidays(2020)
    assert rule[date(2020, 10, 1)] is Festival.NATIONAL_DAY
    assert Festival.MID_AUTUMN not in rule.values()


def test_rule_outside_the_lunar_tables_is_a_programmer_error() -> None:
    with pytest.raises(ValueError, match="2100"):
        statutory_holidays(2100)


def test_names_of_a_dates_only_year_are_inferred_like_the_package() -> None:
    days = {d for d in chinese_calendar.holidays if d.year == 2025}
    workdays = {d for d in chinese_calendar.workdays if d.year == 2025}
    names = name_arrangement(days, workdays)
    for day in days | workdays:
        package = chinese_calendar.holidays.get(day) or chinese_calendar.workdays[day]
        assert names[day] is festival_of_package_name(package), day
    # a break without a statutory day (a closure) has no festival
    assert name_arrangement({date(2027, 7, 14)}, set()) == {date(2027, 7, 14): None}
    assert name_arrangement(set(), set()) == {}
