"""Using the results (结果运用): annual scores, the red / yellow / green board, consequences, and
the data of the year-end comprehensive report.

After the year-end assessment, `compute_results` (office; before it, refused, or with
`provisional=True` a board stored marked 暂定 whose consequences announce nothing):

1. annual score per department = (1 − w) × mid-year + w × year-end (``scoring.year_end_weight``;
   one phase alone stands for the year), from the stored assessments;
2. the board (红黄绿榜) by bihuan.core.results with ``[board]`` sizes and scope and its documented
   tie rule (annual score, then year-end score, annual ledger score, fewer open items, code);
   stored per (cycle, department), updated on a re-run;
3. consequences against last year's board: green → staffing priority; red this year and last →
   staffing freeze next year and a head talk (约谈) scheduled ``results.head_talk_workdays``
   working days after ``as_of``, with a notice (notifications/templates/head_talk.txt, signed
   with ``policy.office_name(jurisdiction)``) to the department head (``<code>-head``) and the
   office's leadership (``leadership``) enqueued in the same transaction; points in the
   county's comprehensive performance assessment for everyone (``policy.points_for(year)``; a
   year without ``[points.YYYY]`` is a ConfigError naming the key, before anything is stored).
   Consequences upsert on (cycle, department, kind); ones that no longer apply after a re-run
   with changed scores are deleted (audited). A re-run keeps a head talk's announced date, and
   notices have idempotency keys, so it sends nothing twice.

`board` lists the stored board (everyone may read it: the board is published county-wide; a
department user sees the consequences of its own department only). `report_data` gathers the
year-end report (bihuan/report.py renders it) for leaders, the office, admins and auditors.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

from pydantic import BaseModel

from bihuan.core import results as core
from bihuan.core.access import Actor, Permission, Target, listing, visible_department
from bihuan.core.outbox import NewMessage
from bihuan.core.reminders import LEADERSHIP_TAG
from bihuan.core.scoring import annual_score
from bihuan.core.workdays import WorkCalendar
from bihuan.errors import ConfigError, UserError
from bihuan.policy import POLICY_FILE, Policy, PolicyError, PolicyGap
from bihuan.report import (
    ChainShortfall,
    FindingLine,
    LedgerSummary,
    PhaseRun,
    ReportData,
    StaffingSummary,
    SurveyCounts,
)
from bihuan.repositories.results import (
    BoardPlace,
    ConsequenceRecord,
    DepartmentRef,
    PhaseInfo,
)
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Category, Colour, ConsequenceKind, PhaseKind, TieRule
from notifications.render import render
from notifications.tags import head_tag

HEAD_TALK = ConsequenceKind.HEAD_TALK.value
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


class ConsequenceRow(BaseModel):
    """A consequence of the board for one department (结果运用)."""

    code: str
    kind: ConsequenceKind
    kind_label: str
    detail: str
    points: float | None = None  # assessment_points: points in the comprehensive assessment
    due_on: date | None = None  # head_talk: the talk is held by this date


class BoardRow(BaseModel):
    """One department on the board (红黄绿榜), as `bihuan board --json` shows it."""

    rank: int
    scope: str  # "all", or the category when the board is ranked per category
    scope_label: str
    code: str
    name: str
    category: Category
    category_label: str
    score: float
    colour: Colour
    colour_label: str
    # the rule that placed it below an equal score (None when not tied), stored with the board
    tie_rule: TieRule | None = None
    tie_rule_label: str = ""
    tie_note: str = ""  # 同分，按年底评估得分排序
    # computed before the year-end assessment, from the mid-year scores (暂定); not final
    provisional: bool = False
    provisional_label: str = ""  # 暂定 when provisional
    consequences: list[ConsequenceRow] = []


class ResultsSummary(BaseModel):
    """`bihuan results --json`: the board computed, its consequences and the notices queued."""

    jurisdiction: str
    year: int
    as_of: date
    departments: int
    provisional: bool = False  # 暂定: before the year-end assessment (`--provisional`)
    provisional_label: str = ""
    board: list[BoardRow]
    consequences: list[ConsequenceRow]
    notices: int = 0  # head-talk notices newly queued
    withdrawn: int = 0  # consequences a re-run no longer gives
    report_path: str = ""  # set by the adapter that writes the report: this run's file
    report_latest: str = ""  # and the copy of the latest run's beside it


# ------------------------------------------------------------------ compute the results


PROVISIONAL = "暂定"


def compute_results(
    uow: UnitOfWork,
    jurisdiction: str,
    year: int,
    actor: Actor,
    as_of: date,
    *,
    provisional: bool = False,
) -> ResultsSummary:
    """Compute and store the year's board and consequences, queue the head-talk notices.

    Before the year-end assessment (no year-end scores stored) the results are refused, unless
    `provisional`: then the board is computed from the scores there are, stored marked 暂定,
    its consequences are marked 暂定 and no head talk is scheduled or notified. The run after
    the year-end assessment replaces it. `provisional` after the year-end assessment is refused:
    the results are final then."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.RUN_CYCLE,
        Target(jurisdiction_id=jur.id, what=f"the {year} results of {jurisdiction}"),
        action=f"publish the {year} results",
    )
    policy = uow.policy
    cycle_id = _cycle_id(uow, jur.id, jurisdiction, year)
    depts = uow.results.departments(jur.id)
    scored = _annual_scores(uow, cycle_id, depts, policy)
    if not scored:
        raise UserError(f"no scores for {year}; run `bihuan assess --year {year}` first")
    year_end_assessed = any(s.year_end_score is not None for s in scored)
    if not year_end_assessed and not provisional:
        raise UserError(
            f"the {year} year-end assessment (年底评估) of {jurisdiction!r} has not run: no "
            f"year-end scores. Run `bihuan assess --year {year} --phase year-end` first, or "
            f"`bihuan results --year {year} --provisional` for a provisional board (暂定) from "
            "the mid-year scores, with no consequences notified"
        )
    if year_end_assessed and provisional:
        raise UserError(
            f"the {year} year-end assessment of {jurisdiction!r} has run: the results are "
            "final; run `bihuan results` without --provisional"
        )
    try:
        points = policy.points_for(year)
        ranked = core.board(scored, policy.board)  # the sizes checked against this county's
    except PolicyGap as gap:
        raise _policy_error(uow, gap) from None
    conseqs = core.consequences(
        ranked, _stored_board(uow, jur.id, year - 1), year=year, points=points
    )
    by_code = {d.code: d for d in depts}
    uow.results.save_board(
        cycle_id,
        [
            BoardPlace(
                by_code[r.code].id, r.scope, r.score, r.rank, r.colour, r.tie_rule, provisional
            )
            for r in ranked
        ],
    )
    records, withdrawn = _store_consequences(
        uow, actor, jur.id, cycle_id, year, conseqs, by_code, as_of, provisional=provisional
    )
    notices = (
        0
        if provisional  # nothing is announced from a provisional board
        else _queue_head_talks(uow, jur.id, jurisdiction, year, records, by_code, as_of)
    )
    uow.audit.record(
        actor,
        action="results",
        entity="cycle",
        key=str(year),
        jurisdiction_id=jur.id,
        details={
            "board": {r.code: [r.rank, r.colour] for r in ranked},
            "head_talks": [r.code for r in records if r.kind == HEAD_TALK],
            "withdrawn": len(withdrawn),
            "provisional": provisional,
            "as_of": as_of,
        },
    )
    rows = [_consequence_row(r) for r in records]
    return ResultsSummary(
        jurisdiction=jurisdiction,
        year=year,
        as_of=as_of,
        departments=len(ranked),
        provisional=provisional,
        provisional_label=PROVISIONAL if provisional else "",
        board=[_board_row(r, [c for c in rows if c.code == r.code], provisional) for r in ranked],
        consequences=rows,
        notices=notices,
        withdrawn=len(withdrawn),
    )


def _policy_error(uow: UnitOfWork, gap: PolicyGap) -> ConfigError:
    """What the policy lacks for this run, worded like a policy error at start (file, key)."""
    path = uow.settings.policy_dir / POLICY_FILE
    return ConfigError(f"bad policy configuration:\n{PolicyError(path, [(gap.key, gap.reason)])}")


def _cycle_id(uow: UnitOfWork, jurisdiction_id: int, jurisdiction: str, year: int) -> int:
    cycle = uow.ledger.cycle(jurisdiction_id, year)
    if cycle is None or cycle.id is None:
        raise UserError(f"no {year} cycle for {jurisdiction!r}; import and assess it first")
    return cycle.id


def _annual_scores(
    uow: UnitOfWork, cycle_id: int, depts: Sequence[DepartmentRef], policy: Policy
) -> list[core.ScoredDept]:
    """Each active department's annual score with the tie-rule fields, from stored scores."""
    phases: dict[int, dict[str, tuple[float, float | None]]] = defaultdict(dict)
    for t in uow.results.phase_totals(cycle_id):
        phases[t.department_id][t.phase_kind] = (t.total, t.ledger)
    open_items = uow.results.open_items(cycle_id)
    w = policy.scoring.year_end_weight
    out = []
    for d in depts:
        rows = phases.get(d.id)
        if not d.active or not rows:
            continue
        mid = rows.get(PhaseKind.MID_YEAR.value, (None, None))
        end = rows.get(PhaseKind.YEAR_END.value, (None, None))
        score = annual_score(mid[0], end[0], w)
        if score is None:
            continue
        out.append(
            core.ScoredDept(
                code=d.code,
                name=d.name,
                category=d.category,
                score=score,
                year_end_score=end[0],
                ledger_score=annual_score(mid[1], end[1], w),
                open_items=open_items.get(d.id, 0),
            )
        )
    return out


def _stored_board(uow: UnitOfWork, jurisdiction_id: int, year: int) -> list[core.BoardRow] | None:
    """A year's stored board, or None when there was no cycle or no board that year. A
    provisional board (暂定, computed before the year-end assessment) is no board for this:
    "red two years running" and its staffing freeze rest on final boards only."""
    cycle = uow.ledger.cycle(jurisdiction_id, year)
    if cycle is None or cycle.id is None or uow.results.board_is_provisional(cycle.id):
        return None
    return uow.results.board(cycle.id) or None


def _store_consequences(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction_id: int,
    cycle_id: int,
    year: int,
    conseqs: Sequence[core.Consequence],
    by_code: dict[str, DepartmentRef],
    as_of: date,
    *,
    provisional: bool = False,
) -> tuple[list[ConsequenceRecord], list[ConsequenceRecord]]:
    """Store this board's consequences and withdraw the ones it no longer gives (audited).

    A re-run keeps the head-talk date already announced to the department. A provisional
    board's consequences are marked 暂定 and schedule no head talk (nothing is announced)."""
    existing = {(c.department_id, c.kind): c for c in uow.results.consequences(cycle_id)}
    cal = WorkCalendar.from_policy(uow.policy.calendar)
    talk_on = cal.add_workdays(as_of, uow.policy.results.head_talk_workdays)
    records = []
    for q in conseqs:
        dept = by_code[q.code]
        due = None
        if q.kind == HEAD_TALK and not provisional:
            announced = existing.get((dept.id, q.kind))
            due = (announced.due_on if announced else None) or talk_on
        detail = f"（{PROVISIONAL}）{q.detail}" if provisional else q.detail
        records.append(ConsequenceRecord(dept.id, q.code, q.kind, detail, q.points, due))
    uow.results.save_consequences(cycle_id, records)
    wanted = {(r.department_id, r.kind) for r in records}
    stale = [c for key, c in sorted(existing.items()) if key not in wanted]
    uow.results.delete_consequences(cycle_id, [(c.department_id, c.kind) for c in stale])
    for c in stale:
        uow.audit.record(
            actor,
            action="consequence_withdrawn",
            entity="consequence",
            key=f"{year}/{c.code}/{c.kind}",
            jurisdiction_id=jurisdiction_id,
            details={"reason": "recomputed board no longer gives it", "as_of": as_of},
        )
    return records, stale


def _queue_head_talks(
    uow: UnitOfWork,
    jurisdiction_id: int,
    jurisdiction: str,
    year: int,
    records: Sequence[ConsequenceRecord],
    by_code: dict[str, DepartmentRef],
    as_of: date,
) -> int:
    """The head-talk notice (约谈通知) to the department head and the office leadership; the
    idempotency key names the jurisdiction, the year, the department and the recipient."""
    queued = 0
    for r in records:
        if r.kind != HEAD_TALK or r.due_on is None:
            continue
        context = {
            "department": by_code[r.code].name,
            "year": year,
            "due_on": r.due_on,
            "issued_on": as_of,
            "office": uow.policy.office_name(jurisdiction),
        }
        subject = " ".join(render("head_talk.subject.txt", context).split())
        body = render("head_talk.txt", context)
        for tag in (head_tag(r.code), LEADERSHIP_TAG):
            queued += uow.notifications.enqueue(
                NewMessage(
                    jurisdiction_id=jurisdiction_id,
                    key=f"head-talk:{jurisdiction}:{year}:{r.code}:{tag}",
                    department_id=r.department_id,
                    recipient_tag=tag,
                    kind=HEAD_TALK,
                    subject=subject,
                    body=body,
                    business_date=as_of,
                )
            )
    return queued


def _consequence_row(r: ConsequenceRecord) -> ConsequenceRow:
    kind = ConsequenceKind(r.kind)
    return ConsequenceRow(
        code=r.code,
        kind=kind,
        kind_label=kind.label,
        detail=r.detail,
        points=r.points,
        due_on=r.due_on,
    )


def _board_row(
    r: core.BoardRow, consequences: list[ConsequenceRow], provisional: bool = False
) -> BoardRow:
    category, colour = Category(r.category), Colour(r.colour)
    rule = TieRule(r.tie_rule) if r.tie_rule else None
    return BoardRow(
        rank=r.rank,
        scope=r.scope,
        scope_label="全部部门" if r.scope == "all" else Category(r.scope).label,
        code=r.code,
        name=r.name,
        category=category,
        category_label=category.label,
        score=r.score,
        colour=colour,
        colour_label=colour.label,
        tie_rule=rule,
        tie_rule_label=rule.label if rule else "",
        tie_note=core.tie_note(r.tie_rule),
        provisional=provisional,
        provisional_label=PROVISIONAL if provisional else "",
        consequences=consequences,
    )


# ------------------------------------------------------------------ the board


def board(uow: UnitOfWork, actor: Actor, jurisdiction: str, year: int) -> list[BoardRow]:
    """The stored board of `year` with each department's consequences.

    Every user of the jurisdiction may read it (the board is published county-wide); a
    department user sees the consequences of its own department only."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(uow, actor, Permission.READ_CYCLE, listing(jur.id), action=f"read the {year} board")
    cycle_id = _cycle_id(uow, jur.id, jurisdiction, year)
    rows = uow.results.board(cycle_id)
    if not rows:
        raise UserError(f"no {year} board yet; run `bihuan results --year {year}` first")
    only = visible_department(actor)
    conseqs: dict[str, list[ConsequenceRow]] = defaultdict(list)
    for c in uow.results.consequences(cycle_id):
        if only is None or c.department_id == only:
            conseqs[c.code].append(_consequence_row(c))
    provisional = uow.results.board_is_provisional(cycle_id)
    return [_board_row(r, conseqs.get(r.code, []), provisional) for r in rows]


# ------------------------------------------------------------------ the report's data


def report_data(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, year: int, as_of: date
) -> ReportData:
    """Everything the year-end report shows, read from the database; the board must exist."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(
        uow,
        actor,
        Permission.READ_RESULTS,
        Target(jurisdiction_id=jur.id, what=f"the {year} report of {jurisdiction}"),
        action=f"read the {year} report",
    )
    policy = uow.policy
    cycle_id = _cycle_id(uow, jur.id, jurisdiction, year)
    board_rows = uow.results.board(cycle_id)
    if not board_rows:
        raise UserError(
            f"no {year} board in the database; run `bihuan results --year {year}` first"
        )
    phases = uow.report.phases(cycle_id)
    runs = _phase_runs(uow, phases)
    assessed = {r.kind for r in runs}
    latest = next((p for p in reversed(phases) if p.kind in assessed), None)
    phase_ids = [p.id for p in phases]
    findings = uow.report.approved_findings(cycle_id)
    return ReportData(
        county=jur.name,
        office=policy.office_name(jurisdiction),
        year=year,
        as_of=as_of,
        phases=runs,
        board=board_rows,
        provisional=uow.results.board_is_provisional(cycle_id),
        rectification=core.rectification_rates(uow.report.rect_items(cycle_id), as_of),
        survey=SurveyCounts(**asdict(uow.report.survey(cycle_id, phase_ids))),
        ledger=_ledger_summary(uow, jur.id, cycle_id, phase_ids, latest, policy),
        staffing=_staffing_summary(uow, phase_ids),
        board_scope=policy.board.scope,
        green=policy.board.label("green"),
        red=policy.board.label("red"),
        consequences=[
            core.Consequence(c.code, c.kind, c.detail, c.points)  # type: ignore[arg-type]
            for c in uow.results.consequences(cycle_id)
        ],
        findings_by_category=dict(Counter(f.category for f in findings).most_common()),
        top_findings=[
            FindingLine(f.department, f.title, f.category, f.severity, f.carried)
            for f in sorted(
                findings, key=lambda f: (not f.carried, SEVERITY_ORDER.get(f.severity, 3))
            )[: policy.report.top_findings]
        ],
        chain_shortfalls=[
            ChainShortfall(c.task, c.department, c.role, c.delivered_pct, c.shortfall)
            for c in (
                uow.report.chain_shortfalls(latest.id, policy.scoring.chain.attribution_below)
                if latest
                else []
            )
        ],
        last_year_board=_stored_board(uow, jur.id, year - 1),
        recheck_outcomes=_recheck_outcomes(uow, jur.id, year),
        rules=policy.report.recommendations,
    )


def _phase_runs(uow: UnitOfWork, phases: Sequence[PhaseInfo]) -> list[PhaseRun]:
    """The phases that were assessed, with their on-site draw."""
    runs = []
    for p in phases:
        activity = uow.report.phase_activity(p.id)
        if not activity.assessed:
            continue
        runs.append(
            PhaseRun(
                kind=p.kind,
                window_start=p.window_start,
                window_end=p.window_end,
                departments_assessed=activity.assessed,
                onsite_departments=activity.onsite_departments,
                inspectors=activity.inspectors,
            )
        )
    return runs


def _ledger_summary(
    uow: UnitOfWork,
    jurisdiction_id: int,
    cycle_id: int,
    phase_ids: Sequence[int],
    latest: PhaseInfo | None,
    policy: Policy,
) -> LedgerSummary:
    """The performance ledger: sections, indicators by kind, failures in the latest assessed
    phase (below the finding threshold, or not submitted), mean ledger score per category."""
    kinds = uow.report.indicators_by_kind(cycle_id)
    below = policy.findings.indicator_fail_below
    failed = (
        sum(len(b.failed_indicators(below)) for b in uow.report.breakdowns(latest.id))
        if latest
        else 0
    )
    by_category: dict[str, list[float]] = defaultdict(list)
    depts = uow.results.departments(jurisdiction_id)
    for s in _annual_scores(uow, cycle_id, depts, policy):
        if s.ledger_score is not None:
            by_category[s.category].append(s.ledger_score)
    return LedgerSummary(
        sections=uow.report.active_sections(jurisdiction_id),
        indicators=sum(kinds.values()),
        qualitative=kinds.get("qualitative", 0),
        quantitative=kinds.get("quantitative", 0),
        failed=failed,
        submissions_by_method=uow.report.submissions_by_method(phase_ids),
        average_by_category={k: sum(v) / len(v) for k, v in sorted(by_category.items())},
    )


def _staffing_summary(uow: UnitOfWork, phase_ids: Sequence[int]) -> StaffingSummary:
    problems: Counter[str] = Counter()
    with_problems: set[int] = set()
    checks = uow.report.staffing_checks(phase_ids)
    for c in checks:
        if c.problems:
            with_problems.add(c.department_id)
            problems[c.problem_type or "other"] += c.problems
    return StaffingSummary(
        checks=len(checks),
        departments_with_problems=len(with_problems),
        problems_by_type=dict(problems.most_common()),
    )


def _recheck_outcomes(uow: UnitOfWork, jurisdiction_id: int, year: int) -> dict[str, int]:
    """Outcome → last year's items, counting the latest decision per item: a July re-check may
    turn January's stays_closed into recurring."""
    latest = {r.item_key: r.outcome for r in uow.report.recheck_decisions(jurisdiction_id, year)}
    return {k: v for k, v in sorted(Counter(latest.values()).items()) if k}


# ------------------------------------------------------------------ trends across years


class TrendPoint(BaseModel):
    """A department's place on one year's stored board."""

    year: int
    score: float  # the annual score
    rank: int
    of: int  # departments ranked in the same scope that year
    scope: str
    scope_label: str
    colour: Colour
    colour_label: str


class DepartmentTrend(BaseModel):
    """One department's annual score and rank, year by year (`bihuan trends --json`)."""

    code: str
    name: str
    category: Category
    category_label: str
    points: list[TrendPoint]


class Trends(BaseModel):
    """Every stored board of the jurisdiction, read per department."""

    jurisdiction: str
    years: list[int]  # the years with a board
    departments: list[DepartmentTrend]


def trends(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, department: str | None = None
) -> Trends:
    """Each department's annual score and rank in every year with a stored board.

    Leaders, the office, admins and auditors read every department's (or one's); a department
    user only its own; a supervising section none (it reads items, not results)."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    code = department or (actor.department_code if visible_department(actor) else None)
    dept_id = None
    if code is not None:
        dept_id = uow.departments.require_code(jur.id, code).id
        require(
            uow,
            actor,
            Permission.READ_RESULTS if visible_department(actor) is None else Permission.READ_CYCLE,
            Target(jurisdiction_id=jur.id, department_id=dept_id, what=f"the results of {code}"),
            action=f"read the results of {code} across years",
        )
    else:
        require(
            uow,
            actor,
            Permission.READ_RESULTS,
            Target(jurisdiction_id=jur.id, what=f"the results of {jurisdiction}"),
            action="read the results across years",
        )
    sizes = uow.results.board_sizes(jur.id)
    by_code: dict[str, DepartmentTrend] = {}
    years: set[int] = set()
    for year, row in uow.results.board_history(jur.id, department_id=dept_id):
        years.add(year)
        category, colour = Category(row.category), Colour(row.colour)
        trend = by_code.setdefault(
            row.code,
            DepartmentTrend(
                code=row.code,
                name=row.name,
                category=category,
                category_label=category.label,
                points=[],
            ),
        )
        trend.points.append(
            TrendPoint(
                year=year,
                score=row.score,
                rank=row.rank,
                of=sizes.get((year, row.scope), 0),
                scope=row.scope,
                scope_label="全部部门" if row.scope == "all" else Category(row.scope).label,
                colour=colour,
                colour_label=colour.label,
            )
        )
    return Trends(
        jurisdiction=jurisdiction,
        years=sorted(years),
        departments=[by_code[c] for c in sorted(by_code)],
    )


def board_years(uow: UnitOfWork, actor: Actor, jurisdiction: str) -> list[int]:
    """The years with a stored board (published county-wide: every user may know them)."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(uow, actor, Permission.READ_CYCLE, listing(jur.id), action="list the boards")
    return sorted({year for year, _scope in uow.results.board_sizes(jur.id)})
