"""The Chinese working-day calendar (工作日) that every deadline and reminder is counted in.

Source of truth, per year (:class:`Source`):

1. a year configured in ``[calendar.years.YYYY]`` of config/policy.toml (normally imported from
   the State Council's notice with ``bihuan calendar import-notice``): listed ``holidays`` are
   off, listed ``workdays`` (调休, weekend days worked in exchange) are on, otherwise Monday to
   Friday are on. A configured year replaces the package's data for that year, so the office can
   correct or extend it without waiting for a release. The notice for YYYY may start its 元旦
   break in late December of YYYY-1 (the 2019 and 2023 notices did); such December days listed
   under YYYY override those single days of YYYY-1;
2. otherwise the ``chinese_calendar`` package (2004–2026 in 1.11.0), which knows the statutory
   holidays and the 调休 workdays;
3. otherwise, with ``[calendar] provisional = true`` and a year from 2025 to 2099, a
   provisional (暂定) year: weekends plus the statutory days of the 2024 放假办法, computed by
   :mod:`bihuan.core.holidays`. It has no 调休 (the State Council has not chosen them yet), so a
   deadline counted into it may move by a few days once the notice is imported: callers mark
   such deadlines with :meth:`WorkCalendar.provisional_between`;
4. otherwise the year is unknown and asking about it raises :class:`CalendarError`: a silent
   Monday-to-Friday guess would put deadlines on Spring Festival days.

``extra_holidays`` / ``extra_workdays`` then override single days of any known year (a county
closure after a flood, an extra working Saturday).

Each year is computed once into a sorted tuple of workday ordinals, so ``is_workday`` is a set
lookup and ``add_workdays`` / ``workdays_between`` are a bisect plus a walk over whole years.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

import chinese_calendar

from bihuan.core.holidays import (
    RULE_FIRST_YEAR,
    RULE_LAST_YEAR,
    Festival,
    festival_of_package_name,
    name_arrangement,
    package_label,
    statutory_holidays,
)
from bihuan.errors import ConfigError
from bihuan.policy import Calendar


class CalendarError(ConfigError):
    """A date the working-day calendar cannot answer for; exit code 2 (a configuration gap)."""


class Source(StrEnum):
    """Where a year, or a single day, of the calendar comes from."""

    CONFIG = "config"  # [calendar.years.YYYY] of config/policy.toml
    PACKAGE = "package"  # the chinese_calendar package
    PROVISIONAL = "provisional"  # weekends + statutory days by rule (暂定)
    OVERRIDE = "override"  # [calendar] extra_holidays / extra_workdays (single days only)


def _package_years() -> range:
    known = chinese_calendar.holidays.keys()
    return range(min(known).year, max(known).year + 1)


PACKAGE_YEARS = _package_years()


def _missing_year_message(year: int, *, provisional: bool) -> str:
    first, last = PACKAGE_YEARS[0], PACKAGE_YEARS[-1]
    if not provisional and RULE_FIRST_YEAR <= year <= RULE_LAST_YEAR:
        fallback = (
            f" Or set provisional = true under [calendar] to count {year} provisionally (暂定) "
            "as weekends plus the statutory holidays, until the notice is out."
        )
    elif provisional:
        fallback = (
            f" The provisional rule (暂定) covers only {RULE_FIRST_YEAR}–{RULE_LAST_YEAR}, the "
            "years under the 2024 放假办法."
        )
    else:
        fallback = ""
    return (
        f"no working-day calendar for {year}: the chinese_calendar package covers "
        f"{first}–{last} and config/policy.toml has no [calendar.years.{year}]. "
        f"Import the State Council's notice 国务院办公厅关于{year}年部分节假日安排的通知 with "
        f"`bihuan calendar import-notice FILE`, or add [calendar.years.{year}] with holidays and "
        f"workdays to config/policy.toml by hand (holidays = the days off, workdays = the weekend "
        f"days worked in exchange, 调休).{fallback}"
    )


@dataclass(frozen=True, slots=True)
class _Year:
    ordinals: tuple[int, ...]  # sorted ordinals of the working days of the year
    members: frozenset[int]


@dataclass(frozen=True, slots=True)
class SpecialDay:
    """A day that is not simply a weekday at work or a weekend at rest.

    ``workday`` False: a named day off (a festival day, on a weekday or a weekend, or a closure);
    True: a weekend day worked in exchange (调休上班) or an extra working day. ``name`` is the
    Chinese label of the festival it belongs to, "" when there is none (an override).
    """

    day: date
    workday: bool
    name: str
    festival: Festival | None
    source: Source


class WorkCalendar:
    """Working days of the Chinese civil service; build one per run and reuse it (it caches)."""

    def __init__(
        self,
        *,
        years: Mapping[int, tuple[Iterable[date], Iterable[date]]] | None = None,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        use_package: bool = True,
        provisional: bool = True,
    ) -> None:
        self._configured: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        # each configured block as listed, carried December days included (for names)
        self._blocks: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        # late-December days a notice for year+1 lists, by the year they fall in
        self._carried: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        for year, (holidays, workdays) in sorted((years or {}).items()):
            off, on = frozenset(holidays), frozenset(workdays)
            for key, days in (("holidays", off), ("workdays", on)):
                stray = sorted(
                    d for d in days if d.year != year and not (d.year == year - 1 and d.month == 12)
                )
                if stray:
                    raise CalendarError(
                        f"config/policy.toml: calendar.years.{year}.{key}: {stray[0]} is not in "
                        f"{year}; move it under [calendar.years.{stray[0].year}] (only late-"
                        f"December days of {year - 1} that belong to the {year} 元旦 break may be "
                        "listed here)"
                    )
            both = sorted(off & on)
            if both:
                raise CalendarError(
                    f"config/policy.toml: calendar.years.{year}: {both[0]} is listed both as a "
                    "holiday and as a workday; keep it in one list"
                )
            self._blocks[year] = (off, on)
            self._configured[year] = (
                frozenset(d for d in off if d.year == year),
                frozenset(d for d in on if d.year == year),
            )
            carried_off = frozenset(d for d in off if d.year != year)
            carried_on = frozenset(d for d in on if d.year != year)
            if carried_off or carried_on:
                self._carried[year - 1] = (carried_off, carried_on)
        self._extra_off = frozenset(extra_holidays)
        self._extra_on = frozenset(extra_workdays)
        both = sorted(self._extra_off & self._extra_on)
        if both:
            raise CalendarError(
                f"config/policy.toml: calendar: {both[0]} is in both extra_holidays and "
                "extra_workdays; keep it in one list"
            )
        self._use_package = use_package
        self._provisional = provisional
        self._forced: frozenset[int] = frozenset()  # years counted by the rule whatever else
        self._cache: dict[int, _Year] = {}

    @classmethod
    def from_policy(cls, calendar: Calendar) -> WorkCalendar:
        """The calendar described by the ``[calendar]`` table of config/policy.toml."""
        return cls(
            years={y: (c.holidays, c.workdays) for y, c in calendar.years.items()},
            extra_holidays=calendar.extra_holidays,
            extra_workdays=calendar.extra_workdays,
            provisional=calendar.provisional,
        )

    # ------------------------------------------------------------------ where a year comes from

    def source(self, year: int) -> Source | None:
        """Where ``year``'s working days come from; None when the calendar cannot answer for it
        (then every question about that year raises :class:`CalendarError`)."""
        if year in self._forced and RULE_FIRST_YEAR <= year <= RULE_LAST_YEAR:
            return Source.PROVISIONAL
        if year in self._configured:
            return Source.CONFIG
        if self._use_package and year in PACKAGE_YEARS:
            return Source.PACKAGE
        if self._provisional and RULE_FIRST_YEAR <= year <= RULE_LAST_YEAR:
            return Source.PROVISIONAL
        return None

    def with_provisional(self, years: Iterable[int]) -> WorkCalendar:
        """This calendar as it was before `years` became official: those years counted by the
        provisional rule (暂定), everything else as here. What a deadline counted while they were
        provisional is re-counted against (bihuan.core.provisional)."""
        twin = copy.copy(self)
        twin._forced = self._forced | frozenset(years)
        twin._cache = {}
        return twin

    def first_provisional_year(self, a: date, b: date) -> int | None:
        """The first year with a day in (a, b] counted by the provisional rule, None when there is
        none: what a deadline counted over (a, b] stores so that it can be re-counted once the
        year becomes official."""
        if b <= a:
            return None
        first = (a + timedelta(days=1)).year
        return next((y for y in range(first, b.year + 1) if self.is_provisional_year(y)), None)

    def covers(self, year: int) -> bool:
        """Whether ``year`` has official data (package or configured), not just the rule."""
        return self.source(year) in (Source.CONFIG, Source.PACKAGE)

    def is_provisional_year(self, year: int) -> bool:
        """True when ``year`` is counted by the provisional rule (暂定): weekends plus statutory
        holidays, no 调休 yet. Anything counted in such a year may change once the State
        Council's notice for it is imported."""
        return self.source(year) is Source.PROVISIONAL

    def provisional_between(self, a: date, b: date) -> bool:
        """Whether any day in (a, b] falls in a provisional year, ((b, a] when b is before a).

        This is the flag to store and show beside a deadline: a deadline counted with
        ``add_workdays(start, n)`` is provisional (暂定) exactly when
        ``provisional_between(start, deadline)`` is true, and an overdue count from
        ``workdays_between(deadline, as_of)`` when ``provisional_between(deadline, as_of)`` is.
        Re-compute the deadline, and the flag, after importing the notice.
        """
        if b < a:
            a, b = b, a
        if a == b:
            return False
        first = (a + timedelta(days=1)).year
        return any(self.is_provisional_year(y) for y in range(first, b.year + 1))

    def official_until(self) -> date:
        """The last day of official coverage: Dec 31 of the last year of the unbroken run of
        package and configured years that starts at the package's first year (or at the first
        configured year without the package). Deadlines after it are provisional or unknown."""
        official = set(self._configured)
        if self._use_package:
            official |= set(PACKAGE_YEARS)
        if not official:
            raise CalendarError(
                "config/policy.toml: the calendar has no official year at all; add "
                "[calendar.years.YYYY] or use the chinese_calendar package"
            )
        year = min(official)
        while year + 1 in official:
            year += 1
        return date(year, 12, 31)

    # ------------------------------------------------------------------ working days

    def _base(self, year: int) -> Callable[[date], bool]:
        source = self.source(year)
        off: frozenset[date]
        on: frozenset[date]
        if source is Source.CONFIG:
            off, on = self._configured[year]
        elif source is Source.PACKAGE:
            pkg_off, pkg_on = chinese_calendar.holidays, chinese_calendar.workdays

            def package(d: date) -> bool:
                return d in pkg_on or (d.weekday() < 5 and d not in pkg_off)

            return package
        elif source is Source.PROVISIONAL:
            off, on = frozenset(statutory_holidays(year)), frozenset()
        else:
            raise CalendarError(_missing_year_message(year, provisional=self._provisional))

        def listed(d: date) -> bool:
            return d in on or (d.weekday() < 5 and d not in off)

        return listed

    def _year(self, year: int) -> _Year:
        cached = self._cache.get(year)
        if cached is not None:
            return cached
        base = self._base(year)
        carried_off, carried_on = self._carried.get(year, (frozenset(), frozenset()))
        day, end = date(year, 1, 1), date(year + 1, 1, 1)
        ordinals = []
        while day < end:
            if day in self._extra_on:
                on = True
            elif day in self._extra_off:
                on = False
            elif day in carried_on or day in carried_off:
                on = day in carried_on
            else:
                on = base(day)
            if on:
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

    # ------------------------------------------------------------------ listing a year

    def special_days(self, year: int) -> list[SpecialDay]:
        """Every named day off and every weekend day worked in ``year``, by date, with the
        festival and where it comes from (for ``bihuan calendar show``).

        Names of configured years are inferred from the dates (config lists dates only, see
        :func:`bihuan.core.holidays.name_arrangement`); ordinary weekends are not listed.
        """
        source = self.source(year)
        if source is None:
            raise CalendarError(_missing_year_message(year, provisional=self._provisional))
        found: dict[date, SpecialDay] = {}

        def add(d: date, workday: bool, festival: Festival | None, src: Source, name: str) -> None:
            found[d] = SpecialDay(d, workday, name, festival, src)

        if source is Source.PACKAGE:
            for d, pkg_name in chinese_calendar.holidays.items():
                if d.year == year:
                    add(
                        d,
                        False,
                        festival_of_package_name(pkg_name),
                        source,
                        package_label(pkg_name),
                    )
            for d, pkg_name in chinese_calendar.workdays.items():
                if d.year == year:
                    add(
                        d, True, festival_of_package_name(pkg_name), source, package_label(pkg_name)
                    )
        elif source is Source.PROVISIONAL:
            for d, festival in statutory_holidays(year).items():
                add(d, False, festival, source, festival.label)
        else:
            self._add_named(year, year, add)
        if year in self._carried:
            self._add_named(year + 1, year, add)
        for d in self._extra_off | self._extra_on:
            if d.year == year:
                prior = found.get(d)
                add(
                    d,
                    d in self._extra_on,
                    prior.festival if prior else None,
                    Source.OVERRIDE,
                    prior.name if prior else "",
                )
        return [found[d] for d in sorted(found)]

    def _add_named(
        self,
        block: int,
        year: int,
        add: Callable[[date, bool, Festival | None, Source, str], None],
    ) -> None:
        """Add the days of configured block ``block`` that fall in ``year``, named by inference
        over the whole block (a carried December day belongs to the next year's 元旦 break)."""
        off, on = self._blocks[block]
        names = name_arrangement(set(off), set(on))
        for d in sorted(off | on):
            if d.year == year:
                festival = names.get(d)
                add(d, d in on, festival, Source.CONFIG, festival.label if festival else "")
