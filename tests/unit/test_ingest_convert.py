"""Cell conversion of the importer: what each column type accepts and refuses."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bihuan.ingest.cells import Formula, excel_serial_date, lookalike_key, normalise_code
from bihuan.ingest.issues import ImportIssue, summarise
from bihuan.ingest.schema import SHEETS_BY_KEY
from bihuan.ingest.validate import SUMMARY_PHRASES, _CellError, convert

DEPT = SHEETS_BY_KEY["departments"]
RATING = SHEETS_BY_KEY["town_ratings"]
HISTORY = SHEETS_BY_KEY["indicator_history"]


@pytest.mark.parametrize(
    ("sheet", "column", "cell", "expected"),
    [
        (DEPT, "active", "是", True),
        (DEPT, "active", "否", False),
        (DEPT, "active", "TRUE", True),
        (DEPT, "active", 0, False),
        (DEPT, "category", "经济部门", "economic"),
        (DEPT, "category", "Non_Economic", "non_economic"),
        (DEPT, "code", 1.0, "1"),
        # codes are normalised: full-width, invisible characters, non-breaking spaces
        (DEPT, "code", "Ｄ01", "D01"),
        (DEPT, "code", "D０3", "D03"),
        (DEPT, "code", "D06\u200b", "D06"),
        (DEPT, "code", "\ufeffD07\u2060", "D07"),
        (DEPT, "code", "\u00a0D08\u00a0", "D08"),
        (DEPT, "code", "D0\u200c9\u200d", "D09"),
        # other text is not: a name keeps its full-width brackets
        (DEPT, "name", "县发展和改革局（更正）", "县发展和改革局（更正）"),
        # a text that merely starts with "=" is text (a formula comes as Formula)
        (DEPT, "name", "=A1", "=A1"),
        (RATING, "rated_on", "2022-06-15", date(2022, 6, 15)),
        (RATING, "rated_on", "2022/6/5", date(2022, 6, 5)),
        (RATING, "rated_on", "2022年6月5日", date(2022, 6, 5)),
        (RATING, "rated_on", datetime(2022, 6, 5, 0, 0), date(2022, 6, 5)),
        # Excel serial numbers in a General-formatted column, and datetimes as text
        (RATING, "rated_on", 44722, date(2022, 6, 10)),
        (RATING, "rated_on", 44720, date(2022, 6, 8)),
        (RATING, "rated_on", 44722.75, date(2022, 6, 10)),
        (RATING, "rated_on", "44722", date(2022, 6, 10)),
        (RATING, "rated_on", 44562.0, date(2022, 1, 1)),
        (RATING, "rated_on", "2022-06-24 00:00:00", date(2022, 6, 24)),
        (RATING, "rated_on", "2022/6/24 8:30", date(2022, 6, 24)),
        (RATING, "rated_on", "2022-06-24T00:00:00", date(2022, 6, 24)),
        (RATING, "overall", "4.5", 4.5),
        (HISTORY, "year", "2021", 2021),
        (HISTORY, "value", "1,234.5", 1234.5),
    ],
)
def test_accepted(sheet, column, cell, expected) -> None:  # type: ignore[no-untyped-def]
    assert convert(sheet.column(column), cell) == expected


@pytest.mark.parametrize(
    ("sheet", "column", "cell", "fragment"),
    [
        (DEPT, "active", "也许", "是 or 否"),
        (DEPT, "category", "农业", "经济部门 (economic)"),
        (DEPT, "name", Formula("=A1"), "formula not allowed"),
        (RATING, "overall", Formula("=SUM(1,2)"), "formula not allowed"),
        (DEPT, "code", "X" * 33, "longer than"),
        (RATING, "rated_on", "2022-02-30", "YYYY-MM-DD"),
        (RATING, "rated_on", "44722x", "YYYY-MM-DD"),
        (RATING, "rated_on", 2022, "is a number, not a date"),
        (RATING, "rated_on", 7, "1900-01-07"),
        (RATING, "rated_on", "2022-06-24 25:00", "YYYY-MM-DD"),
        (RATING, "rated_on", True, "YYYY-MM-DD"),
        (RATING, "overall", 0, "between 1 and 5"),
        (RATING, "overall", "nan", "finite"),
        (RATING, "overall", True, "number"),
        (HISTORY, "year", 2021.5, "whole number"),
    ],
)
def test_refused(sheet, column, cell, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(_CellError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        convert(sheet.column(column), cell)


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, date(1900, 1, 1)),
        (59, date(1900, 2, 28)),
        (60, None),  # Excel's 1900-02-29, which never was
        (61, date(1900, 3, 1)),
        (44722, date(2022, 6, 10)),
        (2_958_465, date(9999, 12, 31)),
        (0, None),
        (2_958_466, None),
    ],
)
def test_excel_serial_dates_follow_the_1900_system(serial: int, expected: date | None) -> None:
    assert excel_serial_date(serial) == expected


def test_codes_and_their_lookalikes() -> None:
    assert normalise_code("  Ｄ０１\u200b ") == "D01"
    assert lookalike_key("d01") == lookalike_key("D01") == lookalike_key("D 01")
    assert lookalike_key("D01–S1") == lookalike_key("d01-s1")  # an en dash typed for "-"
    assert lookalike_key("D01") != lookalike_key("D10")


def _date_error(row: int) -> ImportIssue:
    return ImportIssue(
        "f.xlsx", "报送情况", row, "报送日期", "bad", kind="date", cell=f"G{row}", value="'x'"
    )


def test_many_errors_of_one_kind_in_one_column_become_one_line() -> None:
    other = ImportIssue("f.xlsx", "部门", 2, "类别", "unknown", kind="enum", cell="C2")
    issues = [_date_error(r) for r in range(2, 8138)] + [other]
    [line, kept] = summarise(issues, SUMMARY_PHRASES)
    assert kept is other
    assert line.count == 8136 and line.row is None and line.column == "报送日期"
    assert line.message.startswith("8,136 cells are not dates (日期), e.g. G2 = 'x', G3 = 'x'")
    assert "cells G2:G8137" in line.message and "2022-06-15" in line.message
    few = [_date_error(r) for r in range(2, 7)]
    assert summarise(few, SUMMARY_PHRASES) == few  # five are listed one by one


def test_the_workbook_doc_lists_every_code_column() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "workbooks.md").read_text("utf-8")
    section = doc.split("### Codes", 1)[1].split("1. Unicode NFKC", 1)[0]
    listed = {
        name.strip(" ,\n") for name in section.split("checked:", 1)[1].split("(")[0].split(",")
    }
    codes = {c.zh for sheet in SHEETS_BY_KEY.values() for c in sheet.columns if c.code}
    assert listed == codes
