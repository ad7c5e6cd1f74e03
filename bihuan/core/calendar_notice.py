"""Reading the State Council's holiday notice (国务院办公厅关于YYYY年部分节假日安排的通知) into data.

The notice is formulaic: a title naming the year, then one numbered paragraph per festival::

    一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
    二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。
    2月14日（周六）、2月28日（周六）上班。

In each sentence, the dates before 放假 / 补休 / 调休 are days off and the dates before 上班 are
weekend days worked in exchange (调休上班). "A至B" is a range (B may omit the month, or lie in
the next month or year), "A、B" a list; a weekday in brackets is checked against the date, and
"共N天" against the days counted. Sentences starting with 鼓励 are advice (e.g. to let staff off
on 除夕) and bind nothing, so they are skipped. Everything here is pure: text in, data out, and
:func:`replace_year_block` rewrites the text of config/policy.toml without touching the rest.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from bihuan.core.holidays import RULE_FIRST_YEAR, RULE_LAST_YEAR, Festival, statutory_holidays
from bihuan.errors import UserError

# the longest arrangement so far was 10 days (春节 2020, extended); more is a typo in a range
MAX_RANGE_DAYS = 15

FESTIVAL_NAMES: dict[str, Festival] = {
    "元旦": Festival.NEW_YEAR,
    "春节": Festival.SPRING_FESTIVAL,
    "清明节": Festival.QINGMING,
    "清明": Festival.QINGMING,
    "劳动节": Festival.LABOUR_DAY,
    "五一劳动节": Festival.LABOUR_DAY,
    "五一": Festival.LABOUR_DAY,
    "端午节": Festival.DRAGON_BOAT,
    "端午": Festival.DRAGON_BOAT,
    "中秋节": Festival.MID_AUTUMN,
    "中秋": Festival.MID_AUTUMN,
    "国庆节": Festival.NATIONAL_DAY,
    "国庆": Festival.NATIONAL_DAY,
}
_EXPECTED_NAMES = "、".join(f.label for f in Festival if f is not Festival.SPECIAL)

_WEEKDAYS = "一二三四五六日"

# Patterns apply to NFKC-normalised text: full-width digits, colons, commas and brackets become
# their ASCII forms (１→1, ：→:, ，→",", （→"("), so one pattern reads both ways of typing.
_TITLE = re.compile(r"(?:关于|现将)\s*(\d{4})\s*年")
_NUMBERED = re.compile(r"^\s*(?:[一二三四五六七八九十]+\s*[、.]|\d{1,2}\s*[、.])\s*(?P<rest>.*)$")
_HEADING = re.compile(r"^(?P<head>[^:]{1,20}?)\s*:\s*(?P<body>.*)$")
_DATE = re.compile(
    r"(?:(?P<y>\d{4})\s*年\s*)?(?:(?P<m>\d{1,2})\s*月\s*)?(?P<d>\d{1,2})\s*日"
    r"(?:\s*\((?P<note>[^()]*)\))?"
)
_VERB = re.compile(r"上班|放假|补休|调休")
_WEEKDAY_NOTE = re.compile(r"(?:周|星期)([一二三四五六日天])")
_COUNT = re.compile(r"(?:共|放假)\s*(\d{1,2})\s*天")
_RANGE_JOINERS = {"至", "到", "-", "~", "—", "–", "－"}
_LIST_JOINERS = {"", "、", "和", "及", "与"}


class NoticeError(UserError):
    """The notice text could not be read; the message names the line and what was expected."""


@dataclass(frozen=True, slots=True)
class Arrangement:
    """One numbered paragraph: the days off of one festival (or two, 中秋节、国庆节) and the
    weekend days worked in exchange for them (调休上班)."""

    festivals: tuple[Festival, ...]
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]
    line: int

    @property
    def label(self) -> str:
        return "、".join(f.label for f in self.festivals)


@dataclass(frozen=True, slots=True)
class Notice:
    """A parsed notice: the year it is for and its arrangements in the order published."""

    year: int
    arrangements: tuple[Arrangement, ...]

    @property
    def title(self) -> str:
        return f"国务院办公厅关于{self.year}年部分节假日安排的通知"

    def holidays(self) -> list[date]:
        """Every day off, sorted; may start in late December of the year before (元旦)."""
        return sorted(d for a in self.arrangements for d in a.holidays)

    def workdays(self) -> list[date]:
        """Every weekend day worked in exchange (调休上班), sorted."""
        return sorted(d for a in self.arrangements for d in a.workdays)

    def festival_of(self, day: date) -> Festival | None:
        """The festival of ``day``: its paragraph's, or in a two-festival paragraph the one the day
        is (中秋 itself) or else 国庆节, as chinese_calendar names them."""
        for a in self.arrangements:
            if day in a.holidays or day in a.workdays:
                return a.festivals[0] if len(a.festivals) == 1 else _main_festival(a, day)
        return None

    def missing_festivals(self) -> list[Festival]:
        """Statutory festivals with no paragraph: a sign of a truncated paste."""
        named = {f for a in self.arrangements for f in a.festivals}
        return [f for f in Festival if f is not Festival.SPECIAL and f not in named]

    def statutory_gaps(self) -> list[tuple[date, Festival]]:
        """Statutory days (2024 放假办法) the notice does not give off: a sign of a wrong date.
        Empty for years outside the rule (before 2025)."""
        if not RULE_FIRST_YEAR <= self.year <= RULE_LAST_YEAR:
            return []
        off = set(self.holidays())
        return [(d, f) for d, f in statutory_holidays(self.year).items() if d not in off]


def _main_festival(arrangement: Arrangement, day: date) -> Festival:
    # in a 中秋节、国庆节 paragraph, 中秋 itself is 中秋节 and every other day 国庆节
    # (as chinese_calendar names them)
    statutory = statutory_holidays(day.year) if 1901 <= day.year <= RULE_LAST_YEAR else {}
    if statutory.get(day) in arrangement.festivals:
        return statutory[day]
    if Festival.NATIONAL_DAY in arrangement.festivals:
        return Festival.NATIONAL_DAY
    return arrangement.festivals[0]


@dataclass
class _Paragraph:
    line: int
    heading: str
    body: str


def _normalise(line: str) -> str:
    return unicodedata.normalize("NFKC", line).strip()


def _title_year(lines: list[str]) -> int | None:
    for line in lines:
        found = _TITLE.search(line)
        if found and ("节假日" in line or "放假" in line):
            return int(found.group(1))
    return None


def _paragraphs(lines: list[str], where: str) -> list[_Paragraph]:
    """Numbered paragraphs, joining the lines a paragraph was wrapped over. A paragraph ends at
    a blank line, the next numbered line, or a finished sentence followed by a line that does
    not go on with dates (the closing text, the signature)."""
    found: list[_Paragraph] = []
    current: _Paragraph | None = None
    for number, line in enumerate(lines, start=1):
        numbered = _NUMBERED.match(line)
        if numbered:
            heading = _HEADING.match(numbered.group("rest"))
            if heading is None:
                raise NoticeError(
                    f"{where}: line {number}: expected a festival name and a colon after the "
                    f"number, such as '一、元旦：1月1日放假', got {line!r}"
                )
            current = _Paragraph(number, heading.group("head"), heading.group("body"))
            found.append(current)
        elif not line:
            current = None
        elif current is not None:
            goes_on = not current.body.endswith("。") or line[0].isdigit() or line[:2] == "鼓励"
            if goes_on:
                current.body += line
            else:
                current = None
    return found


def _festivals(paragraph: _Paragraph, where: str) -> tuple[Festival, ...]:
    names = [n.strip() for n in re.split(r"[、,和及与]", paragraph.heading) if n.strip()]
    festivals = []
    for name in names:
        festival = FESTIVAL_NAMES.get(name)
        if festival is None:
            raise NoticeError(
                f"{where}: line {paragraph.line}: unknown festival {name!r}; expected one of "
                f"{_EXPECTED_NAMES}"
            )
        festivals.append(festival)
    return tuple(festivals)


class _Reader:
    """Reads the sentences of one paragraph into days off and workdays."""

    def __init__(
        self, year: int, paragraph: _Paragraph, festivals: tuple[Festival, ...], where: str
    ):
        self.year = year
        self.paragraph = paragraph
        self.festivals = festivals
        self.where = where
        self.holidays: list[date] = []
        self.workdays: list[date] = []

    def fail(self, problem: str) -> NoticeError:
        return NoticeError(f"{self.where}: line {self.paragraph.line}: {problem}")

    def read(self) -> None:
        for sentence in re.split(r"[。;]", self.paragraph.body):
            sentence = sentence.strip()
            if sentence and not sentence.startswith("鼓励"):
                self._sentence(sentence)

    def _resolve(self, found: re.Match[str], anchor: date | None, *, ends_range: bool) -> date:
        """The date of a mention; missing year and month come from ``anchor`` (the date before
        it in the sentence), else from the notice's year."""
        y, m, d = found.group("y"), found.group("m"), found.group("d")
        text = found.group(0)
        if m is None and anchor is None:
            raise self.fail(f"{text!r} has no month; expected a date such as 1月3日")
        month = int(m) if m is not None else anchor.month  # type: ignore[union-attr]
        if y is not None:
            year = int(y)
        elif anchor is not None:
            year = anchor.year + (1 if ends_range and month < anchor.month else 0)
        else:
            # a December day in the 元旦 paragraph is the end of the year before
            new_year = Festival.NEW_YEAR in self.festivals and month == 12
            year = self.year - 1 if new_year else self.year
        try:
            day = date(year, month, int(d))
        except ValueError:
            raise self.fail(f"{text!r} is not a date in {year}") from None
        note = found.group("note") or ""
        said = _WEEKDAY_NOTE.search(note)
        if said:
            expected = "日" if said.group(1) == "天" else said.group(1)
            actual = _WEEKDAYS[day.weekday()]
            if expected != actual:
                raise self.fail(
                    f"{month}月{day.day}日 is a 周{actual} in {year}, but the notice says "
                    f"周{expected}; check the year (the title or --year) and the date"
                )
        return day

    def _sentence(self, sentence: str) -> None:
        pending: list[date] = []
        off_here = 0
        last: date | None = None
        position = 0
        tokens = sorted(
            [(m.start(), m.end(), m) for m in _DATE.finditer(sentence)]
            + [(m.start(), m.end(), m) for m in _VERB.finditer(sentence)],
            key=lambda t: t[0],
        )
        for start, end, token in tokens:
            if start < position:  # a verb inside a date's bracketed note
                continue
            gap = sentence[position:start].strip()
            position = end
            if token.re is _VERB:
                if not pending:
                    continue  # 放假调休 after its dates, or 不调休: nothing waiting
                if token.group(0) == "上班":
                    self.workdays.extend(pending)
                else:
                    self.holidays.extend(pending)
                    off_here += len(pending)
                pending = []
                continue
            if pending and last is not None and gap in _RANGE_JOINERS:
                end_day = self._resolve(token, last, ends_range=True)
                length = (end_day - last).days + 1
                if length < 1:
                    raise self.fail(f"the range ending {token.group(0)!r} ends before it starts")
                if length > MAX_RANGE_DAYS:
                    raise self.fail(
                        f"the range ending {token.group(0)!r} is {length} days long; "
                        f"expected at most {MAX_RANGE_DAYS}"
                    )
                pending.extend(last + timedelta(days=i) for i in range(1, length))
                last = end_day
                continue
            if pending and gap not in _LIST_JOINERS:
                raise self.fail(
                    f"expected 放假 (days off) or 上班 (workdays) after {_iso(pending)}, "
                    f"got {gap!r}"
                )
            last = self._resolve(token, last, ends_range=False)
            pending.append(last)
        if pending:
            raise self.fail(
                f"{_iso(pending)} is followed by neither 放假 (days off) nor 上班 (workdays); "
                f"expected e.g. '1月1日放假' or '1月4日（周日）上班' in {sentence!r}"
            )
        count = _COUNT.search(sentence)
        if count and off_here and int(count.group(1)) != off_here:
            raise self.fail(
                f"the dates give {off_here} days off but the text says {count.group(0)}; "
                "check the range"
            )


def _iso(days: list[date]) -> str:
    return ", ".join(d.isoformat() for d in days)


def parse_notice(text: str, *, year: int | None = None, where: str = "notice") -> Notice:
    """Parse the notice; ``year`` overrides the title's (required when the title is missing).

    Raises :class:`NoticeError` naming ``where`` (the file), the line and what was expected.
    """
    lines = [_normalise(line) for line in text.splitlines()]
    titled = _title_year(lines)
    if year is not None and titled is not None and titled != year:
        raise NoticeError(
            f"{where}: the title is for {titled} but --year is {year}; drop --year or check the file"
        )
    year = year if year is not None else titled
    if year is None:
        raise NoticeError(
            f"{where}: no year: expected the title 国务院办公厅关于YYYY年部分节假日安排的通知 "
            "in the text, or give --year"
        )
    paragraphs = _paragraphs(lines, where)
    if not paragraphs:
        raise NoticeError(
            f"{where}: no numbered festival paragraphs; expected lines such as "
            "'一、元旦：1月1日放假，共1天。'"
        )
    arrangements: list[Arrangement] = []
    seen: dict[date, tuple[str, int]] = {}
    for paragraph in paragraphs:
        festivals = _festivals(paragraph, where)
        reader = _Reader(year, paragraph, festivals, where)
        reader.read()
        label = "、".join(f.label for f in festivals)
        for day in reader.holidays + reader.workdays:
            if day.year > year or (
                day.year < year and not (day.year == year - 1 and day.month == 12)
            ):
                raise reader.fail(
                    f"{day} is outside {year}; a notice for {year} covers {year} and, for 元旦, "
                    f"late December {year - 1}"
                )
            if day in seen:
                other, line = seen[day]
                raise reader.fail(f"{day} is listed twice: under {other} (line {line}) and here")
            seen[day] = (label, paragraph.line)
        for day in reader.workdays:
            if day.weekday() < 5:
                raise reader.fail(
                    f"{day} is a 周{_WEEKDAYS[day.weekday()]}; a 调休 workday (上班) is a weekend "
                    "day worked in exchange, so check the date"
                )
        arrangements.append(
            Arrangement(
                festivals=festivals,
                holidays=tuple(sorted(reader.holidays)),
                workdays=tuple(sorted(reader.workdays)),
                line=paragraph.line,
            )
        )
    return Notice(year=year, arrangements=tuple(arrangements))


# ---------------------------------------------------------------------- config/policy.toml


def render_year_block(notice: Notice, *, newline: str = "\n") -> str:
    """The ``[calendar.years.YYYY]`` table for ``notice``, each date commented with its festival."""

    def array(key: str, days: list[date], suffix: str) -> list[str]:
        if not days:
            return [f"{key} = []"]
        rows = [f"{key} = ["]
        for day in days:
            festival = notice.festival_of(day)
            name = festival.label if festival else ""
            # a TOML date, not a string: a typo such as 2027-02-30 fails when the file is read
            rows.append(f"    {day.isoformat()},  # {name}{suffix}")
        rows.append("]")
        return rows

    lines = [
        f"[calendar.years.{notice.year}]",
        f"# {notice.title}, imported with `bihuan calendar import-notice`",
        *array("holidays", notice.holidays(), ""),
        *array("workdays", notice.workdays(), " 调休上班"),
    ]
    return newline.join(lines) + newline


_ANY_HEADER = re.compile(r"^\s*\[")
_CALENDAR_HEADER = re.compile(
    r'^\s*\[\s*calendar\s*(?:\.\s*years\s*\.\s*"?(?P<year>\d{4})"?\s*)?\]\s*(?:#.*)?$'
)


def replace_year_block(text: str, year: int, block: str, *, where: str = "policy.toml") -> str:
    """``text`` (config/policy.toml) with ``block`` as its ``[calendar.years.YYYY]`` table.

    An existing table for the year is replaced (from its header to its last value line; blank
    and comment lines after it belong to what follows); a new one goes after the calendar table
    it sorts after. Every other byte, comments included, stays as it was.
    """
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if _ANY_HEADER.match(line)]

    def end_of(start: int) -> int:
        following = [h for h in headers if h > start]
        end = following[0] if following else len(lines)
        while end > start + 1 and (
            not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
        ):
            end -= 1
        return end

    tables: list[tuple[int, int | None]] = []  # (header line, year or None for [calendar])
    for i in headers:
        found = _CALENDAR_HEADER.match(lines[i].rstrip("\r\n"))
        if found:
            tables.append((i, int(found.group("year")) if found.group("year") else None))
    existing = [i for i, y in tables if y == year]
    if existing:
        start = existing[0]
        end = end_of(start)
        return "".join(lines[:start]) + block + "".join(lines[end:])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NoticeError(f"{where}: not valid TOML ({exc}); fix it before importing") from None
    calendar = raw.get("calendar", {})
    if isinstance(calendar, dict) and str(year) in calendar.get("years", {}):
        raise NoticeError(
            f"{where}: calendar.years.{year} is set in a form other than a "
            f"[calendar.years.{year}] table; remove it, then import again"
        )
    before = [i for i, y in tables if y is None or y < year]
    newline = "\r\n" if "\r\n" in text else "\n"
    if before:
        # right after the last value line of the calendar table this one sorts after
        at = end_of(before[-1])
        head = "".join(lines[:at])
        if head and not head.endswith(("\n", "\r")):
            head += newline
        return head + newline + block + "".join(lines[at:])
    if tables:
        # every configured year is later: go first, before their header
        first = tables[0][0]
        while first > 0 and lines[first - 1].lstrip().startswith("#"):
            first -= 1  # its comment lines go with it
        return "".join(lines[:first]) + block + newline + "".join(lines[first:])
    tail = text if not text or text.endswith(("\n", "\r")) else text + newline
    return tail + (newline if tail else "") + block
