"""Reading the State Council's holiday notice, checked against chinese_calendar for 2015–2026."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from bihuan.core.calendar_notice import (
    Notice,
    NoticeError,
    parse_notice,
    render_year_block,
    replace_year_block,
)
from bihuan.core.holidays import Festival, festival_of_package_name
from bihuan.core.workdays import WorkCalendar

NOTICES = Path(__file__).resolve().parents[1] / "fixtures" / "notices"
YEARS = range(2015, 2027)

# Arrangements published in separate notices after the yearly one (see fixtures/notices/README):
# year -> (days off added, workdays added, workdays withdrawn)
SUPPLEMENTS: dict[int, tuple[set[date], set[date], set[date]]] = {
    2015: ({date(2015, 9, 3), date(2015, 9, 4)}, {date(2015, 9, 6)}, set()),
    2019: (
        {date(2019, 5, 2), date(2019, 5, 3), date(2019, 5, 4)},
        {date(2019, 4, 28), date(2019, 5, 5)},
        set(),
    ),
    2020: (
        {date(2020, 1, 31), date(2020, 2, 1), date(2020, 2, 2)},
        set(),
        {date(2020, 2, 1)},
    ),
}


def notice(year: int) -> Notice:
    return parse_notice((NOTICES / f"{year}.txt").read_text(encoding="utf-8"), where=f"{year}.txt")


def package(year: int) -> tuple[set[date], set[date]]:
    return (
        {d for d in chinese_calendar.holidays if d.year == year},
        {d for d in chinese_calendar.workdays if d.year == year},
    )


@pytest.mark.parametrize("year", YEARS)
def test_each_published_notice_equals_the_package(year: int) -> None:
    """A year's days come from its own notice and, for late December, from the next year's
    (the 2019 notice starts 元旦 on 2018-12-30); the package data is the reference."""
    off: set[date] = set()
    on: set[date] = set()
    for source in (year, year + 1):
        if source in YEARS:
            parsed = notice(source)
            off |= {d for d in parsed.holidays() if d.year == year}
            on |= {d for d in parsed.workdays() if d.year == year}
    added_off, added_on, withdrawn = SUPPLEMENTS.get(year, (set(), set(), set()))
    off, on = off | added_off, (on | added_on) - withdrawn
    package_off, package_on = package(year)
    assert on == package_on
    assert off <= package_off
    # The package sometimes also names the weekend next to a "与周末连休" holiday (2019's 清明,
    # 端午 and 中秋, 2023-12-30/31) and sometimes not (2015–2018): weekend days either way.
    assert all(d.weekday() >= 5 for d in package_off - off), sorted(package_off - off)
    # so every day's working status is the same as the package's
    ours = WorkCalendar(years={year: (off, on)})
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    for day in (date(year, 1, 1) + timedelta(days=i) for i in range(days)):
        assert ours.is_workday(day) == chinese_calendar.is_workday(day), day


@pytest.mark.parametrize("year", YEARS)
def test_each_day_is_under_the_festival_the_package_names(year: int) -> None:
    parsed = notice(year)
    assert parsed.year == year and not parsed.missing_festivals()
    for arrangement in parsed.arrangements:
        for day in arrangement.holidays + arrangement.workdays:
            name = chinese_calendar.holidays.get(day) or chinese_calendar.workdays[day]
            assert festival_of_package_name(name) in arrangement.festivals, (day, name)
            assert parsed.festival_of(day) is festival_of_package_name(name), day


def test_notices_that_begin_in_the_year_before() -> None:
    n2019 = notice(2019)
    assert [d for d in n2019.holidays() if d.year == 2018] == [
        date(2018, 12, 30),
        date(2018, 12, 31),
    ]
    assert [d for d in n2019.workdays() if d.year == 2018] == [date(2018, 12, 29)]
    assert chinese_calendar.workdays[date(2018, 12, 29)] == "New Year's Day"
    n2023 = notice(2023)
    assert [d for d in n2023.holidays() if d.year == 2022] == [date(2022, 12, 31)]
    # the 2018 notice itself says nothing about December 2018
    assert all(d.year == 2018 for d in notice(2018).holidays() + notice(2018).workdays())


def test_statutory_days_of_the_2024_revision_are_all_off() -> None:
    assert notice(2025).statutory_gaps() == []
    assert notice(2026).statutory_gaps() == []
    assert notice(2024).statutory_gaps() == []  # before the rule: nothing to compare


# ---------------------------------------------------------------- the forms a notice takes

TITLE = "国务院办公厅关于2027年部分节假日安排的通知\n\n"


def test_half_width_punctuation_ranges_across_months_and_single_days() -> None:
    text = TITLE + (
        "一、元旦:1月1日放假,共1天。\n"
        "二、清明节:4月4日放假。\n"
        "三、国庆节、中秋节:9月30日至10月7日放假调休,共8天。9月26日(周日)、10月9日(周六)上班。\n"
    )
    parsed = parse_notice(text)
    assert parsed.holidays() == [
        date(2027, 1, 1),
        date(2027, 4, 4),
        date(2027, 9, 30),
        *(date(2027, 10, d) for d in range(1, 8)),
    ]
    assert parsed.workdays() == [date(2027, 9, 26), date(2027, 10, 9)]
    assert parsed.arrangements[2].festivals == (Festival.NATIONAL_DAY, Festival.MID_AUTUMN)
    assert parsed.festival_of(date(2027, 9, 15)) is None
    assert parsed.festival_of(date(2027, 10, 5)) is Festival.NATIONAL_DAY


def test_full_width_digits_wrapped_lines_advice_and_the_signature() -> None:
    text = (
        "国务院办公厅关于２０２７年部分节假日安排的通知\n"
        "各省、自治区、直辖市人民政府：\n"
        "一、春节：２月５日（农历除夕、周五）至１２日（农历正月初七、周五）放假调休，共8天。\n"
        "2月20日（周六）、2月21日（周日）上班。鼓励各单位安排职工在2月4日（周四）休息。\n"
        "节假日期间，各地区、各部门要妥善安排好值班。\n"
        "国务院办公厅\n"
        "2026年11月4日\n"
    )
    parsed = parse_notice(text)
    assert len(parsed.holidays()) == 8 and parsed.holidays()[0] == date(2027, 2, 5)
    assert parsed.workdays() == [date(2027, 2, 20), date(2027, 2, 21)]
    assert parsed.missing_festivals()[0] is Festival.NEW_YEAR


def test_year_from_the_option_and_a_december_start() -> None:
    text = "一、元旦：12月31日（周五）至1月2日（周日）放假，共3天。12月26日（周日）上班。\n"
    parsed = parse_notice(text, year=2028)
    assert parsed.holidays() == [date(2027, 12, 31), date(2028, 1, 1), date(2028, 1, 2)]
    assert parsed.workdays() == [date(2027, 12, 26)]
    block = tomllib.loads(render_year_block(parsed))["calendar"]["years"]["2028"]
    assert block["holidays"][0] == date(2027, 12, 31)  # carried into 2027 by WorkCalendar


@pytest.mark.parametrize(
    ("text", "year", "message"),
    [
        ("一、元旦：1月1日放假。", None, "no year: expected the title"),
        (TITLE + "一、元旦：1月1日放假。", 2028, "the title is for 2027 but --year is 2028"),
        (TITLE, None, "no numbered festival paragraphs"),
        (TITLE + "\n一、元旦 1月1日放假。", None, "line 4: expected a festival name and a colon"),
        (TITLE + "一、圣诞节：12月25日放假。", None, "line 3: unknown festival '圣诞节'"),
        (TITLE + "一、元旦：1月1日（周四）放假。", None, "line 3: 1月1日 is a 周五 in 2027"),
        (TITLE + "一、元旦：1月1日。", None, "line 3: 2027-01-01 is followed by neither 放假"),
        (
            TITLE + "一、元旦：1月1日至3日放假，共2天。",
            None,
            "the dates give 3 days off but the text says 共2天",
        ),
        (TITLE + "一、春节：2月5日至28日放假。", None, "24 days long; expected at most 15"),
        (TITLE + "一、春节：2月9日至5日放假。", None, "ends before it starts"),
        (TITLE + "一、春节：2月30日放假。", None, "'2月30日' is not a date in 2027"),
        (TITLE + "一、春节：2月8日上班。", None, "2027-02-08 is a 周一; a 调休 workday"),
        (TITLE + "一、春节：5日放假。", None, "'5日' has no month"),
        (TITLE + "一、春节：2028年2月5日放假。", None, "2028-02-05 is outside 2027"),
        (TITLE + "一、春节：2026年6月5日放假。", None, "2026-06-05 is outside 2027"),
        (
            TITLE + "一、中秋节：9月15日放假。\n二、国庆节：9月15日至17日放假。",
            None,
            "line 4: 2027-09-15 is listed twice: under 中秋节 (line 3)",
        ),
        (TITLE + "一、元旦：1月1日放假，1月4日（周一）上班。", None, "2027-01-04 is a 周一"),
        (TITLE + "一、元旦：1月1日放假、补休1月4日。", None, "is followed by neither"),
    ],
)
def test_errors_name_the_line_and_what_was_expected(
    text: str, year: int | None, message: str
) -> None:
    with pytest.raises(NoticeError) as caught:
        parse_notice(text, year=year, where="2027.txt")
    assert message in str(caught.value)
    assert str(caught.value).startswith("2027.txt: ")
    assert caught.value.exit_code == 1


def test_a_statutory_day_left_out_is_reported() -> None:
    parsed = parse_notice(TITLE + "一、端午节：6月10日放假。")
    assert (date(2027, 6, 9), Festival.DRAGON_BOAT) in parsed.statutory_gaps()


# ---------------------------------------------------------------- writing config/policy.toml

POLICY = """\
# Policy of the supervision cycle.
[deadlines]
high = 10   # keep this comment

# Working-day calendar.
[calendar]
provisional = true          # a comment
extra_holidays = []

# Cron schedules.
[schedules]
timezone = "Asia/Shanghai"
"""


def _days(text: str, year: int) -> tuple[list[date], list[date]]:
    table = tomllib.loads(text)["calendar"]["years"][str(year)]
    return table["holidays"], table["workdays"]


def test_a_new_block_goes_after_the_calendar_table_and_nothing_else_changes() -> None:
    parsed = notice(2026)
    block = render_year_block(parsed)
    written = replace_year_block(POLICY, 2026, block)
    assert written.replace("\n" + block, "", 1) == POLICY
    assert written.index("[calendar.years.2026]") < written.index("# Cron schedules.")
    assert _days(written, 2026) == (parsed.holidays(), parsed.workdays())
    assert "    2026-02-14,  # 春节 调休上班" in block


def test_a_block_for_the_year_is_replaced_and_others_kept_in_order() -> None:
    first = replace_year_block(POLICY, 2026, render_year_block(notice(2026)))
    both = replace_year_block(first, 2025, render_year_block(notice(2025)))
    assert both.index("[calendar.years.2025]") < both.index("[calendar.years.2026]")
    again = replace_year_block(both, 2026, render_year_block(notice(2026)))
    assert again == both  # idempotent
    fixed = parse_notice("一、元旦：1月1日（周四）放假。", year=2026)
    replaced = replace_year_block(both, 2026, render_year_block(fixed))
    assert _days(replaced, 2026) == ([date(2026, 1, 1)], [])
    assert _days(replaced, 2025) == _days(both, 2025)
    assert replaced.startswith(POLICY.split("# Cron")[0].rstrip())
    assert replaced.endswith('# Cron schedules.\n[schedules]\ntimezone = "Asia/Shanghai"\n')


def test_crlf_files_and_files_without_a_calendar_table() -> None:
    crlf = POLICY.replace("\n", "\r\n")
    block = render_year_block(notice(2026), newline="\r\n")
    written = replace_year_block(crlf, 2026, block)
    assert "\n" not in written.replace("\r\n", "")
    assert written.replace("\r\n" + block, "", 1) == crlf
    bare = '[schedules]\ntimezone = "Asia/Shanghai"'  # no final newline either
    written = replace_year_block(bare, 2026, render_year_block(notice(2026)))
    assert written.startswith(bare + "\n\n[calendar.years.2026]")
    assert _days(written, 2026)[1] == notice(2026).workdays()
    # a later year already configured: the new block goes before it with its comment above
    later = "# 2027 by hand\n[calendar.years.2027]\nholidays = []\n"
    written = replace_year_block(later, 2026, render_year_block(notice(2026)))
    assert written.endswith("\n" + later) and written.startswith("[calendar.years.2026]")


def test_a_year_set_in_another_form_is_not_silently_duplicated() -> None:
    inline = POLICY.replace("extra_holidays = []", "extra_holidays = []\nyears.2026.holidays = []")
    with pytest.raises(NoticeError, match=r"calendar\.years\.2026 is set in a form other"):
        replace_year_block(inline, 2026, render_year_block(notice(2026)), where="policy.toml")
