"""Writing cells: text stays text in every workbook we write (normal and write-only sheets)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from bihuan.ingest.cells import safe_row, set_value

RISKY = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+1", "-2+3", "\t=1", "\r=1", "#N/A"]


@pytest.mark.parametrize("write_only", [False, True])
def test_safe_row_writes_every_string_as_text(tmp_path: Path, write_only: bool) -> None:
    wb = openpyxl.Workbook(write_only=write_only)
    ws = wb.create_sheet("s") if write_only else wb.active
    ws.append(safe_row(ws, [*RISKY, "plain", 7, None, "last"]))
    wb.save(tmp_path / "t.xlsx")
    row = next(openpyxl.load_workbook(tmp_path / "t.xlsx")["s" if write_only else "Sheet"].rows)
    # XML reads a stored CR back as LF (openpyxl does not escape it); it is text either way
    expected = [v.replace("\r", "\n") for v in RISKY]
    assert [c.value for c in row] == [*expected, "plain", 7, None, "last"]
    assert [c.data_type for c in row[: len(RISKY) + 1]] == ["s"] * (len(RISKY) + 1)
    assert row[len(RISKY) + 1].data_type == "n"


def test_set_value_on_a_cell(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    set_value(ws["A1"], "=1+1")
    set_value(ws["A2"], 3)
    wb.save(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    assert (ws["A1"].data_type, ws["A1"].value, ws["A1"].quotePrefix) == ("s", "=1+1", True)
    assert ws["A2"].value == 3
