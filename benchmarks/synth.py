"""Synthetic jurisdictions for the benchmarks: seeded rows written straight into the tables.

Every size is ONE jurisdiction (the flows work on one jurisdiction per run), so "city" is a
jurisdiction of 620 departments (10 counties' worth) and "giant" one of 10,000; the province
benchmark (benchmarks/province.py) calls `load` once per county into the same database (each
call numbers its rows after the ones already there). Rows bypass
the xlsx importer: they are generated in chunks and written with SQLAlchemy Core bulk inserts
(executemany), so loading a province takes seconds to minutes, not hours, and never holds the
whole data set in memory. The shapes match what the importer writes (enum values, dates, keys).

Per department: 5 business sections (业务科室) × 13 key tasks = 65 indicators (60 % qualitative
定性, 40 % quantitative 定量 with last year's value, a third of those with a target); per phase
5 staffing checks (机构编制执行情况), 20 town ratings (镇街道评县直), 10 anonymous peer ratings
(部门互评), 70 public ratings (群众评价); 20 hotline cases (12345) a year; one central task
(中心工作) per 10 departments with a lead and three cooperating units. About 2 % of departments
skip the mid-year submission and 3 % of indicators are not submitted.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, Table, func, select, text

from bihuan.db import table
from bihuan.policy import Policy
from models import (
    AssessmentTeam,
    BusinessSection,
    CentralTask,
    CentralTaskLink,
    CentralTaskResult,
    Commissioner,
    Cycle,
    Department,
    HotlineCase,
    Indicator,
    IndicatorHistory,
    Jurisdiction,
    PeerRating,
    Phase,
    PublicRating,
    StaffingCheck,
    Submission,
    Town,
    TownRating,
    utc_now,
)

SECTIONS = 5
TASKS_PER_SECTION = 13
TOWNS = 20
PEERS_RATED = 10
PUBLIC_PER_PHASE = 70
HOTLINE_PER_YEAR = 20
CHUNK = 20_000
STAFFING_KINDS = (
    "party_management",
    "approved_matters",
    "setup_compliance",
    "real_name",
    "off_establishment",
)
PROBLEMS = (
    "overlapping_duties",
    "section_not_operating",
    "hiring_outside_plan",
    "late_registration",
    "party_management_weak",
)
LEVELS = ("satisfied", "basically_satisfied", "unsatisfied")
PHASES = ("mid-year", "year-end")


@dataclass(frozen=True)
class Size:
    """A benchmark size: how many departments (部门) one jurisdiction holds."""

    name: str
    departments: int

    @property
    def indicators(self) -> int:
        return self.departments * SECTIONS * TASKS_PER_SECTION


SIZES = {
    "county": Size("county", 62),
    "city": Size("city", 620),
    "giant": Size("giant", 10_000),
}


@dataclass
class LoadSummary:
    """What was loaded: rows per table, for the benchmark table and rows-per-second figures."""

    jurisdiction: str
    year: int
    departments: int
    rows: dict[str, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Writer:
    """Bulk Core inserts in chunks, counting rows per table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rows: dict[str, int] = {}

    def write(self, tbl: Table, rows: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            for batch in _chunks(iter(rows)):
                conn.execute(tbl.insert(), batch)
                self.rows[tbl.name] = self.rows.get(tbl.name, 0) + len(batch)


def load(
    engine: Engine,
    size: Size,
    *,
    policy: Policy,
    year: int = 2025,
    seed: int = 7,
    jurisdiction: str = "bench",
) -> LoadSummary:
    """Write a synthetic jurisdiction of `size` into a migrated database (empty, or holding
    other jurisdictions written by `load`: explicit ids continue after the largest there)."""
    rng = random.Random(seed)
    w = _Writer(engine)
    now = utc_now()
    n = size.departments
    base = _id_bases(engine)
    jid, cid = base["jurisdiction"] + 1, base["cycle"] + 1
    d0, s0, t0 = base["department"], base["businesssection"], base["town"]
    c0, i0 = base["commissioner"], base["indicator"]
    k0, l0, team0 = base["centraltask"], base["centraltasklink"], base["assessmentteam"]
    windows = {
        "mid-year": (policy.phases.mid_year.opens.on(year), policy.phases.mid_year.closes.on(year)),
        "year-end": (policy.phases.year_end.opens.on(year), policy.phases.year_end.closes.on(year)),
    }

    w.write(
        table(Jurisdiction),
        [{"id": jid, "code": jurisdiction, "name": f"基准测试{jurisdiction}", "level": "county",
          "created_at": now}],
    )  # fmt: skip
    w.write(table(Cycle), [{"id": cid, "jurisdiction_id": jid, "year": year, "created_at": now}])
    w.write(
        table(Phase),
        [
            {"id": base["phase"] + i, "cycle_id": cid, "kind": kind,
             "window_start": windows[kind][0], "window_end": windows[kind][1]}
            for i, kind in enumerate(PHASES, start=1)
        ],
    )  # fmt: skip
    phase_id = {"mid-year": base["phase"] + 1, "year-end": base["phase"] + 2}
    w.write(
        table(AssessmentTeam),
        [
            {"id": team0 + 1, "jurisdiction_id": jid, "code": "T1", "name": "经济部门监管评估小组",
             "category": "economic"},
            {"id": team0 + 2, "jurisdiction_id": jid, "code": "T2", "name": "非经济部门监管评估小组",
             "category": "non_economic"},
        ],
    )  # fmt: skip

    # Latent quality per department drives every result, so scores spread out realistically.
    quality = [rng.betavariate(4, 2) for _ in range(n)]
    economic = [i % 3 == 0 for i in range(n)]
    codes = [f"D{i + 1:05d}" for i in range(n)]
    w.write(
        table(Department),
        (
            {
                "id": d0 + i + 1,
                "jurisdiction_id": jid,
                "team_id": team0 + (1 if economic[i] else 2),
                "code": codes[i],
                "name": f"部门{i + 1:05d}",
                "category": "economic" if economic[i] else "non_economic",
                "head_name": "负责人",
                "contact_name": "联络人",
                "contact_phone": "",
                "contact_email": f"{codes[i].lower()}@bench.local",
                "notify_tags": codes[i].lower(),
                "active": True,
                "updated_at": now,
            }
            for i in range(n)
        ),
    )
    w.write(
        table(BusinessSection),
        (
            {"id": s0 + i * SECTIONS + s + 1, "department_id": d0 + i + 1, "code": f"S{s + 1}",
             "name": f"业务科室{s + 1}", "active": True}
            for i in range(n)
            for s in range(SECTIONS)
        ),
    )  # fmt: skip
    w.write(
        table(Town),
        [{"id": t0 + t + 1, "jurisdiction_id": jid, "code": f"Z{t + 1:02d}",
          "name": f"第{t + 1}镇"}
         for t in range(TOWNS)],
    )  # fmt: skip
    inspectors = max(6, n // 5)
    w.write(
        table(Commissioner),
        [
            {"id": c0 + c + 1, "jurisdiction_id": jid, "code": f"C{c + 1:05d}",
             "name": f"专员{c + 1}", "team_id": team0 + 1 + c % 2,
             "former_department_id": d0 + (c * 7) % n + 1 if c % 4 == 0 else None,
             "active": True}
            for c in range(inspectors)
        ],
    )  # fmt: skip

    # The ledger: indicators, last year's values, and each phase's submissions.
    per_dept = SECTIONS * TASKS_PER_SECTION
    skip_mid = set(rng.sample(range(n), max(1, n // 50)))
    plan: list[tuple[int, int, bool, float, float | None, float | None, str]] = []
    # (indicator id, dept index, quantitative, last year, target, this year, direction)

    def indicators() -> Iterator[dict[str, Any]]:
        for i in range(n):
            for k in range(per_dept):
                ind_id = i0 + i * per_dept + k + 1
                s = k // TASKS_PER_SECTION
                quant = k % 5 < 2
                row: dict[str, Any] = {
                    "id": ind_id,
                    "cycle_id": cid,
                    "department_id": d0 + i + 1,
                    "section_id": s0 + i * SECTIONS + s + 1,
                    "code": f"{codes[i]}-S{s + 1}-{k % TASKS_PER_SECTION + 1:02d}",
                    "name": f"重点工作任务{k + 1}",
                    "kind": "quantitative" if quant else "qualitative",
                    "unit": "%" if quant else "",
                    "direction": "higher",
                    "target": None,
                    "weight": 1.0 + (k % 3 == 0),
                    "source_document": "三定规定",
                }
                last = target = this = None
                if quant:
                    lower = k % 7 == 0
                    row["direction"] = "lower" if lower else "higher"
                    last = round(rng.uniform(20, 500), 2)
                    if k % 11 == 0:
                        last = 0.0  # a zero baseline: trend scored as at par
                    change = rng.gauss(0.02 + 0.06 * (quality[i] - 0.6), 0.07)
                    this = round(max(0.0, last * (1 - change if lower else 1 + change)), 2)
                    if last and k % 3 == 1:
                        target = round(last * (0.96 if lower else 1.04), 2)
                        row["target"] = target
                plan.append((ind_id, i, quant, last or 0.0, target, this, row["direction"]))
                yield row

    w.write(table(Indicator), indicators())
    w.write(
        table(IndicatorHistory),
        (
            {"indicator_id": ind_id, "year": y, "value": last * (1 - 0.03 * (year - 1 - y)),
             "source": "import"}
            for ind_id, _i, quant, last, _t, _v, _d in plan
            if quant
            for y in (year - 2, year - 1)
        ),
    )  # fmt: skip

    def submissions() -> Iterator[dict[str, Any]]:
        for kind in PHASES:
            start, end = windows[kind]
            span = (end - start).days
            for ind_id, i, quant, last, _t, this, _d in plan:
                if kind == "mid-year" and i in skip_mid:
                    continue
                if rng.random() < 0.03:
                    continue  # not submitted
                q = quality[i]
                row: dict[str, Any] = {
                    "phase_id": phase_id[kind],
                    "indicator_id": ind_id,
                    "value": None,
                    "level": None,
                    "method": "material",
                    "evidence": "",
                    # a few arrive after the window and do not count
                    "submitted_on": start + timedelta(days=rng.randint(0, span + 2)),
                    "updated_at": now,
                }
                if quant:
                    v = this if kind == "year-end" else last + ((this or 0) - last) * 0.6
                    row["value"] = round(v or 0.0, 2)
                else:
                    r = rng.random()
                    p_impl = 0.25 + 0.6 * q
                    row["level"] = (
                        "implemented"
                        if r < p_impl
                        else "formulated"
                        if r < 0.93
                        else "not_formulated"
                    )
                yield row

    w.write(table(Submission), submissions())
    w.write(
        table(StaffingCheck),
        (
            {
                "phase_id": phase_id[kind],
                "department_id": d0 + i + 1,
                "kind": check,
                **(
                    {"problems": rng.choice((1, 1, 2, 3)), "problem_type": rng.choice(PROBLEMS),
                     "note": "科室职责交叉"}
                    if rng.random() < 0.03 + 0.2 * (1 - quality[i])
                    else {"problems": 0, "problem_type": None, "note": "符合规定"}
                ),
            }
            for kind in PHASES
            for i in range(n)
            for check in STAFFING_KINDS
            if rng.random() < 0.95  # now and then a check is not carried out
        ),
    )  # fmt: skip

    # Central tasks as chains: one per ten departments, a lead and three cooperating units.
    tasks = max(1, n // 10)
    links: list[tuple[int, int]] = []
    for t in range(tasks):
        members = rng.sample(range(n), min(4, n))
        links += [(t + 1, m) for m in members]
    w.write(
        table(CentralTask),
        [{"id": k0 + t + 1, "cycle_id": cid, "code": f"Z{t + 1:05d}", "name": f"中心工作{t + 1}",
          "target": ""} for t in range(tasks)],
    )  # fmt: skip
    w.write(
        table(CentralTaskLink),
        [
            {"id": l0 + k + 1, "task_id": k0 + t, "department_id": d0 + m + 1,
             "role": "lead" if k % 4 == 0 else "cooperating", "duty": ""}
            for k, (t, m) in enumerate(links)
        ],
    )  # fmt: skip
    w.write(
        table(CentralTaskResult),
        (
            {"phase_id": phase_id[kind], "link_id": l0 + k + 1,
             "delivered_pct": round(min(100.0, max(20.0, rng.gauss(60 + 40 * quality[m], 8))), 1),
             "shortfall": ""}
            for kind in PHASES
            for k, (_t, m) in enumerate(links)
            if rng.random() < 0.97  # a missing result counts as 0 %
        ),
    )  # fmt: skip

    # The three evaluations (三评).
    def dims(mean: float, count: int) -> list[float]:
        return [float(min(5, max(1, round(rng.gauss(mean, 0.7))))) for _ in range(count)]

    def town_ratings() -> Iterator[dict[str, Any]]:
        for kind in PHASES:
            start, _end = windows[kind]
            for t in range(TOWNS):
                for i in range(n):
                    a, b, c, d, e = dims(2.4 + 2.4 * quality[i], 5)
                    yield {"phase_id": phase_id[kind], "town_id": t0 + t + 1,
                           "department_id": d0 + i + 1,
                           "overall": a, "efficiency": b, "policy_effect": c, "guidance": d,
                           "unblocking": e, "rated_on": start + timedelta(days=t % 20)}  # fmt: skip

    w.write(table(TownRating), town_ratings())

    def peer_ratings() -> Iterator[dict[str, Any]]:
        for kind in PHASES:
            start, _end = windows[kind]
            for i in range(n):
                for j in range(PEERS_RATED if n > PEERS_RATED else max(0, n - 1)):
                    ratee = (i + 1 + j * 7) % n
                    a, b, c, d, e = dims(2.8 + 2.0 * quality[ratee], 5)
                    yield {"id": f"{rng.getrandbits(128):032x}", "phase_id": phase_id[kind],
                           "ratee_department_id": d0 + ratee + 1, "style": a, "efficiency": b,
                           "quality": c, "cooperation": d, "one_go": e,
                           "rated_on": start + timedelta(days=j)}  # fmt: skip

    w.write(table(PeerRating), peer_ratings())

    def public_ratings() -> Iterator[dict[str, Any]]:
        serial = 0
        for kind in PHASES:
            start, _end = windows[kind]
            for i in range(n):
                q = quality[i]
                for _ in range(PUBLIC_PER_PHASE):
                    serial += 1
                    r = rng.random()
                    level = LEVELS[0] if r < 0.3 + 0.6 * q else LEVELS[1] if r < 0.95 else LEVELS[2]
                    yield {"phase_id": phase_id[kind], "department_id": d0 + i + 1,
                           "response_key": f"WX{serial:09d}", "level": level,
                           "rated_on": start + timedelta(days=serial % 28)}  # fmt: skip

    w.write(table(PublicRating), public_ratings())

    def hotline() -> Iterator[dict[str, Any]]:
        serial = 0
        for i in range(n):
            for _ in range(HOTLINE_PER_YEAR):
                serial += 1
                received = date(year, 1, 1) + timedelta(days=rng.randint(0, 350))
                due = received + timedelta(days=rng.choice((3, 5, 7, 10, 15)))
                if rng.random() < 0.75 + 0.24 * quality[i]:
                    closed: date | None = received + timedelta(
                        days=rng.randint(0, (due - received).days)
                    )
                else:
                    closed = due + timedelta(days=rng.randint(1, 20))
                if closed is not None and closed > date(year, 12, 31):
                    closed = None
                yield {"cycle_id": cid, "department_id": d0 + i + 1,
                       "case_no": f"RX{serial:09d}",
                       "received_on": received, "due_on": due, "closed_on": closed,
                       "satisfaction": None, "sampled_on": None, "check_note": ""}  # fmt: skip

    w.write(table(HotlineCase), hotline())
    _advance_sequences(engine)
    return LoadSummary(jurisdiction=jurisdiction, year=year, departments=n, rows=w.rows)


EXPLICIT_IDS = (
    "jurisdiction", "cycle", "phase", "assessmentteam", "department", "businesssection", "town",
    "commissioner", "indicator", "centraltask", "centraltasklink",
)  # fmt: skip


def _id_bases(engine: Engine) -> dict[str, int]:
    """The largest id of each table `load` writes explicit ids into (0 when empty)."""
    from models import metadata

    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.max(metadata.tables[name].c.id))).scalar() or 0)
            for name in EXPLICIT_IDS
        }


def _advance_sequences(engine: Engine) -> None:
    """PostgreSQL: rows were written with explicit ids, so move each id sequence past them."""
    if engine.dialect.name != "postgresql":
        return
    from models import metadata

    with engine.begin() as conn:
        for tbl in metadata.sorted_tables:
            col = tbl.c.get("id")
            if col is None or not col.autoincrement or str(col.type) != "INTEGER":
                continue
            top = conn.execute(select(func.max(col))).scalar()
            if top:
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                    {"t": tbl.name, "v": top},
                )


def count_open_items(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM rectificationitem WHERE status NOT IN "
                    "('verified_closed', 'cannot_solve')"
                )
            ).scalar_one()
        )


def main(argv: list[str] | None = None) -> None:
    """`python -m benchmarks.synth --url URL --departments N`: load, print a JSON summary."""
    import argparse
    import json
    import time

    from bihuan.app import app_context
    from bihuan.db import get_engine

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--departments", type=int, required=True)
    parser.add_argument("--name", default="custom")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = load(
        get_engine(args.url),
        Size(args.name, args.departments),
        policy=app_context(args.url).policy,
        year=args.year,
        seed=args.seed,
    )
    print(
        json.dumps(
            {
                "rows": summary.rows,
                "total_rows": summary.total_rows,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
