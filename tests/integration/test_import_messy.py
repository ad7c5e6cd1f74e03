"""Workbooks as county offices really send them (issue 10, item 2): each case was reproduced by
an office; each test fails without its fix."""

from __future__ import annotations

import shutil
import struct
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text

from bihuan.db import get_engine
from bihuan.ingest.load import DatabaseNotReady, ImportFailed, import_path
from bihuan.ingest.readers import Caps

from .test_import import failed, messages, run, table_counts
from .workbooks import YEAR, good_rows, write_csv_folder, write_xlsx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workbooks"


def department_codes(url: str) -> list[str]:
    with get_engine(url).connect() as conn:
        return sorted(conn.execute(text("SELECT code FROM department")).scalars())


# ------------------------------------------------------------------ 1. codes


def test_fullwidth_and_invisible_codes_are_the_existing_ones(
    sqlite_db: str, tmp_path: Path
) -> None:
    rows = good_rows()
    run(sqlite_db, write_xlsx(tmp_path / "v1.xlsx", rows))
    before = table_counts(sqlite_db)
    again = good_rows()
    again["departments"][0]["code"] = "Ｄ01"  # full-width letter
    again["departments"][2]["code"] = "D０3"  # full-width digit
    again["departments"][1]["code"] = "D02\u200b"  # zero-width space
    again["sections"][0]["department"] = "\u00a0D01\u00a0"  # non-breaking spaces
    again["hotline_cases"][0]["department"] = "\ufeffD01"
    report = run(sqlite_db, write_xlsx(tmp_path / "v2.xlsx", again))
    assert report.errors == []
    assert report.counts["departments"] == {"inserted": 0, "updated": 0, "unchanged": 3}
    assert department_codes(sqlite_db) == ["D01", "D02", "D03"]  # no ghost departments
    assert table_counts(sqlite_db) == before


def test_lookalike_codes_are_errors_naming_the_cell_and_the_existing_code(
    sqlite_db: str, tmp_path: Path
) -> None:
    rows = good_rows()
    run(sqlite_db, write_xlsx(tmp_path / "v1.xlsx", rows))
    before = table_counts(sqlite_db)
    more = {
        "departments": [
            dict(rows["departments"][0], code="d01"),  # case only, against the database
            {"code": "D04", "name": "县审计局", "category": "经济部门"},
            {"code": "D 04", "name": "县审计局(二)", "category": "经济部门"},  # an earlier row
        ],
        "hotline_cases": [dict(rows["hotline_cases"][0], department="d02")],
    }
    exc = failed(sqlite_db, write_xlsx(tmp_path / "v2.xlsx", more))
    got = {(i.sheet, i.row, i.column): i.message for i in exc.report.errors}
    assert set(got) == {
        ("部门", 2, "部门代码"),
        ("部门", 4, "部门代码"),
        ("12345热线", 2, "部门代码"),
    }
    assert "cell A2" in got[("部门", 2, "部门代码")] and "'D01'" in got[("部门", 2, "部门代码")]
    assert "in the database" in got[("部门", 2, "部门代码")]
    assert (
        "'D04' (on row 3)" in got[("部门", 4, "部门代码")]
        and "cell A4" in got[("部门", 4, "部门代码")]
    )
    assert "looks like 'D02'" in got[("12345热线", 2, "部门代码")]
    assert table_counts(sqlite_db) == before


# ------------------------------------------------------------------ 2. title rows


def add_title_rows(path: Path, sheets: list[str], n: int = 2) -> None:
    wb = openpyxl.load_workbook(path)
    for name in sheets:
        ws = wb[name]
        ws.insert_rows(1, n)
        ws["A1"] = f"莒县{YEAR}年度{name}"
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ws.max_column)
        if n > 1:
            ws["A2"] = "填报单位: 县委编办    填报日期: 2022年6月30日"
    wb.save(path)


def test_title_rows_above_the_header_keep_excel_row_numbers(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    path = write_xlsx(tmp_path / "titled.xlsx", rows)
    add_title_rows(path, ["部门", "报送情况", "12345热线"])
    report = run(sqlite_db, path)
    assert report.counts["departments"]["inserted"] == 3
    assert report.counts["submissions"]["inserted"] == 26
    assert report.counts["hotline_cases"]["inserted"] == 5

    rows["departments"][1]["category"] = "农业部门"  # data row 2 of 部门 → Excel row 5
    bad = write_xlsx(tmp_path / "titled-bad.xlsx", rows)
    add_title_rows(bad, ["部门"])
    exc = failed(sqlite_db, bad)
    [issue] = exc.report.errors
    assert (issue.sheet, issue.row, issue.column) == ("部门", 5, "类别")


def test_a_missing_column_below_a_title_names_the_header_row(
    sqlite_db: str, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "t.xlsx", {"towns": good_rows()["towns"]})
    add_title_rows(path, ["乡镇街道"], n=1)
    wb = openpyxl.load_workbook(path)
    wb["乡镇街道"]["B2"] = "名称"  # not a column of the sheet
    wb.save(path)
    exc = failed(sqlite_db, path, year=None)
    [issue] = exc.report.errors
    assert issue.row == 2 and "乡镇名称" in issue.message and "row 2" in issue.message


# ------------------------------------------------------------------ 3. dates and summaries


def test_serial_numbers_and_datetime_text_are_dates(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    rows["submissions"][0]["submitted_on"] = 44722  # a date column formatted as General
    rows["submissions"][1]["submitted_on"] = "2022-06-24 00:00:00"
    rows["hotline_cases"][0]["received_on"] = 44621.0
    run(sqlite_db, write_xlsx(tmp_path / "d.xlsx", rows))
    with get_engine(sqlite_db).connect() as conn:
        days = dict(
            conn.execute(
                text(
                    "SELECT i.code, s.submitted_on FROM submission s "
                    "JOIN indicator i ON i.id = s.indicator_id"
                )
            ).all()
        )
        received = conn.execute(
            text("SELECT received_on FROM hotlinecase WHERE case_no = '12345-00000'")
        ).scalar_one()
    assert days["D01-S1-01"] == "2022-06-10" and days["D01-S1-02"] == "2022-06-24"
    assert received == "2022-03-01"


def test_errors_of_one_kind_in_one_column_are_summarised(sqlite_db: str, tmp_path: Path) -> None:
    rows = good_rows()
    for sub in rows["submissions"]:
        sub["submitted_on"] = "44722x"
    rows["departments"][0]["category"] = "农业部门"
    exc = failed(sqlite_db, write_xlsx(tmp_path / "s.xlsx", rows))
    [dates] = [i for i in exc.report.errors if i.column == "报送日期"]
    assert dates.count == 26 and dates.row is None
    assert dates.message.startswith("26 cells are not dates (日期), e.g. G2 = '44722x'")
    assert "cells G2:G27" in dates.message
    assert len(exc.report.errors) == 2
    assert str(exc).startswith("27 errors (listed in 2 lines)")


# ------------------------------------------------------------------ 4. .xls and .ods


@pytest.mark.parametrize("name", ["ledger.xls", "ledger.ods"])
def test_xls_and_ods_import_like_xlsx(sqlite_db: str, tmp_path: Path, name: str) -> None:
    reference = run(sqlite_db, write_xlsx(tmp_path / "ledger.xlsx", good_rows()))
    assert reference.warnings == []
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    report = run(fresh, FIXTURES / name, upgrade=True)
    assert report.counts == reference.counts
    [hidden] = report.warnings
    assert (
        hidden.sheet == "评估小组"
        and "is hidden in the workbook; it was imported" in hidden.message
    )
    again = run(sqlite_db, FIXTURES / name)  # the same data as the .xlsx: nothing changes
    assert again.changed == 0


@pytest.mark.parametrize("name", ["formula.ods", "formula.xls"])
def test_formula_in_xls_and_ods_is_refused_naming_the_cell(sqlite_db: str, name: str) -> None:
    """calamine reports only the cached value (县财政局); the formula is found all the same."""
    exc = failed(sqlite_db, FIXTURES / name, year=None)
    [issue] = exc.report.errors
    assert (issue.sheet, issue.row, issue.column) == ("部门", 3, "部门名称")
    assert "cell B3" in issue.message and "formula not allowed" in issue.message
    assert table_counts(sqlite_db)["department"] == 0


def test_hidden_xlsx_sheet_is_a_warning(sqlite_db: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "h.xlsx", good_rows())
    wb = openpyxl.load_workbook(path)
    wb["镇街评价"].sheet_state = "hidden"
    wb.save(path)
    report = run(sqlite_db, path)
    assert [w.sheet for w in report.warnings if "hidden" in w.message] == ["镇街评价"]
    assert report.counts["town_ratings"]["inserted"] == 6


def test_xlsx_text_that_begins_with_equals_is_text(sqlite_db: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "t.xlsx", {"towns": good_rows()["towns"]})
    wb = openpyxl.load_workbook(path)
    cell = wb["乡镇街道"]["B2"]
    cell.value, cell.data_type = "=城阳街道", "s"  # a text cell, not a formula
    wb.save(path)
    run(sqlite_db, path, year=None)
    with get_engine(sqlite_db).connect() as conn:
        assert "=城阳街道" in set(conn.execute(text("SELECT name FROM town")).scalars())


def test_xls_renamed_to_xlsx_is_read_by_its_content(sqlite_db: str, tmp_path: Path) -> None:
    renamed = tmp_path / "ledger.xlsx"
    shutil.copy(FIXTURES / "ledger.xls", renamed)
    assert run(sqlite_db, renamed).counts["indicators"]["inserted"] == 26


@pytest.mark.parametrize("name", ["ledger.xls", "ledger.ods"])
def test_caps_apply_to_xls_and_ods(sqlite_db: str, name: str) -> None:
    assert "above the limit" in messages(
        failed(sqlite_db, FIXTURES / name, caps=Caps(max_file_bytes=1000))
    )
    assert "more than 20 data rows" in messages(failed(sqlite_db, FIXTURES / name, max_rows=20))
    assert table_counts(sqlite_db)["department"] == 0


@pytest.mark.reliability
def test_ods_zip_bomb_is_refused_before_unpacking(sqlite_db: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.ods"
    with zipfile.ZipFile(bomb, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", b"<x/>" * 8)
    data = bytearray(bomb.read_bytes())
    at = data.rindex(b"PK\x01\x02")
    data[at + 24 : at + 28] = struct.pack("<I", 0xFFFF0000)
    bomb.write_bytes(bytes(data))
    assert "zip bomb" in messages(failed(sqlite_db, bomb))


def test_ods_declaring_a_million_rows_is_refused(sqlite_db: str, tmp_path: Path) -> None:
    """A few bytes of content.xml can repeat one row a million times; the scan counts first."""
    source = FIXTURES / "formula.ods"
    bomb = tmp_path / "rows.ods"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(bomb, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "content.xml":
                data = data.replace(
                    b"<table:table-row ",
                    b'<table:table-row table:number-rows-repeated="1000000" ',
                    1,
                )
            zout.writestr(item, data)
    assert "more than 200,000 data rows" in messages(failed(sqlite_db, bomb, year=None))


# ------------------------------------------------------------------ 5. folders


def test_folder_with_no_recognised_file_is_an_error_that_writes_nothing(
    sqlite_db: str, tmp_path: Path
) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "汇总表.csv").write_text("部门代码,部门名称\nD01,县发展和改革局\n", encoding="utf-8")
    before = table_counts(sqlite_db)
    exc = failed(sqlite_db, folder, jurisdiction_name="莒县")
    assert "nothing to import" in messages(exc) and "汇总表.csv" in messages(exc)
    assert table_counts(sqlite_db) == before  # no county, no cycle, no phases, no audit row


def test_workbook_with_no_recognised_sheet_is_an_error(sqlite_db: str, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"  # type: ignore[union-attr]
    wb.save(tmp_path / "empty.xlsx")
    assert "nothing to import" in messages(failed(sqlite_db, tmp_path / "empty.xlsx"))
    assert sum(table_counts(sqlite_db).values()) == 0


def test_headers_only_writes_nothing(sqlite_db: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "blank.xlsx", {key: [] for key in good_rows()})
    report = run(sqlite_db, path, jurisdiction_name="莒县")
    assert "nothing was written" in report.warnings[-1].message
    assert sum(table_counts(sqlite_db).values()) == 0


def test_libreoffice_csv_names_are_recognised(sqlite_db: str, tmp_path: Path) -> None:
    folder = write_csv_folder(tmp_path / "lo", good_rows(), encoding="utf-8")
    for file in folder.iterdir():  # LibreOffice: <workbook>-<sheet name>.csv
        file.rename(folder / f"莒县-2022-{file.name}")
    report = run(sqlite_db, folder)
    assert report.counts["submissions"]["inserted"] == 26 and report.warnings == []


# ------------------------------------------------------------------ 6. the database


def test_missing_sqlite_database_is_named_and_not_created(tmp_path: Path) -> None:
    db = tmp_path / "typo" / "bihuan.db"
    with pytest.raises(DatabaseNotReady, match="has no bihuan schema") as info:
        import_path(
            f"sqlite:///{db}",
            tmp_path / "does-not-matter.xlsx",  # not read: the database is checked first
            year=YEAR,
            jurisdiction="juxian",
            actor="t",
        )
    assert "--upgrade" in str(info.value) and "bihuan db upgrade" in str(info.value)
    assert not db.exists() and not db.parent.exists()


def test_database_without_schema_and_upgrade(empty_db_url: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "g.xlsx", good_rows())
    if empty_db_url.startswith("sqlite"):
        Path(empty_db_url.split("sqlite:///", 1)[1]).touch()  # an empty file, as `touch` leaves
    with pytest.raises(DatabaseNotReady, match="has no bihuan schema"):
        run(empty_db_url, path)
    report = run(empty_db_url, path, upgrade=True)
    assert report.counts["indicators"]["inserted"] == 26


def test_an_import_error_is_still_an_import_failure(sqlite_db: str, tmp_path: Path) -> None:
    rows: dict[str, Any] = {"towns": [{"code": "Z01", "name": None}]}
    with pytest.raises(ImportFailed):
        run(sqlite_db, write_xlsx(tmp_path / "x.xlsx", rows), year=None)


def test_dates_from_ods_cells_are_dates(sqlite_db: str) -> None:
    run(sqlite_db, FIXTURES / "ledger.ods")
    with get_engine(sqlite_db).connect() as conn:
        rated = set(conn.execute(text("SELECT rated_on FROM townrating")).scalars())
    assert rated == {date(YEAR, 6, 25).isoformat()}


def test_decorated_headers_and_sheet_names_are_recognised(sqlite_db: str, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "h.xlsx", {"towns": good_rows()["towns"]})
    wb = openpyxl.load_workbook(path)
    ws = wb["乡镇街道"]
    ws.title = " 乡镇街道\u200b"
    ws["A1"], ws["B1"] = "*乡镇代码", "乡镇　名称（必填）"  # a required mark, an ideographic space
    wb.save(path)
    report = run(sqlite_db, path, year=None)
    assert report.counts["towns"]["inserted"] == 2 and report.warnings == []
