"""The carried-item deduction (上年度问题延续扣分) on the ledger component."""

from __future__ import annotations

from pathlib import Path

import pytest

from bihuan.core.scoring import DepartmentInput, IndicatorInput, carried_deduction, score_department
from bihuan.policy import load_policy

SCORING = load_policy(Path(__file__).resolve().parents[2] / "config").scoring


@pytest.mark.parametrize(
    ("ledger", "items", "expected"),
    [
        (90.0, 0, 90.0),
        (90.0, 1, 88.0),
        (90.0, 3, 84.0),
        (3.0, 2, 0.0),  # never below 0
        (None, 2, None),  # nothing to deduct from
    ],
)
def test_deduction(ledger: float | None, items: int, expected: float | None) -> None:
    assert SCORING.carried_penalty == 2
    assert carried_deduction(ledger, items, SCORING) == expected


def test_department_score_counts_carried_items_and_explains_them() -> None:
    indicators = (
        IndicatorInput(code="D1-01", kind="qualitative", level="implemented"),
        IndicatorInput(code="D1-02", kind="qualitative", level="formulated"),
    )
    plain = score_department(
        DepartmentInput("D1", indicators=indicators), year=2023, scoring=SCORING
    )
    carried = score_department(
        DepartmentInput("D1", indicators=indicators, carried_items=1), year=2023, scoring=SCORING
    )
    assert plain.component("ledger") == 80.0 and carried.component("ledger") == 78.0
    # only the ledger is assessed here, so the total takes the whole deduction
    assert carried.total == 78.0
    assert carried.breakdown().component("ledger").carried_items == 1
    assert "上年度问题延续1项,每项扣2分" in carried.explain()
    assert "上年度问题延续" not in plain.explain()
