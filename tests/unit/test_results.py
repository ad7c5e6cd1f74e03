"""Unit tests of the results core: ranking, tie rule, board sizes and scope, consequences, rates."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bihuan.core.results import (
    BoardRow,
    RectItem,
    ScoredDept,
    assessment_points,
    board,
    consequences,
    rank,
    rectification_rates,
    year_on_year,
)
from bihuan.policy import Board, Points, load_policy

REPO = Path(__file__).resolve().parents[2]


def dept(code: str, score: float, cat: str = "economic", **kw: object) -> ScoredDept:
    return ScoredDept(code=code, name=f"部门{code}", category=cat, score=score, **kw)  # type: ignore[arg-type]


def colours(rows: list[BoardRow]) -> dict[str, str]:
    return {r.code: r.colour for r in rows}


def test_board_sizes_top_green_bottom_red_rest_yellow() -> None:
    depts = [dept(f"D{i:02d}", 100 - i) for i in range(30)]
    rows = board(depts, Board(green=10, red=10, scope="all"))
    assert [r.code for r in rows] == [f"D{i:02d}" for i in range(30)]
    assert [r.rank for r in rows] == list(range(1, 31))
    got = [r.colour for r in rows]
    assert got == ["green"] * 10 + ["yellow"] * 10 + ["red"] * 10


@pytest.mark.parametrize(
    ("n", "green", "red", "expected"),
    [
        (12, 10, 10, (10, 0, 2)),  # too few: green first, red from the rest
        (20, 10, 10, (10, 0, 10)),
        (5, 10, 10, (5, 0, 0)),
        (5, 0, 3, (0, 2, 3)),
        (7, 2, 2, (2, 3, 2)),
        (0, 10, 10, (0, 0, 0)),
    ],
)
def test_board_sizes_when_scope_is_small(
    n: int, green: int, red: int, expected: tuple[int, int, int]
) -> None:
    rows = rank([dept(f"D{i}", 50 + i) for i in range(n)], "all", green=green, red=red)
    got = [r.colour for r in rows]
    assert (got.count("green"), got.count("yellow"), got.count("red")) == expected
    # red is always the bottom of the ranking
    if expected[2]:
        assert all(r.colour == "red" for r in rows[-expected[2] :])


def test_float_noise_counts_as_a_tie_and_year_end_decides() -> None:
    a = dept("A", 0.1 + 0.2 + 89.7, year_end_score=80.0)  # 90.00000000000001
    b = dept("B", 90.0, year_end_score=85.0)
    rows = rank([a, b], "all", green=1, red=1)
    assert [r.code for r in rows] == ["B", "A"]
    assert rows[1].tie_rule == "year_end_score"
    assert rows[0].tie_rule is None


def test_tie_at_green_boundary_follows_each_rule_in_turn() -> None:
    # Six departments; ranks 2 and 3 straddle the green boundary (green=2) with equal scores.
    base = [dept("Z1", 99.0), dept("Z9", 10.0), dept("Z8", 11.0), dept("Z7", 12.0)]
    cases = [
        # (X, Y, expected winner, rule)
        (
            dept("X", 80, year_end_score=70, ledger_score=99),
            dept("Y", 80, year_end_score=71, ledger_score=1),
            "Y",
            "year_end_score",
        ),
        (
            dept("X", 80, year_end_score=70, ledger_score=90),
            dept("Y", 80, year_end_score=70, ledger_score=91),
            "Y",
            "ledger_score",
        ),
        (
            dept("X", 80, year_end_score=70, ledger_score=90, open_items=3),
            dept("Y", 80, year_end_score=70, ledger_score=90, open_items=1),
            "Y",
            "open_items",
        ),
        (dept("Y", 80, open_items=1), dept("X", 80, open_items=1), "X", "code"),
        # a missing year-end score ranks after a present one
        (
            dept("X", 80, year_end_score=None),
            dept("Y", 80, year_end_score=1),
            "Y",
            "year_end_score",
        ),
    ]
    for x, y, winner, rule in cases:
        rows = rank([*base, x, y], "all", green=2, red=2)
        c = colours(rows)
        loser = "X" if winner == "Y" else "Y"
        assert c[winner] == "green", (winner, rule)
        assert c[loser] == "yellow", (winner, rule)
        assert next(r for r in rows if r.code == loser).tie_rule == rule


def test_tie_at_red_boundary() -> None:
    depts = [
        dept("A", 90),
        dept("B", 80),
        dept("C", 60, open_items=0),
        dept("D", 60, open_items=4),
    ]
    c = colours(rank(depts, "all", green=1, red=1))
    assert c == {"A": "green", "B": "yellow", "C": "yellow", "D": "red"}


def test_ranking_is_independent_of_input_order() -> None:
    depts = [dept(f"D{i}", 70 + (i % 3), open_items=i % 2) for i in range(15)]
    a = rank(depts, "all", green=3, red=3)
    b = rank(list(reversed(depts)), "all", green=3, red=3)
    assert a == b


def test_scope_per_category_ranks_and_colours_each_category() -> None:
    econ = [dept(f"E{i}", 90 - i, "economic") for i in range(5)]
    non = [dept(f"N{i}", 50 - i, "non_economic") for i in range(4)]
    rows = board(econ + non, Board(green=1, red=2, scope="category"))
    by = {r.code: r for r in rows}
    assert by["E0"].scope == "economic" and by["E0"].rank == 1 and by["E0"].colour == "green"
    assert by["N0"].scope == "non_economic" and by["N0"].rank == 1
    assert by["N0"].colour == "green"  # green within its category despite a low score
    assert [by[f"E{i}"].colour for i in range(5)] == ["green", "yellow", "yellow", "red", "red"]
    assert [by[f"N{i}"].colour for i in range(4)] == ["green", "yellow", "red", "red"]
    # all scope would have made every non-economic department red or yellow
    all_rows = colours(rank(econ + non, "all", green=1, red=2))
    assert all_rows["N0"] == "yellow"


def test_duplicate_codes_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="repeated"):
        rank([dept("A", 1), dept("A", 2)])


P2022 = Points(economic=20, non_economic=60)


@pytest.mark.parametrize(
    ("score", "cat", "expected"),
    [
        (100, "economic", 20.0),
        (100, "non_economic", 60.0),
        (85.5, "economic", 17.1),
        (85.5, "non_economic", 51.3),
        (77.777, "non_economic", 46.67),  # 46.6662 → 46.67
        (0.025, "economic", 0.01),  # 0.005 rounds half-up
        (0, "economic", 0.0),
    ],
)
def test_points_formula_2022(score: float, cat: str, expected: float) -> None:
    assert assessment_points(score, cat, P2022) == expected


def test_unknown_category_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        assessment_points(50, "other", P2022)


def test_points_of_the_shipped_policy_for_2022_and_later() -> None:
    policy = load_policy(REPO / "config")
    assert assessment_points(90, "economic", policy.points_for(2022)) == 18.0
    assert assessment_points(90, "non_economic", policy.points_for(2023)) == 54.0


def _row(
    code: str, colour: str, score: float = 50, cat: str = "economic", rank: int = 1
) -> BoardRow:
    return BoardRow(code, f"部门{code}", cat, score, "all", rank, colour)  # type: ignore[arg-type]


def test_consequences_green_red_twice_and_points() -> None:
    this = [
        _row("G", "green", 95, "non_economic"),
        _row("Y", "yellow", 70),
        _row("R1", "red", 40),  # red last year too
        _row("R2", "red", 41, "non_economic"),  # yellow last year
        _row("R3", "red", 42),  # not on last year's board
    ]
    last = [_row("G", "red"), _row("Y", "red"), _row("R1", "red"), _row("R2", "yellow")]
    out = consequences(this, last, year=2023, points=P2022)
    kinds: dict[str, set[str]] = {}
    for c in out:
        kinds.setdefault(c.code, set()).add(c.kind)
    assert kinds == {
        "G": {"staffing_priority", "assessment_points"},
        "Y": {"assessment_points"},
        "R1": {"staffing_freeze", "head_talk", "assessment_points"},
        "R2": {"assessment_points"},
        "R3": {"assessment_points"},
    }
    freeze = next(c for c in out if c.kind == "staffing_freeze")
    assert "2024年原则上不考虑机构编制事项" in freeze.detail
    assert "约谈" in next(c for c in out if c.kind == "head_talk").detail
    pts = {c.code: c.points for c in out if c.kind == "assessment_points"}
    assert pts == {"G": 57.0, "Y": 14.0, "R1": 8.0, "R2": 24.6, "R3": 8.4}


def test_no_last_year_means_no_sanction() -> None:
    out = consequences([_row("R", "red")], None, year=2022, points=P2022)
    assert [c.kind for c in out] == ["assessment_points"]


def test_rectification_rates() -> None:
    as_of = date(2022, 12, 31)
    dl = date(2022, 11, 30)
    items = [
        RectItem("A", "economic", "verified_closed", dl, date(2022, 11, 30)),  # on time (same day)
        RectItem("A", "economic", "verified_closed", dl, date(2022, 12, 1)),  # late
        RectItem("A", "economic", "in_progress", dl),  # open, overdue
        RectItem("B", "non_economic", "open", date(2023, 1, 10)),  # open, not overdue
        RectItem("B", "non_economic", "cannot_solve", dl),
        RectItem("B", "non_economic", "reported_fixed", dl),  # not verified: open
        RectItem("B", "non_economic", "verified_closed", dl, date(2023, 1, 2)),  # after as_of
    ]
    rep = rectification_rates(items, as_of)
    a, b = rep.by_department["A"], rep.by_department["B"]
    assert (a.total, a.on_time, a.late, a.open, a.overdue, a.cannot_solve) == (3, 1, 1, 1, 1, 0)
    assert (b.total, b.on_time, b.late, b.open, b.overdue, b.cannot_solve) == (4, 0, 0, 3, 2, 1)
    assert rep.by_category["economic"] == a
    assert rep.overall.total == 7
    assert rep.overall.on_time_rate == pytest.approx(1 / 7)
    assert a.done_rate == pytest.approx(2 / 3)
    assert rectification_rates([], as_of).overall.on_time_rate is None


def test_year_on_year() -> None:
    this = [_row("A", "green", 90, rank=1), _row("B", "red", 60, rank=2)]
    last = [_row("B", "green", 80, rank=1)]
    yoy = {y.code: y for y in year_on_year(this, last)}
    assert yoy["A"].delta is None and yoy["A"].rank_change is None
    assert yoy["B"].delta == -20 and yoy["B"].rank_change == -1
    assert yoy["B"].last_colour == "green"


@st.composite
def _departments(draw: st.DrawFn) -> list[ScoredDept]:
    n = draw(st.integers(0, 40))
    score = st.sampled_from([60.0, 70.0, 70.00000000001, 80.5, 90.0])
    return [
        ScoredDept(
            code=f"D{i:02d}",
            name=f"部门{i}",
            category=draw(st.sampled_from(["economic", "non_economic"])),
            score=draw(score),
            year_end_score=draw(st.none() | score),
            ledger_score=draw(st.none() | score),
            open_items=draw(st.integers(0, 2)),
        )
        for i in range(n)
    ]


@given(_departments(), st.sampled_from(["all", "category"]), st.integers(0, 12), st.integers(0, 12))
def test_board_properties(depts: list[ScoredDept], scope: str, green: int, red: int) -> None:
    rows = rank(depts, scope, green=green, red=red)  # type: ignore[arg-type]
    assert sorted(r.code for r in rows) == sorted(d.code for d in depts)
    by_scope: dict[str, list[BoardRow]] = {}
    for r in rows:
        by_scope.setdefault(r.scope, []).append(r)
    order_of = {"green": 0, "yellow": 1, "red": 2}
    for group in by_scope.values():
        n = len(group)
        assert [r.rank for r in group] == list(range(1, n + 1))
        got = [r.colour for r in group]
        n_green = min(green, n)
        assert got.count("green") == n_green
        assert got.count("red") == min(red, n - n_green)
        assert [order_of[c] for c in got] == sorted(order_of[c] for c in got)
        # a clearly higher score always ranks higher
        for above, below in pairwise(group):
            assert round(above.score, 4) >= round(below.score, 4)


def test_head_talk_notice_is_a_template_signed_by_the_office() -> None:
    from notifications.render import render

    context = {
        "department": "县民政局",
        "year": 2023,
        "due_on": date(2024, 1, 19),
        "issued_on": date(2024, 1, 5),
        "office": "莒县县委编办",
    }
    assert render("head_talk.subject.txt", context).strip() == "关于约谈县民政局主要负责人的通知"
    body = render("head_talk.txt", context)
    assert body.startswith("县民政局主要负责人：")
    assert "2022年度、2023年度连续两年列入监管评估红榜" in body
    assert "定于2024年1月19日前" in body and "2024年原则上不考虑贵单位机构编制事项" in body
    assert body.rstrip().endswith("莒县县委编办\n2024年1月5日")
