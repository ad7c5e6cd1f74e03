"""Cell conversion of the importer: what each column type accepts and refuses."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bihuan.ingest.schema import SHEETS_BY_KEY
from bihuan.ingest.validate import _CellError, convert

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
        (RATING, "rated_on", "2022-06-15", date(2022, 6, 15)),
        (RATING, "rated_on", "2022/6/5", date(2022, 6, 5)),
        (RATING, "rated_on", "2022年6月5日", date(2022, 6, 5)),
        (RATING, "rated_on", datetime(2022, 6, 5, 0, 0), date(2022, 6, 5)),
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
        (DEPT, "name", "=A1", "formula not allowed"),
        (DEPT, "code", "X" * 33, "longer than"),
        (RATING, "rated_on", "2022-02-30", "YYYY-MM-DD"),
        (RATING, "rated_on", 44000, "YYYY-MM-DD"),
        (RATING, "overall", 0, "between 1 and 5"),
        (RATING, "overall", "nan", "finite"),
        (RATING, "overall", True, "number"),
        (HISTORY, "year", 2021.5, "whole number"),
    ],
)
def test_refused(sheet, column, cell, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(_CellError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        convert(sheet.column(column), cell)
