"""The Chinese working-day calendar (工作日) that every deadline and reminder is counted in.

Source of truth, per year:

1. a year configured in ``[calendar.years.YYYY]`` of config/policy.toml: listed ``holidays`` are
   off, listed ``workdays`` (调休, weekend days worked in exchange) are on, otherwise Monday to
   Friday are on. A configured year replaces the package's data for that year, so the office can
   correct or extend it without waiting for a release;
2. otherwise the ``chinese_calendar`` package (2004–2026 in 1.11.0), which knows the statutory
   holidays and the 调休 workdays;
3. otherwise the year is unknown and asking about it raises :class:`CalendarError`: a silent
   Monday-to-Friday guess would put deadlines on Spring Festival days.

``extra_holidays`` / ``extra_workdays`` then override single days of any known year (a county
closure after a flood, an extra working Saturday).

Each year is computed once into a sorted tuple of workday ordinals, so ``is_workday`` is a set
lookup and ``add_workdays`` / ``workdays_between`` are a bisect plus a walk over whole years.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from bihuan.errors import ConfigError
from bihuan.policy import Calendar


class CalendarError(ConfigError):
    """A date the working-day calendar cannot answer for; exit code 2 (a configuration gap)."""


def _package_years() -> range:
    known = chinese_calendar.holidays.keys()
    return range(min(known).year, max(known).year + 1)


PACKAGE_YEARS = _package_years()


def _missing_year_message(year: int) -> str:
    first, last = PACKAGE_YEARS[0], PACKAGE_YEARS[-1]
    return (
        f"no working-day calendar for {year}: the chinese_calendar package covers "
        f"{first}–{last} and config/policy.toml has no [calendar.years.{year}]. "
        f"Add [calendar.years.{year}] with holidays and workdays to config/policy.toml, "
        f"from the State Council's notice 国务院办公厅关于{year}年部分节假日安排的通知 "
        f"(holidays = the days off, workdays = the weekend days worked in exchange, 调休)."
    )


@dataclass(frozen=True, slots=True)
class _Year:
    ordinals: tuple[int, ...]  # sorted ordinals of the working days of the year
    members: frozenset[int]


class WorkCalendar:
    """Working days of the Chinese civil service; build one per run and reuse it (it caches)."""

    def __init__(
        self,
        *,
        years: Mapping[int, tuple[Iterable[date], Iterable[date]]] | None = None,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        use_package: bool = True,
    ) -> None:
        self._configured: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        for year, (holidays, workdays) in (years or {}).items():
            off, on = frozenset(holidays), frozenset(workdays)
            for key, days in (("holidays", off), ("workdays", on)):
                stray = sorted(d for d in days if d.year != year)
                if stray:
                    raise CalendarError(
                        f"config/policy.toml: calendar.years.{year}.{key}: {stray[0]} is not in "
                        f"{year}; move it under [calendar.years.{stray[0].year}]"
                    )
            both = sorted(off & on)
            if both:
                raise CalendarError(
                    f"config/policy.toml: calendar.years.{year}: {both[0]} is listed both as a "
                    "holiday and as a workday; keep it in one list"
                )
            self._configured[year] = (off, on)
        self._extra_off = frozenset(extra_holidays)
        self._extra_on = frozenset(extra_workdays)
        both = sorted(self._extra_off & self._extra_on)
        if both:
            raise CalendarError(
                f"config/policy.toml: calendar: {both[0]} is in both extra_holidays and "
                "extra_workdays; keep it in one list"
            )
        self._use_package = use_package
        self._cache: dict[int, _Year] = {}

    @classmethod
    def from_policy(cls, calendar: Calendar) -> WorkCalendar:
        """The calendar described by the ``[calendar]`` table of config/policy.toml."""
        return cls(
            years={y: (c.holidays, c.workdays) for y, c in calendar.years.items()},
            extra_holidays=calendar.extra_holidays,
            extra_workdays=calendar.extra_workdays,
        )

    def covers(self, year: int) -> bool:
        return year in self._configured or (self._use_package and year in PACKAGE_YEARS)

    def _year(self, year: int) -> _Year:
        cached = self._cache.get(year)
        if cached is not None:
            return cached
        if year in self._configured:
            off, on = self._configured[year]

            def base(d: date) -> bool:
                return d in on or (d.weekday() < 5 and d not in off)

        elif self._use_package and year in PACKAGE_YEARS:
            pkg_off, pkg_on = chinese_calendar.holidays, chinese_calendar.workdays

            def base(d: date) -> bool:
                return d in pkg_on or (d.weekday() < 5 and d not in pkg_off)

        else:
            raise CalendarError(_missing_year_message(year))
        day, end = date(year, 1, 1), date(year + 1, 1, 1)
        ordinals = []
        while day < end:
            if day in self._extra_on or (base(day) and day not in self._extra_off):
                ordinals.append(day.toordinal())
            day += timedelta(days=1)
        built = _Year(tuple(ordinals), frozenset(ordinals))
        self._cache[year] = built
        return built

    def is_workday(self, d: date) -> bool:
        return d.toordinal() in self._year(d.year).members

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (n > 0), before it (n < 0).

        n = 0 gives ``start`` itself when it is a working day, else the next working day: a
        period whose last day is a holiday ends on the first working day after it (the rule of
        Chinese procedural law for 期间届满日).
        """
        if n == 0:
            return start if self.is_workday(start) else self.add_workdays(start, 1)
        year = start.year
        days = self._year(year).ordinals
        if n > 0:
            index = bisect.bisect_right(days, start.toordinal()) + n - 1
            while index >= len(days):
                index -= len(days)
                year += 1
                days = self._year(year).ordinals
        else:
            index = bisect.bisect_left(days, start.toordinal()) + n
            while index < 0:
                year -= 1
                days = self._year(year).ordinals
                index += len(days)
        return date.fromordinal(days[index])

    def next_workday(self, d: date) -> date:
        return self.add_workdays(d, 1)

    def previous_workday(self, d: date) -> date:
        return self.add_workdays(d, -1)

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; negative, -(working days in (b, a]), when b is before a.

        So ``workdays_between(deadline, as_of)`` is how many working days an item is overdue,
        and a negative value how many working days are left.
        """
        if b < a:
            return -self.workdays_between(b, a)
        return self._rank(b) - self._rank(a) + self._days_in_years(a.year, b.year)

    def _rank(self, d: date) -> int:
        """Working days of d's year on or before d."""
        return bisect.bisect_right(self._year(d.year).ordinals, d.toordinal())

    def _days_in_years(self, first: int, last: int) -> int:
        """Working days in the whole years first..last-1 (what ranks within a year miss)."""
        return sum(len(self._year(y).ordinals) for y in range(first, last))
