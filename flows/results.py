"""results: annual scores, the red / yellow / green board, consequences and the year-end report.

Using the results (结果运用), after the year-end assessment:

1. annual score per department = (1 − w) × mid-year + w × year-end (``scoring.year_end_weight``;
   one phase alone stands for the year), from DepartmentAssessment;
2. the board (红黄绿榜) by bihuan.core.results with ``[board]`` sizes and scope and its documented
   tie rule (annual score, then year-end score, annual ledger score, fewer open items, code);
   stored as BoardEntry rows (natural key cycle + department, updated on re-run);
3. consequences against last year's board: green → staffing priority; red this year and last →
   staffing freeze next year and a head talk (约谈) scheduled ``HEAD_TALK_WORKDAYS`` working days
   after ``as_of``, with a notice to the department head (``<code>-head``) and the office's
   leadership (``leadership``) enqueued in the same transaction; points in the county's
   comprehensive performance assessment for everyone (``policy.points_for(year)``). Consequences
   upsert on (cycle, department, kind); ones that no longer apply after a re-run with changed
   scores are deleted (audited). Notices have idempotency keys, so a re-run sends nothing twice;
4. the comprehensive report (综合评估情况报告) built from the database (``build_report_data``) and
   written to ``var/reports/<jurisdiction>-<year>-综合评估情况报告.html``; also a Markdown
   artifact and a table artifact of the board. PDF is not produced: the machine has no CJK fonts
   (see PLATFORM_NOTES); the HTML prints well from a browser.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import delete, func, select
from sqlmodel import Session

from bihuan.app import AppContext
from bihuan.core import results as core
from bihuan.core.scoring import annual_score
from bihuan.core.workdays import WorkCalendar
from bihuan.db import audit, get_jurisdiction, session_scope, table, upsert
from bihuan.errors import UserError
from bihuan.policy import Policy
from bihuan.report import (
    ChainShortfall,
    FindingLine,
    LedgerSummary,
    PhaseRun,
    ReportData,
    StaffingSummary,
    SurveyCounts,
    render_report,
    report_markdown,
)
from bihuan.report_pdf import pdf_beside
from flows.common import artifact_key, flow_context, resolve_as_of
from flows.recheck import recheck_action
from models import (
    AuditLog,
    BoardEntry,
    BusinessSection,
    CentralTask,
    CentralTaskLink,
    CentralTaskResult,
    Consequence,
    Cycle,
    Department,
    DepartmentAssessment,
    Finding,
    FindingStatus,
    HotlineCase,
    Indicator,
    Jurisdiction,
    OnsiteAssignment,
    OnsiteDraw,
    PeerBallot,
    Phase,
    PhaseKind,
    PublicRating,
    RectificationItem,
    RectificationStatus,
    StaffingCheck,
    Submission,
    TownRating,
)
from notifications.outbox import enqueue
from notifications.tags import head_tag

HEAD_TALK_WORKDAYS = 10  # the head talk (约谈) is scheduled this many working days after as_of
LEADERSHIP_TAG = "leadership"
ACTOR = "结果运用"
CLOSED_STATUSES = (
    RectificationStatus.VERIFIED_CLOSED.value,
    RectificationStatus.CANNOT_SOLVE.value,
)


@dataclass
class ResultsSummary:
    year: int
    as_of: date
    departments: int = 0
    board: list[dict[str, Any]] = field(default_factory=list)
    consequences: list[dict[str, Any]] = field(default_factory=list)
    notices: int = 0
    report_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Where:
    jurisdiction: Jurisdiction
    cycle: Cycle

    @property
    def jid(self) -> int:
        assert self.jurisdiction.id is not None
        return self.jurisdiction.id

    @property
    def cid(self) -> int:
        assert self.cycle.id is not None
        return self.cycle.id


def locate(session: Session, ctx: AppContext, year: int) -> Where:
    jur = get_jurisdiction(session, ctx.jurisdiction)
    if jur is None:
        raise UserError(
            f"no jurisdiction {ctx.jurisdiction!r} in the database; load one with `bihuan import`"
        )
    c = table(Cycle)
    cid = session.execute(
        select(c.c.id).where(c.c.jurisdiction_id == jur.id, c.c.year == year)
    ).scalar()
    if cid is None:
        raise UserError(f"no {year} cycle for {ctx.jurisdiction!r}; import and assess it first")
    cycle = session.get(Cycle, cid)
    assert cycle is not None
    return Where(jur, cycle)


# ------------------------------------------------------------------ annual scores and board


def annual_scores(session: Session, where: Where, policy: Policy) -> list[core.ScoredDept]:
    """Each active department's annual score with the tie-rule fields, from stored assessments."""
    d, da, ph = table(Department), table(DepartmentAssessment), table(Phase)
    phase_rows: dict[int, dict[str, tuple[float, float | None]]] = defaultdict(dict)
    for dept_id, kind, total, ledger in session.execute(
        select(da.c.department_id, ph.c.kind, da.c.total, da.c.ledger)
        .join(ph, ph.c.id == da.c.phase_id)
        .where(ph.c.cycle_id == where.cid)
    ):
        phase_rows[dept_id][kind] = (total, ledger)
    ri, f = table(RectificationItem), table(Finding)
    open_items = dict(
        session.execute(
            select(ri.c.department_id, func.count())
            .join(f, f.c.id == ri.c.finding_id)
            .where(f.c.cycle_id == where.cid, ri.c.status.not_in(CLOSED_STATUSES))
            .group_by(ri.c.department_id)
        ).all()
    )
    w = policy.scoring.year_end_weight
    out = []
    for dept_id, code, name, category in session.execute(
        select(d.c.id, d.c.code, d.c.name, d.c.category)
        .where(d.c.jurisdiction_id == where.jid, d.c.active.is_(True))
        .order_by(d.c.code)
    ):
        rows = phase_rows.get(dept_id)
        if not rows:
            continue
        mid = rows.get(PhaseKind.MID_YEAR.value, (None, None))
        end = rows.get(PhaseKind.YEAR_END.value, (None, None))
        score = annual_score(mid[0], end[0], w)
        if score is None:
            continue
        out.append(
            core.ScoredDept(
                code=code,
                name=name,
                category=category,
                score=score,
                year_end_score=end[0],
                ledger_score=annual_score(mid[1], end[1], w),
                open_items=int(open_items.get(dept_id, 0)),
            )
        )
    return out


def load_board(session: Session, where: Where) -> list[core.BoardRow]:
    """The stored board of a cycle, in scope and rank order (empty if not computed yet)."""
    b, d = table(BoardEntry), table(Department)
    return [
        core.BoardRow(
            code=r.code,
            name=r.name,
            category=r.category,
            score=r.score,
            scope=r.scope,
            rank=r.rank,
            colour=r.colour,
        )
        for r in session.execute(
            select(d.c.code, d.c.name, d.c.category, b.c.score, b.c.scope, b.c.rank, b.c.colour)
            .join(d, d.c.id == b.c.department_id)
            .where(b.c.cycle_id == where.cid)
            .order_by(b.c.scope, b.c.rank)
        )
    ]


def prior_board(session: Session, ctx: AppContext, year: int) -> list[core.BoardRow] | None:
    """Last year's stored board, or None when there was no cycle or no board last year."""
    try:
        where = locate(session, ctx, year)
    except UserError:
        return None
    rows = load_board(session, where)
    return rows or None


def load_consequences(session: Session, where: Where) -> list[core.Consequence]:
    c, d = table(Consequence), table(Department)
    return [
        core.Consequence(code, kind, detail, points)
        for code, kind, detail, points in session.execute(
            select(d.c.code, c.c.kind, c.c.detail, c.c.points)
            .join(d, d.c.id == c.c.department_id)
            .where(c.c.cycle_id == where.cid)
            .order_by(d.c.code, c.c.kind)
        )
    ]


def head_talk_notice(name: str, year: int, due_on: date) -> tuple[str, str]:
    """Subject and text of the head-talk notice (约谈通知), in Chinese."""
    subject = f"关于约谈{name}主要负责人的通知"
    body = (
        f"{name}主要负责人：\n\n"
        f"根据机关职能运行监管评估结果运用规定，贵单位{year - 1}年度、{year}年度连续两年列入"
        f"监管评估红榜。经研究，定于{due_on:%Y年%m月%d日}前对贵单位主要负责人进行约谈，"
        f"{year + 1}年原则上不考虑贵单位机构编制事项。\n\n"
        "请提前准备本单位履职情况、存在问题及整改措施的书面汇报材料。\n\n县委编办\n"
    )
    return subject, body


def store_results(
    session: Session,
    ctx: AppContext,
    year: int,
    *,
    as_of: date,
    cal: WorkCalendar,
) -> ResultsSummary:
    """Compute and store the year's board and consequences, in the caller's transaction."""
    policy = ctx.policy
    where = locate(session, ctx, year)
    scored = annual_scores(session, where, policy)
    if not scored:
        raise UserError(f"no scores for {year}; run `bihuan assess --year {year}` first")
    board = core.board(scored, policy.board)
    last = prior_board(session, ctx, year - 1)
    conseqs = core.consequences(board, last, year=year, points=policy.points_for(year))
    d = table(Department)
    depts = {
        code: (dept_id, name, tags)
        for dept_id, code, name, tags in session.execute(
            select(d.c.id, d.c.code, d.c.name, d.c.notify_tags).where(
                d.c.jurisdiction_id == where.jid
            )
        )
    }
    upsert(
        session,
        BoardEntry,
        [
            {
                "cycle_id": where.cid,
                "department_id": depts[r.code][0],
                "scope": r.scope,
                "score": r.score,
                "rank": r.rank,
                "colour": r.colour,
            }
            for r in board
        ],
        keys=["cycle_id", "department_id"],
        update=["scope", "score", "rank", "colour"],
    )
    talk_on = cal.add_workdays(as_of, HEAD_TALK_WORKDAYS)
    c = table(Consequence)
    existing = {
        (dept_id, kind): due_on
        for dept_id, kind, due_on in session.execute(
            select(c.c.department_id, c.c.kind, c.c.due_on).where(c.c.cycle_id == where.cid)
        )
    }
    rows = []
    for q in conseqs:
        dept_id = depts[q.code][0]
        # a re-run keeps the date already announced to the department
        due = (existing.get((dept_id, q.kind)) or talk_on) if q.kind == "head_talk" else None
        rows.append(
            {
                "cycle_id": where.cid,
                "department_id": dept_id,
                "kind": q.kind,
                "detail": q.detail,
                "points": q.points,
                "due_on": due,
            }
        )
    upsert(
        session,
        Consequence,
        rows,
        keys=["cycle_id", "department_id", "kind"],
        update=["detail", "points", "due_on"],
    )
    wanted = {(r["department_id"], r["kind"]) for r in rows}
    stale = sorted(k for k in existing if k not in wanted)
    for dept_id, kind in stale:
        session.execute(
            delete(c).where(
                c.c.cycle_id == where.cid, c.c.department_id == dept_id, c.c.kind == kind
            )
        )
        audit(
            session,
            actor=ACTOR,
            action="consequence_withdrawn",
            entity="consequence",
            entity_key=f"{year}/{dept_id}/{kind}",
            jurisdiction_id=where.jid,
            details={"reason": "recomputed board no longer gives it"},
        )
    summary = ResultsSummary(year=year, as_of=as_of, departments=len(board))
    due_by = {(r["department_id"], r["kind"]): r["due_on"] for r in rows}
    for q in conseqs:
        if q.kind != "head_talk":
            continue
        dept_id, name, _tags = depts[q.code]
        due_on = due_by[(dept_id, "head_talk")]
        subject, body = head_talk_notice(name, year, due_on)
        for tag in (head_tag(q.code), LEADERSHIP_TAG):
            summary.notices += enqueue(
                session,
                jurisdiction_id=where.jid,
                key=f"head-talk:{year}:{q.code}:{tag}",
                department_id=dept_id,
                recipient_tag=tag,
                kind="head_talk",
                subject=subject,
                body=body,
                business_date=as_of,
            )
    audit(
        session,
        actor=ACTOR,
        action="results",
        entity="cycle",
        entity_key=str(year),
        jurisdiction_id=where.jid,
        details={
            "board": {r.code: [r.rank, r.colour] for r in board},
            "head_talks": [q.code for q in conseqs if q.kind == "head_talk"],
            "withdrawn": len(stale),
            "as_of": as_of,
        },
    )
    by_code: dict[str, list[str]] = defaultdict(list)
    for q in conseqs:
        by_code[q.code].append(q.kind)
    summary.board = [
        {
            "rank": r.rank,
            "scope": r.scope,
            "code": r.code,
            "name": r.name,
            "category": r.category,
            "score": round(r.score, 2),
            "colour": r.colour,
            "tie_rule": r.tie_rule or "",
            "consequences": ", ".join(k for k in by_code[r.code] if k != "assessment_points"),
        }
        for r in board
    ]
    summary.consequences = [
        {
            "code": q.code,
            "kind": q.kind,
            "detail": q.detail,
            "points": q.points,
            "due_on": due_by.get((depts[q.code][0], q.kind)),
        }
        for q in conseqs
    ]
    return summary


# ------------------------------------------------------------------ the report from the database


def build_report_data(session: Session, ctx: AppContext, year: int, as_of: date) -> ReportData:
    """Everything the year-end report shows, read from the database; the board must exist."""
    policy = ctx.policy
    where = locate(session, ctx, year)
    board = load_board(session, where)
    if not board:
        raise UserError(
            f"no {year} board in the database; run `bihuan results --year {year}` first"
        )
    ph = table(Phase)
    phases = session.execute(
        select(ph.c.id, ph.c.kind, ph.c.window_start, ph.c.window_end)
        .where(ph.c.cycle_id == where.cid)
        .order_by(ph.c.window_start)
    ).all()
    phase_ids = [p.id for p in phases]
    da, od, oa = table(DepartmentAssessment), table(OnsiteDraw), table(OnsiteAssignment)

    def count(stmt: Any) -> int:
        return int(session.execute(stmt).scalar() or 0)

    runs = []
    for p in phases:
        assessed = count(select(func.count()).select_from(da).where(da.c.phase_id == p.id))
        if not assessed:
            continue
        draws = select(od.c.id).where(od.c.phase_id == p.id)
        runs.append(
            PhaseRun(
                kind=p.kind,
                window_start=p.window_start,
                window_end=p.window_end,
                departments_assessed=assessed,
                onsite_departments=count(
                    select(func.count(func.distinct(oa.c.department_id))).where(
                        oa.c.draw_id.in_(draws)
                    )
                ),
                inspectors=count(
                    select(func.count(func.distinct(oa.c.commissioner_id))).where(
                        oa.c.draw_id.in_(draws)
                    )
                ),
            )
        )
    tr, pb, pu, hc = table(TownRating), table(PeerBallot), table(PublicRating), table(HotlineCase)
    survey = SurveyCounts(
        town_ratings=count(select(func.count()).where(tr.c.phase_id.in_(phase_ids))),
        peer_ballots=count(select(func.count()).where(pb.c.phase_id.in_(phase_ids))),
        public_ratings=count(select(func.count()).where(pu.c.phase_id.in_(phase_ids))),
        hotline_cases=count(select(func.count()).where(hc.c.cycle_id == where.cid)),
        hotline_checked=count(
            select(func.count()).where(hc.c.cycle_id == where.cid, hc.c.sampled_on.is_not(None))
        ),
    )
    ind, sec, sub, d = (
        table(Indicator),
        table(BusinessSection),
        table(Submission),
        table(Department),
    )
    kinds = dict(
        session.execute(
            select(ind.c.kind, func.count()).where(ind.c.cycle_id == where.cid).group_by(ind.c.kind)
        ).all()
    )
    # failed indicators: below the finding threshold (or not submitted) in the latest phase
    latest_phase = next((p for p in reversed(phases) if any(r.kind == p.kind for r in runs)), None)
    failed = 0
    if latest_phase is not None:
        for (breakdown,) in session.execute(
            select(da.c.breakdown).where(da.c.phase_id == latest_phase.id)
        ):
            failed += sum(
                1
                for i in (breakdown or {}).get("indicators", [])
                if i.get("missing") or float(i["score"]) < policy.findings.indicator_fail_below
            )
    ledger_by_cat: dict[str, list[float]] = defaultdict(list)
    scored = {s.code: s for s in annual_scores(session, where, policy)}
    for s in scored.values():
        if s.ledger_score is not None:
            ledger_by_cat[s.category].append(s.ledger_score)
    ledger = LedgerSummary(
        sections=count(
            select(func.count())
            .select_from(sec)
            .join(d, d.c.id == sec.c.department_id)
            .where(d.c.jurisdiction_id == where.jid, sec.c.active.is_(True))
        ),
        indicators=sum(kinds.values()),
        qualitative=int(kinds.get("qualitative", 0)),
        quantitative=int(kinds.get("quantitative", 0)),
        failed=failed,
        submissions_by_method=dict(
            session.execute(
                select(sub.c.method, func.count())
                .where(sub.c.phase_id.in_(phase_ids))
                .group_by(sub.c.method)
                .order_by(sub.c.method)
            ).all()
        ),
        average_by_category={k: sum(v) / len(v) for k, v in sorted(ledger_by_cat.items())},
    )
    sc = table(StaffingCheck)
    problems: Counter[str] = Counter()
    with_problems: set[int] = set()
    checks = 0
    for dept_id, n, ptype in session.execute(
        select(sc.c.department_id, sc.c.problems, sc.c.problem_type).where(
            sc.c.phase_id.in_(phase_ids)
        )
    ):
        checks += 1
        if n:
            with_problems.add(dept_id)
            problems[ptype or "other"] += n
    staffing = StaffingSummary(
        checks=checks,
        departments_with_problems=len(with_problems),
        problems_by_type=dict(problems.most_common()),
    )
    f = table(Finding)
    approved = session.execute(
        select(f.c.category, f.c.severity, f.c.title, d.c.name, f.c.carried_from_id)
        .join(d, d.c.id == f.c.department_id)
        .where(f.c.cycle_id == where.cid, f.c.status == FindingStatus.APPROVED.value)
        .order_by(f.c.id)
    ).all()
    severity_rank = {"high": 0, "medium": 1, "low": 2}
    top = sorted(
        approved,
        key=lambda r: (r.carried_from_id is None, severity_rank.get(r.severity, 3)),
    )[:10]
    ct, cl, cr = table(CentralTask), table(CentralTaskLink), table(CentralTaskResult)
    shortfalls = []
    if latest_phase is not None:
        for r in session.execute(
            select(ct.c.name, d.c.name.label("dept"), cl.c.role, cr.c.delivered_pct, cr.c.shortfall)
            .join(cl, cl.c.id == cr.c.link_id)
            .join(ct, ct.c.id == cl.c.task_id)
            .join(d, d.c.id == cl.c.department_id)
            .where(
                cr.c.phase_id == latest_phase.id,
                cr.c.delivered_pct < policy.scoring.chain.attribution_below,
            )
            .order_by(cr.c.delivered_pct)
        ):
            shortfalls.append(
                ChainShortfall(r.name, r.dept, r.role, float(r.delivered_pct), r.shortfall or "")
            )
    ri = table(RectificationItem)
    items = [
        core.RectItem(code, category, status, deadline, closed_on)
        for code, category, status, deadline, closed_on in session.execute(
            select(d.c.code, d.c.category, ri.c.status, ri.c.deadline, ri.c.closed_on)
            .join(f, f.c.id == ri.c.finding_id)
            .join(d, d.c.id == ri.c.department_id)
            .where(f.c.cycle_id == where.cid)
        )
    ]
    a = table(AuditLog)
    # the latest decision per item: a July re-check may turn January's stays_closed to recurring
    latest: dict[str, str] = {}
    for key, details in session.execute(
        select(a.c.entity_key, a.c.details)
        .where(a.c.jurisdiction_id == where.jid, a.c.action == recheck_action(year))
        .order_by(a.c.id)
    ):
        latest[key] = (details or {}).get("outcome", "")
    outcomes = Counter(latest.values())
    return ReportData(
        county=where.jurisdiction.name,
        year=year,
        as_of=as_of,
        phases=runs,
        board=board,
        rectification=core.rectification_rates(items, as_of),
        survey=survey,
        ledger=ledger,
        staffing=staffing,
        board_scope=policy.board.scope,
        green=policy.board.green,
        red=policy.board.red,
        consequences=load_consequences(session, where),
        findings_by_category=dict(Counter(r.category for r in approved).most_common()),
        top_findings=[
            FindingLine(r.name, r.title, r.category, r.severity, r.carried_from_id is not None)
            for r in top
        ],
        chain_shortfalls=shortfalls,
        last_year_board=prior_board(session, ctx, year - 1),
        recheck_outcomes={k: v for k, v in sorted(outcomes.items()) if k},
    )


def report_path(ctx: AppContext, year: int) -> Path:
    return ctx.settings.var_dir / "reports" / f"{ctx.jurisdiction}-{year}-综合评估情况报告.html"


def write_report(
    ctx: AppContext, year: int, as_of: date, out: Path | None = None
) -> tuple[Path, ReportData]:
    """Render the report from the database to `out` (default var/reports/...)."""
    with session_scope(ctx.db_url) as session:
        data = build_report_data(session, ctx, year, as_of)
    path = out or report_path(ctx, year)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(data), encoding="utf-8")
    return path, data


# ------------------------------------------------------------------ the flow


@task(name="store-results", cache_policy=NO_CACHE)
def store_results_task(year: int, as_of: date) -> ResultsSummary:
    ctx = flow_context()
    cal = WorkCalendar.from_policy(ctx.policy.calendar)
    with session_scope(ctx.db_url) as session:
        return store_results(session, ctx, year, as_of=as_of, cal=cal)


@task(name="write-report", cache_policy=NO_CACHE)
def write_report_task(year: int, as_of: date) -> tuple[str, str]:
    path, data = write_report(flow_context(), year, as_of)
    pdf_beside(path)  # skipped, with an info log, on a machine without a Chinese font
    return str(path), report_markdown(data)


@flow(name="results", flow_run_name="results-{year}")
def results(year: int, as_of: date | None = None) -> ResultsSummary:
    """Annual scores, the red / yellow / green board (红黄绿榜), consequences (结果运用) and the
    year-end comprehensive report (综合评估情况报告)."""
    day = resolve_as_of(as_of)
    summary = store_results_task(year, day)
    path, markdown = write_report_task(year, day)
    summary.report_path = path
    create_table_artifact(
        key=artifact_key("board", year),
        table=summary.board,
        description=f"{year}年度红黄绿榜 (board)",
    )
    create_markdown_artifact(
        key=artifact_key("report", year),
        markdown=markdown + f"\n\n报告文件 (report file): `{path}`\n",
        description=f"{year}年度综合评估情况报告 summary",
    )
    return summary
