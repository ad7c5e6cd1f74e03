"""The .xls formula scan: finds FORMULA records, and fails cleanly on damaged or crafted files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bihuan.ingest.biff import NotBiff8, formula_cells

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workbooks"
FORMULA_XLS = (FIXTURES / "formula.xls").read_bytes()


def test_finds_the_formula_cell_of_each_sheet() -> None:
    assert formula_cells(FORMULA_XLS) == {"评估小组": set(), "部门": {(2, 1)}}  # B3
    ledger = formula_cells((FIXTURES / "ledger.xls").read_bytes())
    assert len(ledger) == 16 and not any(ledger.values())


@pytest.mark.parametrize(
    "data",
    [b"", b"PK\x03\x04" + bytes(600), FORMULA_XLS[:8] + bytes(600), FORMULA_XLS[:700]],
)
def test_not_an_xls(data: bytes) -> None:
    with pytest.raises(NotBiff8):
        formula_cells(data)


def test_a_cycle_in_the_allocation_table_is_refused() -> None:
    data = bytearray(FORMULA_XLS)
    size = 1 << int.from_bytes(data[0x1E:0x20], "little")
    first_fat = int.from_bytes(data[0x4C:0x50], "little")
    at = (first_fat + 1) * size
    data[at : at + size] = b"\x00\x00\x00\x00" * (size // 4)  # every sector points at sector 0
    with pytest.raises(NotBiff8):
        formula_cells(bytes(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(FORMULA_XLS) - 1), st.integers(0, 255)), max_size=8))
def test_damaged_files_raise_not_biff8_or_read(changes: list[tuple[int, int]]) -> None:
    data = bytearray(FORMULA_XLS)
    for at, value in changes:
        data[at] = value
    try:
        found = formula_cells(bytes(data))
    except NotBiff8:
        return
    assert isinstance(found, dict)
