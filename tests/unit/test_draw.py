"""Double-random draw (双随机): reproducible, share honoured, no conflict of interest ever."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bihuan.core.draw import (
    DrawDepartment,
    DrawError,
    Inspector,
    department_count,
    draw,
    draw_with_policy,
)
from bihuan.errors import UserError
from bihuan.policy import DrawPolicy

DEPARTMENTS = [DrawDepartment(f"D{i:02}", "ECO" if i <= 30 else "SOC") for i in range(1, 63)]
INSPECTORS = [
    Inspector(f"I{i:02}", "ECO" if i % 2 else "SOC", f"D{i:02}" if i <= 6 else None)
    for i in range(1, 13)
]


def test_same_seed_same_draw_whatever_the_input_order() -> None:
    first = draw(DEPARTMENTS, INSPECTORS, share=0.2, per_department=2, seed=2022)
    again = draw(
        list(reversed(DEPARTMENTS)),
        list(reversed(INSPECTORS)),
        share=0.2,
        per_department=2,
        seed=2022,
    )
    assert first == again
    other = draw(DEPARTMENTS, INSPECTORS, share=0.2, per_department=2, seed=2023)
    assert other.departments != first.departments
    # 62 candidates x 0.2 = 12.4 -> 13 departments
    assert len(first.departments) == 13
    assert first.candidates == tuple(sorted(d.code for d in DEPARTMENTS))
    assert first.seed == 2022


def test_exclusions_are_recorded_per_department() -> None:
    result = draw(
        [DrawDepartment("D01", "ECO")],
        [
            Inspector("I1", "ECO"),
            Inspector("I2", "SOC", "D01"),
            Inspector("I3", "SOC"),
            Inspector("I4", "SOC"),
        ],
        share=1,
        per_department=2,
        seed=1,
    )
    assert result.exclusions == {"D01": {"I1": "contracting_team", "I2": "former_department"}}
    assert result.assignments == {"D01": ("I3", "I4")}
    assert result.exclusions_json()["departments"]["D01"]["I2"] == "former_department"

    relaxed = draw(
        [DrawDepartment("D01", "ECO")],
        [Inspector("I1", "ECO"), Inspector("I2", "SOC", "D01")],
        share=1,
        per_department=2,
        seed=1,
        exclude_former_department=False,
        exclude_contracting_team=False,
    )
    assert relaxed.assignments == {"D01": ("I1", "I2")}


def test_not_enough_inspectors_names_the_department() -> None:
    with pytest.raises(DrawError, match="D01") as caught:
        draw(
            [DrawDepartment("D01", "ECO")],
            [Inspector("I1", "ECO"), Inspector("I2", "SOC")],
            share=1,
            per_department=2,
            seed=1,
        )
    assert isinstance(caught.value, UserError)
    assert "inspectors_per_department" in str(caught.value)
    assert "I1 contracting_team" in str(caught.value)


@pytest.mark.parametrize(
    ("n", "share", "minimum", "expected"),
    [
        (62, 0.2, 1, 13),
        (10, 0.3, 1, 3),
        (10, 0.0, 1, 1),
        (10, 0.0, 0, 0),
        (3, 0.1, 5, 3),
        (5, 1.0, 1, 5),
    ],
)
def test_department_count(n: int, share: float, minimum: int, expected: int) -> None:
    assert department_count(n, share, minimum) == expected


def test_load_is_balanced_without_conflicts() -> None:
    result = draw(
        DEPARTMENTS,
        INSPECTORS,
        share=1,
        per_department=2,
        seed=7,
        exclude_former_department=False,
        exclude_contracting_team=False,
    )
    loads = result.load()
    # 62 departments x 2 = 124 assignments over 12 inspectors: 10 or 11 each
    assert sum(loads.values()) == 124
    assert max(loads.values()) - min(loads.values()) <= 1


def test_draw_with_policy_uses_the_configured_parameters() -> None:
    policy = DrawPolicy(share=0.1, min_departments=2, inspectors_per_department=3)
    result = draw_with_policy(DEPARTMENTS, INSPECTORS, 5, policy)
    assert len(result.departments) == 7  # ceil(6.2)
    assert all(len(v) == 3 for v in result.assignments.values())


@st.composite
def pools(draw_: st.DrawFn) -> tuple[list[DrawDepartment], list[Inspector]]:
    teams = st.one_of(st.none(), st.sampled_from(["A", "B", "C"]))
    n = draw_(st.integers(1, 20))
    departments = [DrawDepartment(f"D{i:02}", draw_(teams)) for i in range(n)]
    m = draw_(st.integers(0, 12))
    former = st.one_of(st.none(), st.sampled_from([d.code for d in departments]))
    inspectors = [Inspector(f"I{i:02}", draw_(teams), draw_(former)) for i in range(m)]
    return departments, inspectors


@settings(max_examples=300)
@given(
    pool=pools(),
    share=st.floats(0, 1),
    per=st.integers(1, 3),
    seed=st.integers(0, 2**32),
    minimum=st.integers(0, 3),
    former=st.booleans(),
    team=st.booleans(),
)
def test_draw_properties(
    pool: tuple[list[DrawDepartment], list[Inspector]],
    share: float,
    per: int,
    seed: int,
    minimum: int,
    former: bool,
    team: bool,
) -> None:
    departments, inspectors = pool
    args = {
        "share": share,
        "per_department": per,
        "seed": seed,
        "exclude_former_department": former,
        "exclude_contracting_team": team,
        "min_departments": minimum,
    }
    try:
        result = draw(departments, inspectors, **args)  # type: ignore[arg-type]
    except DrawError as exc:
        # only when some department really lacks eligible inspectors
        assert "not enough inspectors" in str(exc)
        assert any(
            sum(
                1
                for i in inspectors
                if not (former and i.former_department == d.code)
                and not (team and i.team is not None and i.team == d.team)
            )
            < per
            for d in departments
            if d.code in str(exc)
        )
        return
    assert result == draw(departments, inspectors, **args)  # type: ignore[arg-type]
    n = len(departments)
    assert len(result.departments) == min(n, max(math.ceil(round(share * n, 9)), minimum))
    assert set(result.departments) <= set(result.candidates)
    by_code = {d.code: d for d in departments}
    by_inspector = {i.code: i for i in inspectors}
    for code, chosen in result.assignments.items():
        assert len(chosen) == per == len(set(chosen))
        for inspector_code in chosen:
            inspector = by_inspector[inspector_code]
            if former:
                assert inspector.former_department != code
            if team:
                assert inspector.team is None or inspector.team != by_code[code].team
