"""`bihuan template` and `bihuan import` through the real Typer app."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from bihuan.cli import app
from bihuan.commands import ingest
from bihuan.ingest.schema import SHEETS
from bihuan.migrate import downgrade, upgrade
from bihuan.vocab import UserRole
from tests.users import make_user

from .test_import import table_counts
from .workbooks import good_rows, write_xlsx

ingest.register(app)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def test_import_bad_file_lists_errors_and_exits_1(sqlite_db: str, tmp_path: Path) -> None:
    make_user(sqlite_db, "wang", UserRole.OFFICE)
    rows = good_rows()
    rows["departments"][0]["category"] = "农业部门"
    rows["hotline_cases"][0]["department"] = "D99"
    path = write_xlsx(tmp_path / "bad.xlsx", rows)
    result = runner.invoke(
        app, ["import", str(path), "--year", "2022", "--db", sqlite_db, "--as", "wang"]
    )
    assert result.exit_code == 1, result.output
    assert "2 errors" in result.output and "nothing was imported" in result.output
    assert "农业部门" in result.output and "D99" in result.output and "12345热线" in result.output
    assert "Traceback" not in result.output
    assert table_counts(sqlite_db)["department"] == 0


def test_import_good_file_prints_counts(sqlite_db: str, tmp_path: Path) -> None:
    make_user(sqlite_db, "wang", UserRole.OFFICE)
    path = write_xlsx(tmp_path / "good.xlsx", good_rows())
    args = [
        "import",
        str(path),
        "--year",
        "2022",
        "--db",
        sqlite_db,
        "--as",
        "wang",
        "--name",
        "莒县",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "履职台账 (indicators)" in result.output and "26" in result.output
    assert table_counts(sqlite_db)["indicator"] == 26


def test_template_writes_workbook_and_csvs_that_import_cleanly(
    sqlite_db: str, tmp_path: Path
) -> None:
    make_user(sqlite_db, "wang", UserRole.OFFICE)
    result = runner.invoke(app, ["template", "--out", str(tmp_path / "tpl")])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(tmp_path / "tpl" / "bihuan-template.xlsx")
    assert wb.sheetnames == ["说明", *[s.zh for s in SHEETS]]
    ws = wb["部门"]
    assert [c.value for c in ws[1]] == [c.zh for c in SHEETS[1].columns]
    note = ws["C1"].comment.text  # 类别
    assert "经济部门" in note and "必填" in note
    assert "选填" in ws["D1"].comment.text
    csv_dir = tmp_path / "tpl" / "csv"
    assert (csv_dir / "departments.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(list(csv_dir.glob("*.csv"))) == len(SHEETS)
    for target in (tmp_path / "tpl" / "bihuan-template.xlsx", csv_dir):
        result = runner.invoke(app, ["import", str(target), "--db", sqlite_db, "--as", "wang"])
        assert result.exit_code == 0, result.output


def test_import_without_schema_says_so_and_upgrade_migrates(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "good.xlsx", good_rows())
    db = tmp_path / "var" / "new.db"
    args = ["import", str(path), "--year", "2022", "--db", str(db), "--as", "wang"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "has no bihuan schema" in result.output and "--upgrade" in result.output
    assert "Traceback" not in result.output and not db.exists() and not db.parent.exists()
    # an installation one schema revision behind the code, with its users
    url = f"sqlite:///{db}"
    upgrade(url)
    make_user(url, "wang", UserRole.OFFICE)
    downgrade(url, "-1")
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "--upgrade" in result.output, result.output
    result = runner.invoke(app, [*args, "--upgrade"])
    assert result.exit_code == 0, result.output
    assert table_counts(url)["indicator"] == 26


def test_errors_are_printed_after_warnings(sqlite_db: str, tmp_path: Path) -> None:
    make_user(sqlite_db, "wang", UserRole.OFFICE)
    rows = good_rows()
    rows["departments"][0]["category"] = "农业部门"
    path = write_xlsx(tmp_path / "bad.xlsx", rows)
    wb = openpyxl.load_workbook(path)
    wb["部门"]["K1"] = "备注"  # an extra column: a warning
    wb.save(path)
    result = runner.invoke(
        app, ["import", str(path), "--year", "2022", "--db", sqlite_db, "--as", "wang"]
    )
    assert result.exit_code == 1, result.output
    out = result.output
    assert out.index("warning(s) 提示") < out.index("error(s) 错误") < out.index("农业部门")
    assert "nothing was imported" in out[out.index("农业部门") :]  # the last word stays on screen
