"""Statutory holidays by rule (《全国年节及纪念日放假办法》, 2024 revision) for years without data.

The State Council fixes each year's arrangement (the 调休 bridges and the weekend days worked in
exchange) only in its November or December notice. Until then, the days the law itself gives are
known: 元旦 Jan 1; 春节 from 除夕 to 初三 (4 days); 清明 on the day of the 清明 solar term; 劳动节
May 1–2; 端午 lunar 5/5; 中秋 lunar 8/15; 国庆 Oct 1–3. :func:`statutory_holidays` computes them;
:mod:`bihuan.core.workdays` turns them plus weekends into a provisional (暂定) year.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

import chinese_calendar
from lunardate import LunarDate

# The 2024 revision (国务院令第793号) took effect on 2025-01-01; earlier years had fewer days
# (春节 without 除夕, 劳动节 one day), so the rule says nothing true about them.
RULE_FIRST_YEAR = 2025
# lunardate's tables end with lunar year 2099; chinese_calendar's solar terms with 2100.
RULE_LAST_YEAR = 2099


class Festival(StrEnum):
    """A holiday named by the 放假办法, plus SPECIAL for one-off days (e.g. 2015-09-03)."""

    NEW_YEAR = "new_year"
    SPRING_FESTIVAL = "spring_festival"
    QINGMING = "qingming"
    LABOUR_DAY = "labour_day"
    DRAGON_BOAT = "dragon_boat"
    MID_AUTUMN = "mid_autumn"
    NATIONAL_DAY = "national_day"
    SPECIAL = "special"

    @property
    def label(self) -> str:
        """The Chinese name a county office reads (元旦, 春节, ...)."""
        return FESTIVAL_LABELS[self]


FESTIVAL_LABELS: dict[Festival, str] = {
    Festival.NEW_YEAR: "元旦",
    Festival.SPRING_FESTIVAL: "春节",
    Festival.QINGMING: "清明节",
    Festival.LABOUR_DAY: "劳动节",
    Festival.DRAGON_BOAT: "端午节",
    Festival.MID_AUTUMN: "中秋节",
    Festival.NATIONAL_DAY: "国庆节",
    Festival.SPECIAL: "特别假日",
}

# Statutory days per festival under the 2024 revision (for docs and sanity checks).
STATUTORY_DAYS: dict[Festival, int] = {
    Festival.NEW_YEAR: 1,
    Festival.SPRING_FESTIVAL: 4,
    Festival.QINGMING: 1,
    Festival.LABOUR_DAY: 2,
    Festival.DRAGON_BOAT: 1,
    Festival.MID_AUTUMN: 1,
    Festival.NATIONAL_DAY: 3,
}

# chinese_calendar names its days in English (Holiday.value); anything else it knows is a
# one-off day such as the 2015 anniversary of the victory over fascism.
_PACKAGE_NAMES: dict[str, Festival] = {
    chinese_calendar.Holiday.new_years_day.value: Festival.NEW_YEAR,
    chinese_calendar.Holiday.spring_festival.value: Festival.SPRING_FESTIVAL,
    chinese_calendar.Holiday.tomb_sweeping_day.value: Festival.QINGMING,
    chinese_calendar.Holiday.labour_day.value: Festival.LABOUR_DAY,
    chinese_calendar.Holiday.dragon_boat_festival.value: Festival.DRAGON_BOAT,
    chinese_calendar.Holiday.mid_autumn_festival.value: Festival.MID_AUTUMN,
    chinese_calendar.Holiday.national_day.value: Festival.NATIONAL_DAY,
}


def festival_of_package_name(name: str) -> Festival:
    """The festival of a chinese_calendar holiday name ("Spring Festival" → SPRING_FESTIVAL)."""
    return _PACKAGE_NAMES.get(name, Festival.SPECIAL)


def package_label(name: str) -> str:
    """The Chinese label of a chinese_calendar holiday name, its own Chinese for one-off days."""
    festival = festival_of_package_name(name)
    if festival is not Festival.SPECIAL:
        return festival.label
    try:
        return str(chinese_calendar.Holiday(name).chinese)
    except ValueError:
        return name


def _check_range(year: int) -> None:
    # a programmer's mistake: WorkCalendar only asks within the range and says so to the user
    if not 1901 <= year <= RULE_LAST_YEAR:
        raise ValueError(f"the lunar calendar is only known for 1901–{RULE_LAST_YEAR}, not {year}")


def lunar_new_year(year: int) -> date:
    """初一 of the lunar year that begins in Gregorian ``year`` (between Jan 21 and Feb 20)."""
    _check_range(year)
    return LunarDate(year, 1, 1).to_solar_date()


def spring_festival_eve(year: int) -> date:
    """除夕 in Gregorian ``year``: the last day of the 12th lunar month, whether it has 29 or 30
    days (腊月二十九 in a short month), hence the day before 初一 rather than lunar 12/30."""
    return lunar_new_year(year) - timedelta(days=1)


def lunar_day(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar ``month``/``day`` (never the leap month) of lunar ``year``."""
    _check_range(year)
    return LunarDate(year, month, day).to_solar_date()


def qingming(year: int) -> date:
    """The day of the 清明 solar term (sun at 15° longitude, Beijing time): April 4 or 5.

    chinese_calendar computes solar terms with the 寿星 formula and a table of corrections; for
    清明 it agrees with an astronomical computation (Meeus) for every year 2004–2099.
    """
    _check_range(year)
    terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
    return next(day for day, name in terms if name == "清明")


def statutory_holidays(year: int) -> dict[date, Festival]:
    """Every day off the 2024 revision gives in ``year``, sorted by date, with its festival.

    Days falling on a weekend stay in the result (they are still the festival), but no day is
    added in lieu: only the State Council's notice does that.
    """
    eve = spring_festival_eve(year)
    days: list[tuple[date, Festival]] = [
        (date(year, 1, 1), Festival.NEW_YEAR),
        *((eve + timedelta(days=i), Festival.SPRING_FESTIVAL) for i in range(4)),
        (qingming(year), Festival.QINGMING),
        (date(year, 5, 1), Festival.LABOUR_DAY),
        (date(year, 5, 2), Festival.LABOUR_DAY),
        (lunar_day(year, 5, 5), Festival.DRAGON_BOAT),
        (lunar_day(year, 8, 15), Festival.MID_AUTUMN),
        *((date(year, 10, 1 + i), Festival.NATIONAL_DAY) for i in range(3)),
    ]
    # 中秋 can fall on Oct 1–3 (it did in 2001 and 2020): the day is off once, and under the name
    # chinese_calendar and the notices give it, 国庆节 (National Day comes last and overwrites)
    merged = dict(days)
    return {day: merged[day] for day in sorted(merged)}


def _statutory_near(days: list[date]) -> dict[date, Festival]:
    """Statutory days of the years ``days`` touch and the next one (a December 元旦 break)."""
    years = {d.year for d in days} | {d.year + 1 for d in days}
    result: dict[date, Festival] = {}
    for year in sorted(years):
        if 1901 <= year <= RULE_LAST_YEAR:
            result.update(statutory_holidays(year))
    return result


def name_arrangement(holidays: set[date], workdays: set[date]) -> dict[date, Festival | None]:
    """Which festival each listed day belongs to, for a year that lists only dates (a configured
    year of config/policy.toml): the names are not stored, so they are inferred.

    Days off are grouped into breaks (listed holidays joined by weekends). A statutory day is
    its own festival; another day of a break takes the festival with the most statutory days in
    that break (so the bridge days of a 中秋-国庆 break are 国庆节, as the notices put them). A
    调休 workday pays for the nearest break that has bridge days (weekdays off beyond the
    statutory ones), else the nearest break. A break without statutory days is None.
    """
    if not holidays and not workdays:
        return {}
    statutory = _statutory_near(sorted(holidays | workdays))
    breaks: list[list[date]] = []
    for day in sorted(holidays):
        last = breaks[-1][-1] if breaks else None
        gap = (day - last).days if last else 0
        between = [last + timedelta(days=i) for i in range(1, gap)] if last else []
        if last and all(d.weekday() >= 5 and d not in workdays for d in between):
            breaks[-1].append(day)
        else:
            breaks.append([day])
    names: dict[date, Festival | None] = {}
    ranked: list[tuple[list[date], Festival | None, bool]] = []
    for run in breaks:
        counts: dict[Festival, int] = {}
        for d in run:
            if d in statutory:
                counts[statutory[d]] = counts.get(statutory[d], 0) + 1
        main = (
            max(counts, key=lambda f: (counts[f], f == Festival.NATIONAL_DAY)) if counts else None
        )
        bridged = any(d.weekday() < 5 and d not in statutory for d in run)
        ranked.append((run, main, bridged))
        for d in run:
            names[d] = statutory.get(d, main)
    for day in sorted(workdays):
        candidates = [r for r in ranked if r[2]] or ranked
        if not candidates:
            names[day] = None
            continue
        # on a tie the break after the workday wins: a Sunday worked before a holiday pays for it
        run, main, _ = min(
            candidates,
            key=lambda r: (min(abs((d - day).days) for d in r[0]), r[0][0] < day),
        )
        names[day] = main
    return names
