"""Generates the demo county (莒县) as one workbook in the documented import format.

Two sources of randomness, so that one county can be followed over several years:

- the county itself (departments, sections, key tasks, people, each department's latent quality)
  comes from `random.Random(seed)` and is the same whatever the year;
- the year's events (submissions, ratings, hotline cases, staffing findings) come from
  `random.Random(seed + year)`.

Quantitative indicators follow one value series per indicator, drawn year by year from a start
year with a generator keyed on the indicator, so the 往年数据 (history) sheet of 2023 carries
exactly the year-end values submitted in 2022. A department's quality in a year is its latent
quality plus a small per-year noise; the one or two departments made consistently poor stay at
the bottom in every year.

Mid-year quantitative values are reported on a full-year basis (按全年口径折算), so they compare
with prior years like the year-end values do (the ledger marks them 累计指标 否). Towns rate every department in both phases.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from bihuan.demo import names
from bihuan.ingest.cells import safe_row
from bihuan.ingest.schema import SHEETS, Sheet
from models.enums import (
    Category,
    Direction,
    IndicatorKind,
    LinkRole,
    Method,
    PhaseKind,
    PublicLevel,
    QualitativeLevel,
    StaffingCheckKind,
    StaffingProblem,
)

TASKS_PER_SECTION = 13
SERIES_START = 2012  # value series start here; history sheets only show the last three years
POOR_QUALITY = (0.02, 0.08)
YEARLY_QUALITY_NOISE = 0.06
PEERS_RATED = 15
PUBLIC_PER_DEPARTMENT = (22, 34)  # responses per department and phase
HOTLINE_CASES = 600

DEFAULT_WINDOWS: dict[PhaseKind, tuple[tuple[int, int], tuple[int, int]]] = {
    PhaseKind.MID_YEAR: ((6, 1), (6, 30)),
    PhaseKind.YEAR_END: ((12, 1), (12, 31)),
}

# Which typical problem (DOMAIN.md) each of the five staffing checks tends to find.
CHECK_PROBLEMS: dict[StaffingCheckKind, tuple[StaffingProblem, ...]] = {
    StaffingCheckKind.PARTY_MANAGEMENT: (StaffingProblem.PARTY_MANAGEMENT_WEAK,),
    StaffingCheckKind.APPROVED_MATTERS: (StaffingProblem.SECTION_NOT_OPERATING,),
    StaffingCheckKind.SETUP_COMPLIANCE: (StaffingProblem.OVERLAPPING_DUTIES,),
    StaffingCheckKind.REAL_NAME: (StaffingProblem.LATE_REGISTRATION,),
    StaffingCheckKind.OFF_ESTABLISHMENT: (
        StaffingProblem.HIRING_OUTSIDE_PLAN,
        StaffingProblem.OTHER,
    ),
}

# Units counted in whole numbers; everything else keeps two decimals.
WHOLE_UNITS = frozenset(
    [
        "个",
        "户",
        "家",
        "件",
        "起",
        "人",
        "人次",
        "场",
        "次",
        "宗",
        "座",
        "套",
        "篇",
        "批次",
        "条",
        "户次",
        "亩",
        "平方米",
        "公里",
        "分钟",
        "天",
        "个工作日",
    ]
)


@dataclass(frozen=True)
class DemoSection:
    code: str
    name: str
    tasks: int


@dataclass(frozen=True)
class DemoDepartment:
    code: str
    name: str
    category: Category
    domain: str
    quality: float  # latent, 0–1: drives every outcome of the department
    sections: tuple[DemoSection, ...]

    @property
    def team(self) -> str:
        return "T1" if self.category is Category.ECONOMIC else "T2"


@dataclass(frozen=True)
class DemoIndicator:
    code: str
    department: str
    section: str
    name: str
    metric: names.Metric | None  # None: qualitative (定性)
    base: float
    has_target: bool
    source_document: str

    @property
    def kind(self) -> IndicatorKind:
        return IndicatorKind.QUALITATIVE if self.metric is None else IndicatorKind.QUANTITATIVE


@dataclass(frozen=True)
class DemoCounty:
    """The year-independent part of the demo: who exists and what they are measured on."""

    seed: int
    departments: tuple[DemoDepartment, ...]
    indicators: tuple[DemoIndicator, ...]
    towns: tuple[tuple[str, str], ...]
    commissioners: tuple[tuple[str, str, str, str | None], ...]  # code, name, team, former dept
    central_tasks: tuple[tuple[str, str, str, str, tuple[str, ...]], ...]  # code..lead, coops
    people: dict[str, tuple[str, str, str]]  # dept code -> head, contact, phone
    poor: tuple[str, ...]
    twelve_task_section: tuple[str, str]

    def department(self, code: str) -> DemoDepartment:
        return next(d for d in self.departments if d.code == code)


@dataclass(frozen=True)
class DemoSummary:
    """What a generated workbook holds: rows per sheet and the planted facts tests rely on."""

    path: Path
    year: int
    seed: int
    counts: dict[str, int]
    departments: int
    poor_departments: tuple[str, ...]  # consistently poor: meant to be red every year
    missing_mid_year: tuple[str, ...]  # departments with no mid-year submission at all
    twelve_task_section: tuple[str, str]  # (department, section) with 12 tasks: a warning
    quality: dict[str, float] = field(default_factory=dict)  # latent quality per department


# --------------------------------------------------------------------------------------------
# The county (year-independent)


def _person(rng: random.Random) -> str:
    return rng.choice(names.SURNAMES) + rng.choice(names.GIVEN)


def _department_specs(count: int) -> list[tuple[str, Category, str]]:
    """`count` departments in the source's proportion (26 economic of 62)."""
    econ = list(names.ECONOMIC_DEPARTMENTS)
    non = list(names.NON_ECONOMIC_DEPARTMENTS)
    n_econ = max(1, round(count * len(econ) / (len(econ) + len(non))))
    n_non = max(1, count - n_econ)

    def take(pool: list[tuple[str, str]], n: int) -> list[tuple[str, str]]:
        # Beyond the real list (scale tests), repeat it with a numbered office suffix.
        return [
            (
                pool[i % len(pool)][0] + ("" if i < len(pool) else f"第{i // len(pool) + 1}分中心"),
                pool[i % len(pool)][1],
            )
            for i in range(n)
        ]

    return [(n, Category.ECONOMIC, d) for n, d in take(econ, n_econ)] + [
        (n, Category.NON_ECONOMIC, d) for n, d in take(non, n_non)
    ]


def _latent_quality(rng: random.Random) -> float:
    # Ordinary departments stay above the consistently poor ones (POOR_QUALITY), so that the
    # poor ones end up at the bottom of the board every year whatever the yearly noise.
    return 0.2 + 0.8 * rng.betavariate(2.5, 2.5)


def _topic(section_name: str) -> str:
    return section_name.removesuffix("科")


def build_county(seed: int = 2022, departments: int = 62) -> DemoCounty:
    """The county's structure; identical for every year generated with the same seed."""
    if departments < 4:
        raise ValueError("the demo county needs at least 4 departments")
    rng = random.Random(seed)
    specs = _department_specs(departments)
    width = max(2, len(str(len(specs))))
    depts: list[DemoDepartment] = []
    indicators: list[DemoIndicator] = []
    people: dict[str, tuple[str, str, str]] = {}
    for i, (name, category, domain) in enumerate(specs, start=1):
        code = f"D{i:0{width}d}"
        n_sections = min(len(names.SECTIONS[domain]), rng.choice((3, 4, 4, 5, 5, 5, 6, 6, 7)))
        section_names = rng.sample(names.SECTIONS[domain], n_sections)
        sections = tuple(
            DemoSection(f"S{j}", sname, TASKS_PER_SECTION)
            for j, sname in enumerate(section_names, start=1)
        )
        depts.append(DemoDepartment(code, name, category, domain, _latent_quality(rng), sections))
        head, contact = _person(rng), _person(rng)
        people[code] = (head, contact, f"{names.PHONE_PREFIX}-{rng.randint(6200000, 6299999)}")

    # One or two departments are consistently poor: one of each category.
    poor = [
        rng.choice([d for d in depts if d.category is cat]) for cat in Category if len(depts) >= 2
    ]
    poor_codes = tuple(sorted({d.code for d in poor}))
    depts = [
        DemoDepartment(d.code, d.name, d.category, d.domain, rng.uniform(*POOR_QUALITY), d.sections)
        if d.code in poor_codes
        else d
        for d in depts
    ]

    # One section carries 12 key tasks instead of 13: the importer warns about it.
    odd_dept = rng.choice([d for d in depts if d.code not in poor_codes])
    odd_section = rng.choice(odd_dept.sections)
    depts = [
        DemoDepartment(
            d.code,
            d.name,
            d.category,
            d.domain,
            d.quality,
            tuple(
                DemoSection(s.code, s.name, TASKS_PER_SECTION - 1) if s is odd_section else s
                for s in d.sections
            ),
        )
        if d is odd_dept
        else d
        for d in depts
    ]

    for dept in depts:
        pool = list(names.METRICS[dept.domain]) + list(names.COMMON_METRICS)
        used: dict[str, int] = {}
        for section in dept.sections:
            n_qual = rng.randint(4, 6)
            quals = rng.sample(names.QUALITATIVE, n_qual)
            metrics = rng.sample(pool, section.tasks - n_qual)
            tasks: list[tuple[str, names.Metric | None]] = [
                (f"{verb}{_topic(section.name)}{obj}", None) for verb, obj in quals
            ]
            for metric in metrics:
                seen = used.get(metric.name, 0)
                used[metric.name] = seen + 1
                # A measure already used by another section of the department names its section.
                label = metric.name if not seen else f"{metric.name}（{section.name}）"
                tasks.append((label, metric))
            rng.shuffle(tasks)
            for n, (task_name, task_metric) in enumerate(tasks[: section.tasks], start=1):
                indicators.append(
                    DemoIndicator(
                        code=f"{dept.code}-{section.code}-{n:02d}",
                        department=dept.code,
                        section=section.code,
                        name=task_name,
                        metric=task_metric,
                        base=rng.uniform(task_metric.low, task_metric.high) if task_metric else 0.0,
                        has_target=task_metric is not None and rng.random() < 0.3,
                        source_document=rng.choice(names.SOURCE_DOCUMENTS),
                    )
                )

    towns = tuple((f"Z{i:02d}", t) for i, t in enumerate(names.TOWNS, start=1))

    commissioners: list[tuple[str, str, str, str | None]] = []
    for i in range(1, 11):
        team = "T1" if i <= 5 else "T2"
        cat = Category.ECONOMIC if team == "T1" else Category.NON_ECONOMIC
        # Some commissioners were seconded from a department: a conflict of interest (回避).
        former = rng.choice([d.code for d in depts if d.category is cat]) if i % 3 == 1 else None
        commissioners.append((f"P{i:02d}", _person(rng), team, former))

    by_name = {d.name: d.code for d in depts}
    central: list[tuple[str, str, str, str, tuple[str, ...]]] = []
    for code, task_name, target, lead_name, coop_names in names.CENTRAL_TASKS:
        lead = by_name.get(lead_name) or rng.choice(depts).code
        coops = [by_name[n] for n in coop_names if n in by_name and by_name[n] != lead]
        if len(coops) < 2:
            others = [d.code for d in depts if d.code != lead and d.code not in coops]
            coops += rng.sample(others, min(len(others), 2 - len(coops)))
        n_coops = min(len(coops), rng.randint(2, 4))
        central.append((code, task_name, target, lead, tuple(coops[:n_coops])))

    return DemoCounty(
        seed=seed,
        departments=tuple(depts),
        indicators=tuple(indicators),
        towns=towns,
        commissioners=tuple(commissioners),
        central_tasks=tuple(central),
        people=people,
        poor=poor_codes,
        twelve_task_section=(odd_dept.code, odd_section.code),
    )


# --------------------------------------------------------------------------------------------
# Per-year values


def year_quality(county: DemoCounty, dept: DemoDepartment, year: int) -> float:
    """The department's quality in a year: its latent quality plus a small yearly noise."""
    if dept.code in county.poor:
        return dept.quality  # kept poor every year
    return min(1.0, max(0.0, dept.quality + _quality_noise(county.seed, dept.code, year)))


@lru_cache(maxsize=65536)
def _quality_noise(seed: int, code: str, year: int) -> float:
    return random.Random(f"{seed}:quality:{code}:{year}").gauss(0, YEARLY_QUALITY_NOISE)


def value_series(county: DemoCounty, ind: DemoIndicator, upto: int) -> dict[int, float]:
    """Year-end values of a quantitative indicator from SERIES_START to `upto`, unrounded.

    Keyed on the indicator, not on the year asked for, so every year's workbook agrees on
    every past value.
    """
    assert ind.metric is not None
    metric = ind.metric
    dept = county.department(ind.department)
    rng = random.Random(f"{county.seed}:series:{ind.code}")
    value = ind.base
    series = {}
    for year in range(SERIES_START, upto + 1):
        q = year_quality(county, dept, year)
        growth = 0.03 + 0.16 * (q - 0.5) + rng.gauss(0, 0.035)
        if rng.random() < 0.15 * (1 - q):
            growth -= 0.12  # a bad year: what makes an indicator fail
        if year > SERIES_START:
            value *= 1 - growth if metric.lower_better else 1 + growth
        if metric.percent:
            value = min(100.0, value)
        series[year] = max(0.0, value)
    return series


def _round(metric: names.Metric, value: float) -> float:
    if metric.unit in WHOLE_UNITS:
        return float(round(value))
    return round(value, 2)


def _window(
    windows: Mapping[PhaseKind, tuple[tuple[int, int], tuple[int, int]]],
    phase: PhaseKind,
    year: int,
) -> tuple[date, date]:
    (m1, d1), (m2, d2) = windows[phase]
    return date(year, m1, d1), date(year, m2, d2)


def _day_in(rng: random.Random, start: date, end: date, late_bias: float = 0.0) -> date:
    """A day in [start, end]; late_bias 0–1 pushes it toward the end (weaker departments)."""
    span = (end - start).days
    x = rng.random() ** (1 - 0.8 * late_bias)
    return start + timedelta(days=round(x * span))


def _clamp_rating(x: float) -> int:
    return int(min(5, max(1, round(x))))


def _public_level(rng: random.Random, q: float) -> PublicLevel:
    r = rng.random()
    if r < 0.02 + 0.22 * (1 - q):
        return PublicLevel.UNSATISFIED
    if r < 0.30 + 0.35 * (1 - q):
        return PublicLevel.BASICALLY_SATISFIED
    return PublicLevel.SATISFIED


def generate_rows(
    year: int,
    seed: int = 2022,
    *,
    departments: int = 62,
    county: DemoCounty | None = None,
    windows: Mapping[PhaseKind, tuple[tuple[int, int], tuple[int, int]]] | None = None,
) -> tuple[DemoCounty, dict[str, list[dict[str, Any]]], tuple[str, ...]]:
    """Every row of the year's workbook, by sheet key; plus the county and the mid-year absentees.

    Values are what a user would type: enum cells hold the Chinese label, dates are dates.
    """
    county = county or build_county(seed, departments)
    windows = windows or DEFAULT_WINDOWS
    rng = random.Random(seed + year)
    depts = county.departments
    q = {d.code: year_quality(county, d, year) for d in depts}
    rows: dict[str, list[dict[str, Any]]] = {s.key: [] for s in SHEETS}

    rows["teams"] = [
        {"code": "T1", "name": "经济部门监管评估小组", "category": Category.ECONOMIC.label},
        {"code": "T2", "name": "非经济部门监管评估小组", "category": Category.NON_ECONOMIC.label},
    ]
    for d in depts:
        head, contact, phone = county.people[d.code]
        rows["departments"].append(
            {
                "code": d.code,
                "name": d.name,
                "category": d.category.label,
                "team": d.team,
                "head_name": head,
                "contact_name": contact,
                "contact_phone": phone,
                "contact_email": f"{d.code.lower()}@{names.EMAIL_DOMAIN}",
                "notify_tags": d.code.lower(),
                "active": "是",
            }
        )
        rows["sections"] += [
            {"department": d.code, "code": s.code, "name": s.name} for s in d.sections
        ]
    rows["towns"] = [{"code": c, "name": n} for c, n in county.towns]
    rows["commissioners"] = [
        {"code": c, "name": n, "team": t, "former_department": f}
        for c, n, t, f in county.commissioners
    ]

    # The ledger and its history.
    series: dict[str, dict[int, float]] = {}
    for ind in county.indicators:
        row: dict[str, Any] = {
            "code": ind.code,
            "department": ind.department,
            "section": ind.section,
            "name": ind.name,
            "kind": ind.kind.label,
            "weight": 1,
            "source_document": ind.source_document,
        }
        if ind.metric is not None:
            metric = ind.metric
            s = series[ind.code] = value_series(county, ind, year)
            row["unit"] = metric.unit
            # reported on a full-year basis at mid-year too (below): not cumulative (累计指标 否)
            row["cumulative"] = "否"
            row["direction"] = (
                Direction.LOWER_BETTER if metric.lower_better else Direction.HIGHER_BETTER
            ).label
            if ind.has_target:
                # A target a little better than last year (目标值).
                step = 0.96 if metric.lower_better else 1.04
                goal = s[year - 1] * step
                row["target"] = _round(metric, min(100.0, goal) if metric.percent else goal)
            rows["indicator_history"] += [
                {"indicator": ind.code, "year": y, "value": _round(metric, s[y])}
                for y in range(year - 3, year)
            ]
        rows["indicators"].append(row)

    # Staffing execution: the five checks per department and phase.
    dept_sections = {d.code: [s.name for s in d.sections] for d in depts}
    for phase in PhaseKind:
        for d in depts:
            for check in StaffingCheckKind:
                p_problem = 0.04 + 0.38 * (1 - q[d.code])
                if phase is PhaseKind.YEAR_END:
                    p_problem *= 0.85  # some fixed after the mid-year round
                if rng.random() < p_problem:
                    problem = rng.choice(CHECK_PROBLEMS[check])
                    secs = dept_sections[d.code]
                    a, b = rng.sample(secs, 2) if len(secs) >= 2 else (secs[0], "办公室")
                    note = rng.choice(names.STAFFING_NOTES[problem.value]).format(a=a, b=b)
                    rows["staffing_checks"].append(
                        {
                            "phase": phase.label,
                            "department": d.code,
                            "check": check.label,
                            "problems": rng.choice((1, 1, 1, 2, 2, 3)),
                            "problem_type": problem.label,
                            "note": note,
                        }
                    )
                else:
                    rows["staffing_checks"].append(
                        {
                            "phase": phase.label,
                            "department": d.code,
                            "check": check.label,
                            "problems": 0,
                            "note": "符合规定",
                        }
                    )

    # Central tasks, assessed as a chain (链条式评估).
    for code, task_name, target, lead, coops in county.central_tasks:
        rows["central_tasks"].append({"code": code, "name": task_name, "target": target})
        rows["central_task_links"].append(
            {
                "task": code,
                "department": lead,
                "role": LinkRole.LEAD.label,
                "duty": f"牵头推进{task_name}工作, 统筹调度",
            }
        )
        rows["central_task_links"] += [
            {
                "task": code,
                "department": c,
                "role": LinkRole.COOPERATING.label,
                "duty": f"配合做好{task_name}相关工作",
            }
            for c in coops
        ]
        for phase in PhaseKind:
            for dept_code in (lead, *coops):
                # Delivered against what the phase expects (年中按序时进度, 年底按全年目标).
                pct = min(100.0, max(20.0, rng.gauss(62 + 38 * q[dept_code], 6)))
                row = {
                    "phase": phase.label,
                    "task": code,
                    "department": dept_code,
                    "delivered_pct": round(pct, 1),
                }
                if pct < 85:
                    row["shortfall"] = rng.choice(names.SHORTFALLS)
                rows["central_task_results"].append(row)

    # Submissions: most departments report everything in the window; 2–3 weak ones skip the
    # mid-year round entirely.
    by_quality = sorted(depts, key=lambda d: q[d.code])
    weak_third = by_quality[: max(3, len(depts) // 3)]
    missing = tuple(
        sorted(d.code for d in rng.sample(weak_third, min(len(weak_third), rng.choice((2, 3)))))
    )
    methods = [Method.MATERIAL] * 6 + [Method.DATA_COLLECTION] * 2 + [Method.INTERVIEW]
    for phase in PhaseKind:
        start, end = _window(windows, phase, year)
        days = {d.code: _day_in(rng, start, end - timedelta(days=1), 1 - q[d.code]) for d in depts}
        for ind in county.indicators:
            if phase is PhaseKind.MID_YEAR and ind.department in missing:
                continue
            dq = q[ind.department]
            row = {
                "phase": phase.label,
                "indicator": ind.code,
                "method": rng.choice(methods).label,
                "evidence": f"{ind.code}-{phase.label}佐证材料.pdf",
                "submitted_on": days[ind.department] + timedelta(days=rng.random() < 0.2),
            }
            if ind.metric is None:
                p_impl = 0.15 + 0.83 * dq
                if phase is PhaseKind.MID_YEAR:
                    p_impl *= 0.75
                r = rng.random()
                level = (
                    QualitativeLevel.IMPLEMENTED
                    if r < p_impl
                    else QualitativeLevel.FORMULATED
                    if r < p_impl + (1 - p_impl) * 0.65
                    else QualitativeLevel.NOT_FORMULATED
                )
                row["level"] = level.label
            else:
                s = series[ind.code]
                value = s[year]
                if phase is PhaseKind.MID_YEAR:
                    value = s[year - 1] + (s[year] - s[year - 1]) * rng.uniform(0.3, 1.1)
                row["value"] = _round(ind.metric, value)
            rows["submissions"].append(row)

    # The three evaluations (三评), in both phases.
    for phase in PhaseKind:
        start, end = _window(windows, phase, year)
        for town_code, _ in county.towns:
            day = _day_in(rng, start, end)
            for d in depts:
                mean = 2.4 + 2.4 * q[d.code]
                rows["town_ratings"].append(
                    {
                        "phase": phase.label,
                        "town": town_code,
                        "department": d.code,
                        **{
                            k: _clamp_rating(rng.gauss(mean, 0.7))
                            for k in ("overall", "efficiency", "policy_effect", "guidance")
                        },
                        "unblocking": _clamp_rating(rng.gauss(mean - 0.2, 0.8)),
                        "rated_on": day,
                    }
                )
        for rater in depts:
            others = [d for d in depts if d.code != rater.code]
            day = _day_in(rng, start, end)
            for ratee in sorted(
                rng.sample(others, min(PEERS_RATED, len(others))), key=lambda d: d.code
            ):
                mean = 2.8 + 2.0 * q[ratee.code]
                rows["peer_ratings"].append(
                    {
                        "phase": phase.label,
                        "rater": rater.code,
                        "ratee": ratee.code,
                        **{
                            k: _clamp_rating(rng.gauss(mean, 0.6))
                            for k in ("style", "efficiency", "quality", "cooperation", "one_go")
                        },
                        "rated_on": day,
                    }
                )
        serial = 0
        phase_tag = "M" if phase is PhaseKind.MID_YEAR else "E"
        for d in depts:
            for _ in range(rng.randint(*PUBLIC_PER_DEPARTMENT)):
                serial += 1
                rows["public_ratings"].append(
                    {
                        "phase": phase.label,
                        "response_key": f"WX{year}{phase_tag}{serial:06d}",
                        "department": d.code,
                        "level": _public_level(rng, q[d.code]).label,
                        "rated_on": _day_in(rng, start, end),
                    }
                )

    # 12345 hotline cases through the year; weak departments close more of them late.
    load = [rng.uniform(0.2, 3.0) for _ in depts]
    first, last = date(year, 1, 1), date(year, 12, 20)
    cases_per_dept = rng.choices(depts, weights=load, k=HOTLINE_CASES * len(depts) // 62)
    # Numbered in the order received.
    received = sorted(
        ((_day_in(rng, first, last), d) for d in cases_per_dept), key=lambda t: (t[0], t[1].code)
    )
    for n, (received_on, d) in enumerate(received, start=1):
        due_on = received_on + timedelta(days=rng.choice((3, 5, 5, 7, 10, 15)))
        dq = q[d.code]
        if rng.random() < 0.72 + 0.26 * dq:
            closed: date | None = received_on + timedelta(
                days=rng.randint(0, (due_on - received_on).days)
            )
        else:
            closed = due_on + timedelta(days=rng.randint(1, 20))
        if closed is not None and closed > date(year, 12, 31):
            closed = None  # still open at the year's end
        row = {
            "case_no": f"RZ{year}{n:05d}",
            "department": d.code,
            "received_on": received_on,
            "due_on": due_on,
            "closed_on": closed,
        }
        if closed is not None:
            row["satisfaction"] = _public_level(rng, dq).label
        rows["hotline_cases"].append(row)

    return county, rows, missing


# --------------------------------------------------------------------------------------------
# Writing


def _sheet_rows(sheet: Sheet, rows: list[dict[str, Any]]) -> Iterator[list[Any]]:
    keys = [c.key for c in sheet.columns]
    allowed = set(keys)
    for row in rows:
        unknown = set(row) - allowed
        if unknown:  # a programmer's mistake: the generator drifted from the schema
            raise KeyError(f"sheet {sheet.key}: columns {sorted(unknown)} are not in the schema")
        yield [row.get(k) for k in keys]


def write_workbook(path: Path, rows: Mapping[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Write rows in the documented format (Chinese sheet titles and headers), in SHEETS order."""
    wb = Workbook(write_only=True)
    counts: dict[str, int] = {}
    for sheet in SHEETS:
        ws = wb.create_sheet(title=sheet.zh)
        ws.append(safe_row(ws, [c.zh for c in sheet.columns]))
        n = 0
        for values in _sheet_rows(sheet, rows.get(sheet.key, [])):
            ws.append(safe_row(ws, values))
            n += 1
        counts[sheet.key] = n
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return counts


def build_demo_workbook(
    path: Path | str,
    year: int,
    seed: int = 2022,
    *,
    departments: int = 62,
    windows: Mapping[PhaseKind, tuple[tuple[int, int], tuple[int, int]]] | None = None,
) -> DemoSummary:
    """Write the demo county's workbook for `year` to `path` and say what is in it.

    `windows` are the (month, day) bounds of the mid-year and year-end assessment windows
    (default 06-01..06-30 and 12-01..12-31, as in config/policy.toml).
    """
    path = Path(path)
    county, rows, missing = generate_rows(year, seed, departments=departments, windows=windows)
    counts = write_workbook(path, rows)
    return DemoSummary(
        path=path,
        year=year,
        seed=seed,
        counts=counts,
        departments=len(county.departments),
        poor_departments=county.poor,
        missing_mid_year=missing,
        twelve_task_section=county.twelve_task_section,
        quality={d.code: round(d.quality, 3) for d in county.departments},
    )
