"""The plain baseline: the same phase scores and board computed with plain SQL (no Prefect, no ORM).

It talks to the database through the bare driver (sqlite3 or psycopg), lets SQL do the
per-indicator formula (CASE expressions) and every aggregate (GROUP BY), and keeps only the last
few lines of arithmetic per department in Python: suppressing parts with too few raters and
sharing out the weights of absent components (a handful of floats per department). The board
(红黄绿榜) is ranked by a window function over a temporary table of annual scores.

`check_against_flows` compares the result with what the flows stored (DepartmentAssessment totals
to 1e-9, BoardEntry ranks and colours exactly): the baseline is only a yardstick if it agrees.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bihuan.policy import Policy

TOLERANCE = 1e-9


@dataclass
class BaselineResult:
    """Totals per (phase kind, department code), the board per code, and the time it took."""

    seconds: float
    totals: dict[tuple[str, str], float]
    ledgers: dict[tuple[str, str], float | None]
    board: dict[str, tuple[int, str]]  # code -> (rank, colour)
    departments: int = 0


@dataclass
class Agreement:
    compared_totals: int = 0
    compared_ranks: int = 0
    max_total_diff: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.compared_totals > 0 and self.compared_ranks > 0


class _Db:
    """A bare DB-API connection with one placeholder style (%(name)s) for both drivers."""

    def __init__(self, url: str) -> None:
        self.pg = url.startswith("postgresql")
        self.conn: Any
        if self.pg:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        else:
            self.conn = sqlite3.connect(url.split("sqlite:///", 1)[1])

    def sql(self, text: str) -> str:
        if self.pg:
            text = text.replace("MIN2(", "LEAST(").replace("MAX2(", "GREATEST(")
            return re.sub(r"ROUND\((\w+), 4\)", r"ROUND(CAST(\1 AS NUMERIC), 4)", text)
        text = text.replace("MIN2(", "MIN(").replace("MAX2(", "MAX(")
        return re.sub(r"%\((\w+)\)s", r":\1", text)

    def rows(self, text: str, params: dict[str, Any] | None = None) -> list[Any]:
        cur = self.conn.cursor()
        cur.execute(self.sql(text), params or {})
        return list(cur.fetchall())

    def execute(self, text: str, params: Any = None) -> None:
        self.conn.cursor().execute(self.sql(text), params or {})

    def executemany(self, text: str, rows: list[dict[str, Any]]) -> None:
        self.conn.cursor().executemany(self.sql(text), rows)


@contextmanager
def connect(url: str) -> Iterator[_Db]:
    db = _Db(url)
    try:
        yield db
    finally:
        db.conn.rollback()
        db.conn.close()


TREND = """
CASE WHEN h.value IS NULL OR h.value = 0 THEN %(no_baseline)s
ELSE MIN2(100.0, MAX2(0.0, %(at_par)s + %(ppp)s * (
       CASE WHEN i.direction = 'lower' THEN -1.0 ELSE 1.0 END
       * MAX2(-1e9, MIN2(1e9, (s.value - h.value) / ABS(h.value) * 100.0)))))
END"""

# One pass over the ledger: the per-indicator formula as CASE expressions, summed per department.
INDICATOR_SCORES = """
SELECT department_id, SUM(weight * score), SUM(weight) FROM (
  SELECT i.department_id, i.weight,
    CASE WHEN i.kind = 'qualitative' THEN
      CASE s.level WHEN 'implemented' THEN %(impl)s WHEN 'formulated' THEN %(form)s
                   WHEN 'not_formulated' THEN %(notf)s ELSE 0.0 END
    WHEN s.value IS NULL THEN 0.0
    WHEN i.target IS NULL THEN TREND
    ELSE %(share)s * (
        CASE WHEN i.direction = 'higher' THEN
               CASE WHEN s.value >= i.target THEN 100.0 WHEN i.target <= 0 THEN 0.0
                    ELSE MIN2(100.0, MAX2(0.0, 100.0 * s.value / i.target)) END
             ELSE
               CASE WHEN s.value <= i.target THEN 100.0 WHEN i.target <= 0 THEN 0.0
                    ELSE MIN2(100.0, MAX2(0.0, 100.0 * i.target / s.value)) END
        END) + %(rest)s * TREND
    END AS score
  FROM indicator i
  LEFT JOIN submission s
    ON s.indicator_id = i.id AND s.phase_id = %(phase)s AND s.submitted_on <= %(window_end)s
  LEFT JOIN indicatorhistory h
    ON h.indicator_id = i.id AND h.year = %(prev_year)s AND i.kind = 'quantitative'
  WHERE i.cycle_id = %(cycle)s
) scored
GROUP BY department_id
""".replace("TREND", TREND)

STAFFING = """
SELECT department_id, AVG(MAX2(0.0, %(pass)s - problems * %(deduction)s))
FROM staffingcheck WHERE phase_id = %(phase)s GROUP BY department_id
"""

CENTRAL = """
SELECT cl.department_id,
       AVG(COALESCE(MIN2(100.0, MAX2(0.0, cr.delivered_pct)), 0.0))
FROM centraltasklink cl
JOIN centraltask ct ON ct.id = cl.task_id
LEFT JOIN centraltaskresult cr ON cr.link_id = cl.id AND cr.phase_id = %(phase)s
WHERE ct.cycle_id = %(cycle)s
GROUP BY cl.department_id
"""

TOWN = """
SELECT department_id, COUNT(*),
       AVG(((overall + efficiency + policy_effect + guidance + unblocking) / 5.0 - 1.0)
           / %(span)s * 100.0)
FROM townrating WHERE phase_id = %(phase)s GROUP BY department_id
"""

PEER = """
SELECT ratee_department_id, COUNT(*),
       AVG(((style + efficiency + quality + cooperation + one_go) / 5.0 - 1.0) / %(span)s * 100.0)
FROM peerrating WHERE phase_id = %(phase)s GROUP BY ratee_department_id
"""

PUBLIC = """
SELECT department_id, COUNT(*),
       AVG(CASE level WHEN 'satisfied' THEN %(sat)s WHEN 'basically_satisfied' THEN %(basic)s
                      ELSE %(unsat)s END)
FROM publicrating WHERE phase_id = %(phase)s GROUP BY department_id
"""

HOTLINE = """
SELECT department_id, COUNT(*),
       AVG(CASE WHEN closed_on IS NOT NULL AND closed_on <= due_on THEN 100.0 ELSE 0.0 END)
FROM hotlinecase
WHERE cycle_id = %(cycle)s AND received_on <= %(window_end)s AND due_on <= %(window_end)s
GROUP BY department_id
"""

CARRIED = """
SELECT department_id, COUNT(*) FROM finding
WHERE cycle_id = %(cycle)s AND category = 'carried_over' AND status != 'dropped'
GROUP BY department_id
"""

OPEN_ITEMS = """
SELECT r.department_id, COUNT(*) FROM rectificationitem r JOIN finding f ON f.id = r.finding_id
WHERE f.cycle_id = %(cycle)s AND r.status NOT IN ('verified_closed', 'cannot_solve')
GROUP BY r.department_id
"""

BOARD = """
SELECT code, rnk,
  CASE WHEN rnk <= MIN2(%(green)s, n) THEN 'green'
       WHEN rnk > n - MIN2(%(red)s, n - MIN2(%(green)s, n)) THEN 'red'
       ELSE 'yellow' END
FROM (
  SELECT code,
    ROW_NUMBER() OVER (PARTITION BY grp ORDER BY ROUND(score, 4) DESC,
      CASE WHEN year_end IS NULL THEN 1 ELSE 0 END, ROUND(year_end, 4) DESC,
      CASE WHEN ledger IS NULL THEN 1 ELSE 0 END, ROUND(ledger, 4) DESC,
      open_items, code) AS rnk,
    COUNT(*) OVER (PARTITION BY grp) AS n
  FROM bench_annual
) ranked
"""


def _suppress(count: int, mean: float | None, min_raters: int) -> float | None:
    # PostgreSQL's AVG over numeric literals is numeric: compare and combine as float.
    return None if not count or count < min_raters or mean is None else float(mean)


def _phase_totals(
    db: _Db, policy: Policy, cycle: int, year: int, phase: int, window_end: Any
) -> dict[int, tuple[float, float | None]]:
    """(total, ledger) per department id of one phase."""
    sc = policy.scoring
    q, sat = sc.quantitative, sc.satisfaction
    p = {
        "phase": phase,
        "cycle": cycle,
        "window_end": window_end,
        "prev_year": year - 1,
        "impl": float(sc.qualitative.implemented),
        "form": float(sc.qualitative.formulated),
        "notf": float(sc.qualitative.not_formulated),
        "share": float(q.target_share),
        "rest": float(1 - q.target_share),
        "no_baseline": float(q.no_baseline),
        "at_par": float(q.at_par),
        "ppp": float(q.points_per_percent),
        "pass": float(sc.staffing.pass_score),
        "deduction": float(sc.staffing.deduction_per_problem),
        "span": float(sc.rating_scale_max - 1),
        "sat": float(sat.satisfied),
        "basic": float(sat.basically_satisfied),
        "unsat": float(sat.unsatisfied),
    }
    ledger = {
        d: (float(ws) / float(wt) if wt and wt > 0 else None)
        for d, ws, wt in db.rows(INDICATOR_SCORES, p)
    }
    staffing = {d: float(v) for d, v in db.rows(STAFFING, p)}
    central = {d: float(v) for d, v in db.rows(CENTRAL, p)}
    parts = {
        name: {d: _suppress(n, m, sat.min_raters) for d, n, m in db.rows(sql, p)}
        for name, sql in (("town", TOWN), ("peer", PEER), ("public", PUBLIC), ("hot", HOTLINE))
    }
    carried = dict(db.rows(CARRIED, p))
    depts = [r[0] for r in db.rows("SELECT id FROM department WHERE active = %(t)s", {"t": True})]
    w = sc.weights
    nominal = {
        "ledger": w.ledger,
        "staffing": w.staffing,
        "central_tasks": w.central_tasks,
        "satisfaction": w.satisfaction,
    }
    out: dict[int, tuple[float, float | None]] = {}
    for d in depts:
        led = ledger.get(d)
        if led is not None and carried.get(d, 0) > 0:
            led = max(0.0, led - sc.carried_penalty * carried[d])
        town, peer, pub, hot = (parts[k].get(d) for k in ("town", "peer", "public", "hot"))
        h = sat.hotline_in_public if hot is not None else 0.0
        public: float | None
        if pub is not None:
            public = (1 - h) * pub + h * (hot or 0.0)
        elif hot is not None and sat.hotline_in_public > 0:
            public = hot
        else:
            public = None
        present = {
            k: wt
            for k, wt, v in (("town", sat.town, town), ("peer", sat.peer, peer), ("public", sat.public, public))
            if v is not None
        }  # fmt: skip
        pw = sum(present.values())
        satisfaction = (
            sum(present[k] / pw * v for k, v in (("town", town), ("peer", peer), ("public", public)) if v is not None)
            if pw > 0
            else None
        )  # fmt: skip
        comps = {
            "ledger": led,
            "staffing": staffing.get(d),
            "central_tasks": central.get(d),
            "satisfaction": satisfaction,
        }
        cw = sum(nominal[k] for k, v in comps.items() if v is not None)
        total = (
            sum(nominal[k] / cw * v for k, v in comps.items() if v is not None) if cw > 0 else None
        )
        out[d] = (total if total is not None else 0.0, led)
    return out


def compute(url: str, policy: Policy, *, year: int, jurisdiction: str) -> BaselineResult:
    """Score both phases of `year` and rank the board, with plain SQL; timed end to end."""
    started = time.perf_counter()
    with connect(url) as db:
        (cycle,) = db.rows(
            "SELECT c.id FROM cycle c JOIN jurisdiction j ON j.id = c.jurisdiction_id "
            "WHERE j.code = %(j)s AND c.year = %(y)s",
            {"j": jurisdiction, "y": year},
        )[0]
        codes = dict(db.rows("SELECT id, code FROM department"))
        cats = dict(db.rows("SELECT id, category FROM department"))
        phases = db.rows(
            "SELECT id, kind, window_end FROM phase WHERE cycle_id = %(c)s", {"c": cycle}
        )
        per_phase = {
            kind: _phase_totals(db, policy, cycle, year, pid, end) for pid, kind, end in phases
        }
        open_items = dict(db.rows(OPEN_ITEMS, {"cycle": cycle}))
        wy = policy.scoring.year_end_weight

        def annual(mid: float | None, end: float | None) -> float | None:
            if mid is None:
                return end
            if end is None:
                return mid
            return (1 - wy) * mid + wy * end

        mid, end = per_phase.get("mid-year", {}), per_phase.get("year-end", {})
        rows = []
        for d in sorted(set(mid) | set(end)):
            m, e = mid.get(d), end.get(d)
            score = annual(m[0] if m else None, e[0] if e else None)
            if score is None:
                continue
            rows.append(
                {
                    "code": codes[d],
                    "grp": "all" if policy.board.scope == "all" else cats[d],
                    "score": score,
                    "year_end": e[0] if e else None,
                    "ledger": annual(m[1] if m else None, e[1] if e else None),
                    "open_items": int(open_items.get(d, 0)),
                }
            )
        db.execute(
            "CREATE TEMPORARY TABLE bench_annual (code VARCHAR(32), grp VARCHAR(24), "
            "score DOUBLE PRECISION, year_end DOUBLE PRECISION, ledger DOUBLE PRECISION, "
            "open_items INTEGER)"
        )
        db.executemany(
            "INSERT INTO bench_annual VALUES (%(code)s, %(grp)s, %(score)s, %(year_end)s, "
            "%(ledger)s, %(open_items)s)",
            rows,
        )
        if policy.board.scope == "all":
            green, red = policy.board.places(len(rows))
        elif policy.board.share("green") is None and policy.board.share("red") is None:
            green, red = policy.board.count("green", 0), policy.board.count("red", 0)
        else:  # the baseline's one statement takes the same counts for every category
            raise NotImplementedError("baseline: board shares with scope = category")
        board = {
            code: (int(rank), colour)
            for code, rank, colour in db.rows(BOARD, {"green": green, "red": red})
        }
    totals = {(k, codes[d]): v[0] for k, by in per_phase.items() for d, v in by.items()}
    ledgers = {(k, codes[d]): v[1] for k, by in per_phase.items() for d, v in by.items()}
    return BaselineResult(
        seconds=time.perf_counter() - started,
        totals=totals,
        ledgers=ledgers,
        board=board,
        departments=len(codes),
    )


def check_against_flows(url: str, result: BaselineResult, *, year: int) -> Agreement:
    """Compare with the flows' DepartmentAssessment totals and BoardEntry ranks and colours."""
    agreement = Agreement()
    with connect(url) as db:
        stored = db.rows(
            "SELECT p.kind, d.code, a.total FROM departmentassessment a "
            "JOIN phase p ON p.id = a.phase_id JOIN cycle c ON c.id = p.cycle_id "
            "JOIN department d ON d.id = a.department_id WHERE c.year = %(y)s",
            {"y": year},
        )
        board = db.rows(
            "SELECT d.code, b.rank, b.colour FROM boardentry b JOIN cycle c ON c.id = b.cycle_id "
            "JOIN department d ON d.id = b.department_id WHERE c.year = %(y)s",
            {"y": year},
        )
    seen = set()
    for kind, code, total in stored:
        seen.add((kind, code))
        mine = result.totals.get((kind, code))
        if mine is None:
            agreement.mismatches.append(f"{kind} {code}: no baseline total")
            continue
        diff = abs(mine - total)
        agreement.max_total_diff = max(agreement.max_total_diff, diff)
        agreement.compared_totals += 1
        if diff > TOLERANCE:
            agreement.mismatches.append(f"{kind} {code}: flows {total!r} baseline {mine!r}")
    for key in set(result.totals) - seen:
        agreement.mismatches.append(f"{key[0]} {key[1]}: baseline only")
    flows_board = {code: (int(rank), colour) for code, rank, colour in board}
    for code, (rank, colour) in flows_board.items():
        agreement.compared_ranks += 1
        if result.board.get(code) != (rank, colour):
            agreement.mismatches.append(
                f"board {code}: flows {(rank, colour)} baseline {result.board.get(code)}"
            )
    if set(result.board) - set(flows_board):
        agreement.mismatches.append("board: departments ranked by the baseline only")
    return agreement
