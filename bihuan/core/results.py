"""Using the results (结果运用): ranking, the red / yellow / green board, consequences, rates.

Pure functions over plain dataclasses: no database, no Prefect, no clock. The shell loads the
scores and rectification items, calls these functions and stores what they return.

Tie rule (并列名次规则)
-----------------------
Departments are ordered by their annual score, highest first. Scores are compared at full
precision after rounding to 4 decimals (so 89.99999999 and 90.0 from float arithmetic are
equal). Equal scores are broken, in this order, by:

1. the year-end phase score (年底评估得分), higher first;
2. the ledger component score (主责主业履职成效得分), higher first;
3. fewer open or overdue rectification items (未完成整改事项更少者在前);
4. the department code (部门编码), ascending.

A missing year-end or ledger score ranks after any present one. Every department therefore gets
a distinct rank, and a tie that survives rules 1–3 is decided by the code: that is arbitrary but
stable and stated, so the same data always gives the same board.

中文说明：总分相同（保留4位小数比较）时，依次比较年底评估得分、主责主业履职成效得分、
未完成（含逾期）整改事项数（少者在前）；仍相同的，按部门编码升序排列。

Board (红黄绿榜)
----------------
Within each scope (all departments together, or each category separately), the top `green`
departments are green, the bottom `red` are red and the rest yellow. A size is a count or a
share of the scope's departments (rounded half up, at least one place for a share above 0).
From policy (`board`), green and red places that would overlap or leave no department yellow
are refused for that scope's size (bihuan.policy.Board.places). Called with plain counts,
`rank` fills green first and red from the bottom of what is left.

中文说明：每个排名范围内前 green 名为绿榜、后 red 名为红榜、其余为黄榜；名额可为个数或
比例（按排名范围内部门数四舍五入，比例大于0的至少1名）。绿榜、红榜名额重叠或覆盖全部
部门的，按该地区部门数校验时拒绝。

Assessment points (综合绩效考核计分)
------------------------------------
points = score / 100 × points of the department's category for the year
(2022: economic 20, non-economic 60), rounded half-up to 2 decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

from bihuan.vocab import Category, RectificationStatus, TieRule

Scope = Literal["all", "category"]
Colour = Literal["green", "yellow", "red"]
ConsequenceKind = Literal["staffing_priority", "staffing_freeze", "head_talk", "assessment_points"]

ECONOMIC = Category.ECONOMIC.value
NON_ECONOMIC = Category.NON_ECONOMIC.value

# Which rule separated a department from the one ranked just above it (for the board's notes).
TIE_RULE_LABELS: dict[str, str] = {m.value: m.label for m in TieRule}


def tie_note(rule: str | None) -> str:
    """The board's note for a department placed below an equal score: 同分，按年底评估得分排序."""
    return f"同分，按{TIE_RULE_LABELS.get(rule, rule)}排序" if rule else ""


CLOSED = RectificationStatus.VERIFIED_CLOSED.value
CANNOT_SOLVE = RectificationStatus.CANNOT_SOLVE.value


@dataclass(frozen=True)
class ScoredDept:
    """A department's annual score with the fields the tie rule needs.

    `score` is the annual total (0–100); `year_end_score` the year-end phase total;
    `ledger_score` the ledger component; `open_items` the number of rectification items still
    open or overdue at ranking time.
    """

    code: str
    name: str
    category: str
    score: float
    year_end_score: float | None = None
    ledger_score: float | None = None
    open_items: int = 0


@dataclass(frozen=True)
class BoardRow:
    """One department on the board: its rank and colour within `scope`.

    `scope` is "all" or the category value; `tie_rule` names the rule that placed it below the
    department ranked just above it when their scores were equal (None when scores differ).
    """

    code: str
    name: str
    category: str
    score: float
    scope: str
    rank: int
    colour: Colour
    tie_rule: str | None = None


class BoardSizes(Protocol):
    """What ranking needs from bihuan.policy.Board (kept structural so the core stays pure):
    the scope, and the (green, red) places among n departments ranked together — a count, or
    a share of n; it raises when the places would overlap or leave no department yellow."""

    @property
    def scope(self) -> Scope: ...
    def places(self, departments: int, scope: str = "all") -> tuple[int, int]: ...


class CategoryPoints(Protocol):
    """What the points formula needs from bihuan.policy.Points."""

    @property
    def economic(self) -> float: ...
    @property
    def non_economic(self) -> float: ...


def _r4(value: float) -> float:
    return round(value, 4)


def _desc(value: float | None) -> tuple[int, float]:
    # Present values first (0), highest first; missing ones after (1).
    return (1, 0.0) if value is None else (0, -_r4(value))


def _sort_key(d: ScoredDept) -> tuple[object, ...]:
    return (-_r4(d.score), _desc(d.year_end_score), _desc(d.ledger_score), d.open_items, d.code)


def _separating_rule(above: ScoredDept, below: ScoredDept) -> str | None:
    if _r4(above.score) != _r4(below.score):
        return None
    if _desc(above.year_end_score) != _desc(below.year_end_score):
        return "year_end_score"
    if _desc(above.ledger_score) != _desc(below.ledger_score):
        return "ledger_score"
    if above.open_items != below.open_items:
        return "open_items"
    return "code"


def order(depts: Iterable[ScoredDept]) -> list[ScoredDept]:
    """Departments best first by the documented tie rule."""
    return sorted(depts, key=_sort_key)


def _colour(position: int, size: int, green: int, red: int) -> Colour:
    n_green = min(green, size)
    n_red = min(red, size - n_green)
    if position <= n_green:
        return "green"
    if position > size - n_red:
        return "red"
    return "yellow"


def rank(
    scores: Sequence[ScoredDept],
    scope: Scope = "all",
    *,
    green: int = 10,
    red: int = 10,
    places: Callable[[int, str], tuple[int, int]] | None = None,
) -> list[BoardRow]:
    """Rank and colour departments within `scope` ("all" or per "category").

    `places(n, scope key)` gives each scope's (green, red) places from its size (a share of
    it); without it every scope takes `green` and `red`. Rows come out grouped by scope
    (categories in alphabetical order) and by rank.
    """
    codes = [d.code for d in scores]
    if len(set(codes)) != len(codes):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        raise ValueError(f"department codes must be unique, repeated: {dupes}")
    if green < 0 or red < 0:
        raise ValueError("board sizes must not be negative")
    groups: dict[str, list[ScoredDept]] = {}
    for d in scores:
        groups.setdefault("all" if scope == "all" else d.category, []).append(d)
    rows: list[BoardRow] = []
    sizes = {key: places(len(g), key) if places else (green, red) for key, g in groups.items()}
    for key in sorted(groups):
        ordered = order(groups[key])
        n_green, n_red = sizes[key]
        for i, d in enumerate(ordered, start=1):
            rule = _separating_rule(ordered[i - 2], d) if i > 1 else None
            rows.append(
                BoardRow(
                    code=d.code,
                    name=d.name,
                    category=d.category,
                    score=d.score,
                    scope=key,
                    rank=i,
                    colour=_colour(i, len(ordered), n_green, n_red),
                    tie_rule=rule,
                )
            )
    return rows


def board(scores: Sequence[ScoredDept], sizes: BoardSizes) -> list[BoardRow]:
    """The red / yellow / green board with sizes and scope from policy (bihuan.policy.Board);
    every scope's places are checked against its size before any department is coloured."""
    return rank(scores, sizes.scope, places=sizes.places)


@dataclass(frozen=True)
class Consequence:
    """A consequence for one department: `kind` is a models.enums.ConsequenceKind value."""

    code: str
    kind: ConsequenceKind
    detail: str
    points: float | None = None


def assessment_points(score: float, category: str, points: CategoryPoints) -> float:
    """score / 100 × category points, rounded half-up to 2 decimals."""
    if category == ECONOMIC:
        weight = points.economic
    elif category == NON_ECONOMIC:
        weight = points.non_economic
    else:
        raise ValueError(f"unknown category {category!r}; expected economic or non_economic")
    value = Decimal(str(score)) * Decimal(str(weight)) / Decimal(100)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def consequences(
    board_this_year: Sequence[BoardRow],
    board_last_year: Sequence[BoardRow] | None,
    *,
    year: int,
    points: CategoryPoints,
) -> list[Consequence]:
    """Consequences of `year`'s board, per department, in board order.

    green → staffing_priority; red this year and last → staffing_freeze for year + 1 and
    head_talk; everyone → assessment_points. A department absent from last year's board (or
    with no last year at all) cannot be red two years running.
    """
    red_last = {r.code for r in board_last_year or () if r.colour == "red"}
    out: list[Consequence] = []
    for row in board_this_year:
        if row.colour == "green":
            out.append(
                Consequence(
                    row.code,
                    "staffing_priority",
                    f"{year}年度列入绿榜（第{row.rank}名），优先考虑机构编制事项、编制资源适当倾斜",
                )
            )
        if row.colour == "red" and row.code in red_last:
            out.append(
                Consequence(
                    row.code,
                    "staffing_freeze",
                    f"{year - 1}、{year}年度连续两年列入红榜，{year + 1}年原则上不考虑机构编制事项",
                )
            )
            out.append(
                Consequence(
                    row.code,
                    "head_talk",
                    f"{year - 1}、{year}年度连续两年列入红榜，约谈部门主要负责人",
                )
            )
        pts = assessment_points(row.score, row.category, points)
        full = points.economic if row.category == ECONOMIC else points.non_economic
        out.append(
            Consequence(
                row.code,
                "assessment_points",
                f"综合绩效考核计分：{row.score:.2f} ÷ 100 × {full:g} = {pts:.2f} 分",
                points=pts,
            )
        )
    return out


# --- rectification rates (整改率) ----------------------------------------------------------


@dataclass(frozen=True)
class RectItem:
    """A rectification item as the rates need it; `status` is a RectificationStatus value."""

    code: str
    category: str
    status: str
    deadline: date
    closed_on: date | None = None


@dataclass(frozen=True)
class Rates:
    """Counts of items by outcome as of a date; rates are shares of `total` (None if empty).

    on_time: verified closed on or before the deadline; late: verified closed after it;
    open: not closed yet (of which `overdue` are past their deadline); cannot_solve: closed
    with a policy explanation and an agreed alternative.
    """

    total: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0
    cannot_solve: int = 0

    def share(self, count: int) -> float | None:
        return None if self.total == 0 else count / self.total

    @property
    def on_time_rate(self) -> float | None:
        return self.share(self.on_time)

    @property
    def late_rate(self) -> float | None:
        return self.share(self.late)

    @property
    def open_rate(self) -> float | None:
        return self.share(self.open)

    @property
    def cannot_solve_rate(self) -> float | None:
        return self.share(self.cannot_solve)

    @property
    def done_rate(self) -> float | None:
        """整改完成率: closed on time or late, or settled as cannot be solved."""
        return self.share(self.on_time + self.late + self.cannot_solve)

    def __add__(self, other: Rates) -> Rates:
        return Rates(
            self.total + other.total,
            self.on_time + other.on_time,
            self.late + other.late,
            self.open + other.open,
            self.overdue + other.overdue,
            self.cannot_solve + other.cannot_solve,
        )


@dataclass(frozen=True)
class RateReport:
    overall: Rates
    by_department: dict[str, Rates]
    by_category: dict[str, Rates]


def classify(item: RectItem, as_of: date) -> Rates:
    """One item as a Rates of total 1. A closing dated after `as_of` does not count yet."""
    closed = item.closed_on is not None and item.closed_on <= as_of
    if item.status == CANNOT_SOLVE:
        return Rates(total=1, cannot_solve=1)
    if item.status == CLOSED and closed:
        assert item.closed_on is not None
        if item.closed_on <= item.deadline:
            return Rates(total=1, on_time=1)
        return Rates(total=1, late=1)
    return Rates(total=1, open=1, overdue=int(as_of > item.deadline))


def rectification_rates(items: Iterable[RectItem], as_of: date) -> RateReport:
    """Rates per department, per category and overall, as of `as_of`."""
    overall = Rates()
    by_dept: dict[str, Rates] = {}
    by_cat: dict[str, Rates] = {}
    for item in items:
        one = classify(item, as_of)
        overall = overall + one
        by_dept[item.code] = by_dept.get(item.code, Rates()) + one
        by_cat[item.category] = by_cat.get(item.category, Rates()) + one
    return RateReport(overall, dict(sorted(by_dept.items())), dict(sorted(by_cat.items())))


# --- year on year (同比) ------------------------------------------------------------------


@dataclass(frozen=True)
class YearOnYear:
    """A department's change since last year; the `last_*` fields are None when it is new."""

    code: str
    name: str
    score: float
    rank: int
    colour: Colour
    last_score: float | None
    last_rank: int | None
    last_colour: Colour | None

    @property
    def delta(self) -> float | None:
        return None if self.last_score is None else round(self.score - self.last_score, 4)

    @property
    def rank_change(self) -> int | None:
        """Places gained (positive) or lost (negative)."""
        return None if self.last_rank is None else self.last_rank - self.rank


def year_on_year(this_year: Sequence[BoardRow], last_year: Sequence[BoardRow]) -> list[YearOnYear]:
    """Join this year's board with last year's by department code, in this year's order."""
    last = {r.code: r for r in last_year}
    out = []
    for r in this_year:
        prev = last.get(r.code)
        out.append(
            YearOnYear(
                r.code,
                r.name,
                r.score,
                r.rank,
                r.colour,
                prev.score if prev else None,
                prev.rank if prev else None,
                prev.colour if prev else None,
            )
        )
    return out
