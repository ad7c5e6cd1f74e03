"""Using the results (结果运用): stored scores, the board, consequences, and the year-end report's
figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import Session

from bihuan.core import results as core
from bihuan.core.breakdown import Breakdown
from bihuan.db import table, upsert
from bihuan.repositories.recheck import ITEM, recheck_action
from bihuan.vocab import FindingStatus, RectificationStatus
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
    HotlineCase,
    Indicator,
    OnsiteAssignment,
    OnsiteDraw,
    PeerBallot,
    Phase,
    PublicRating,
    RectificationItem,
    StaffingCheck,
    Submission,
    TownRating,
)

CLOSED_STATUSES = (
    RectificationStatus.VERIFIED_CLOSED.value,
    RectificationStatus.CANNOT_SOLVE.value,
    RectificationStatus.WITHDRAWN.value,
)


@dataclass(frozen=True)
class DepartmentRef:
    id: int
    code: str
    name: str
    category: str
    active: bool


@dataclass(frozen=True)
class PhaseTotal:
    """A department's stored score in one phase: the total and the ledger component."""

    department_id: int
    phase_kind: str
    total: float
    ledger: float | None


@dataclass(frozen=True)
class BoardPlace:
    """A department's place on the board, to store."""

    department_id: int
    scope: str
    score: float
    rank: int
    colour: str
    tie_rule: str | None = None
    provisional: bool = False


@dataclass(frozen=True)
class ConsequenceRecord:
    """A consequence of the board for one department (stored or to store)."""

    department_id: int
    code: str
    kind: str
    detail: str
    points: float | None = None
    due_on: date | None = None


class ResultsRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ scores

    def departments(self, jurisdiction_id: int) -> list[DepartmentRef]:
        d = table(Department)
        return [
            DepartmentRef(*row)
            for row in self.session.execute(
                select(d.c.id, d.c.code, d.c.name, d.c.category, d.c.active)
                .where(d.c.jurisdiction_id == jurisdiction_id)
                .order_by(d.c.code)
            )
        ]

    def phase_totals(self, cycle_id: int) -> list[PhaseTotal]:
        da, ph = table(DepartmentAssessment), table(Phase)
        return [
            PhaseTotal(dept_id, kind, float(total), None if ledger is None else float(ledger))
            for dept_id, kind, total, ledger in self.session.execute(
                select(da.c.department_id, ph.c.kind, da.c.total, da.c.ledger)
                .join(ph, ph.c.id == da.c.phase_id)
                .where(ph.c.cycle_id == cycle_id)
            )
        ]

    def open_items(self, cycle_id: int) -> dict[int, int]:
        """Department id → rectification items of the cycle not closed (the tie rule's count)."""
        ri, f = table(RectificationItem), table(Finding)
        return {
            int(dept_id): int(n)
            for dept_id, n in self.session.execute(
                select(ri.c.department_id, func.count())
                .join(f, f.c.id == ri.c.finding_id)
                .where(f.c.cycle_id == cycle_id, ri.c.status.not_in(CLOSED_STATUSES))
                .group_by(ri.c.department_id)
            )
        }

    # ------------------------------------------------------------------ the board

    def board(self, cycle_id: int) -> list[core.BoardRow]:
        """The stored board of a cycle, in scope and rank order (empty if not computed yet),
        with the tie rule that placed each department below an equal score."""
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
                tie_rule=r.tie_rule,
            )
            for r in self.session.execute(
                select(
                    d.c.code,
                    d.c.name,
                    d.c.category,
                    b.c.score,
                    b.c.scope,
                    b.c.rank,
                    b.c.colour,
                    b.c.tie_rule,
                )
                .join(d, d.c.id == b.c.department_id)
                .where(b.c.cycle_id == cycle_id)
                .order_by(b.c.scope, b.c.rank)
            )
        ]

    def board_history(
        self, jurisdiction_id: int, *, department_id: int | None = None
    ) -> list[tuple[int, core.BoardRow]]:
        """(year, place) of every stored board of a jurisdiction, by year, scope and rank;
        `department_id` keeps one department's places."""
        b, d, c = table(BoardEntry), table(Department), table(Cycle)
        stmt = (
            select(
                c.c.year,
                d.c.code,
                d.c.name,
                d.c.category,
                b.c.score,
                b.c.scope,
                b.c.rank,
                b.c.colour,
            )
            .join(d, d.c.id == b.c.department_id)
            .join(c, c.c.id == b.c.cycle_id)
            .where(c.c.jurisdiction_id == jurisdiction_id)
            .order_by(c.c.year, b.c.scope, b.c.rank)
        )
        if department_id is not None:
            stmt = stmt.where(b.c.department_id == department_id)
        return [
            (
                r.year,
                core.BoardRow(
                    code=r.code,
                    name=r.name,
                    category=r.category,
                    score=r.score,
                    scope=r.scope,
                    rank=r.rank,
                    colour=r.colour,
                ),
            )
            for r in self.session.execute(stmt)
        ]

    def board_sizes(self, jurisdiction_id: int) -> dict[tuple[int, str], int]:
        """(year, scope) → departments ranked on that stored board."""
        b, c = table(BoardEntry), table(Cycle)
        return {
            (int(year), str(scope)): int(n)
            for year, scope, n in self.session.execute(
                select(c.c.year, b.c.scope, func.count())
                .join(c, c.c.id == b.c.cycle_id)
                .where(c.c.jurisdiction_id == jurisdiction_id)
                .group_by(c.c.year, b.c.scope)
            )
        }

    def save_board(self, cycle_id: int, places: Sequence[BoardPlace]) -> None:
        """Upsert on (cycle, department): a re-run updates the places."""
        upsert(
            self.session,
            BoardEntry,
            [
                {
                    "cycle_id": cycle_id,
                    "department_id": p.department_id,
                    "scope": p.scope,
                    "score": p.score,
                    "rank": p.rank,
                    "colour": p.colour,
                    "tie_rule": p.tie_rule,
                    "provisional": p.provisional,
                }
                for p in places
            ],
            keys=["cycle_id", "department_id"],
            update=["scope", "score", "rank", "colour", "tie_rule", "provisional"],
        )

    def board_is_provisional(self, cycle_id: int) -> bool:
        """Whether the cycle's stored board was computed before the year-end assessment (暂定)."""
        b = table(BoardEntry)
        return bool(
            self.session.execute(
                select(func.count())
                .select_from(b)
                .where(b.c.cycle_id == cycle_id, b.c.provisional.is_(True))
            ).scalar_one()
        )

    # ------------------------------------------------------------------ consequences

    def consequences(self, cycle_id: int) -> list[ConsequenceRecord]:
        c, d = table(Consequence), table(Department)
        return [
            ConsequenceRecord(*row)
            for row in self.session.execute(
                select(d.c.id, d.c.code, c.c.kind, c.c.detail, c.c.points, c.c.due_on)
                .join(d, d.c.id == c.c.department_id)
                .where(c.c.cycle_id == cycle_id)
                .order_by(d.c.code, c.c.kind)
            )
        ]

    def save_consequences(self, cycle_id: int, records: Sequence[ConsequenceRecord]) -> None:
        """Upsert on (cycle, department, kind)."""
        upsert(
            self.session,
            Consequence,
            [
                {
                    "cycle_id": cycle_id,
                    "department_id": r.department_id,
                    "kind": r.kind,
                    "detail": r.detail,
                    "points": r.points,
                    "due_on": r.due_on,
                }
                for r in records
            ],
            keys=["cycle_id", "department_id", "kind"],
            update=["detail", "points", "due_on"],
        )

    def delete_consequences(self, cycle_id: int, keys: Sequence[tuple[int, str]]) -> None:
        """Remove (department id, kind) consequences that a recomputed board no longer gives."""
        c = table(Consequence)
        for dept_id, kind in keys:  # a handful at most: one statement each
            self.session.execute(
                delete(c).where(
                    c.c.cycle_id == cycle_id, c.c.department_id == dept_id, c.c.kind == kind
                )
            )

    # ------------------------------------------------------------------ notices


# ------------------------------------------------------------------ the report's figures


@dataclass(frozen=True)
class PhaseInfo:
    id: int
    kind: str
    window_start: date
    window_end: date


@dataclass(frozen=True)
class PhaseActivity:
    """How a phase ran: departments scored, and the double-random draw (双随机)."""

    assessed: int
    onsite_departments: int
    inspectors: int


@dataclass(frozen=True)
class SurveyTotals:
    town_ratings: int
    peer_ballots: int
    public_ratings: int
    hotline_cases: int
    hotline_checked: int


@dataclass(frozen=True)
class StaffingCheckRow:
    department_id: int
    problems: int
    problem_type: str | None


@dataclass(frozen=True)
class ApprovedFinding:
    department: str  # the department's name
    title: str
    category: str
    severity: str
    carried: bool


@dataclass(frozen=True)
class ChainLinkShortfall:
    task: str
    department: str  # the department's name
    role: str
    delivered_pct: float
    shortfall: str


@dataclass(frozen=True)
class RecheckDecisionRecord:
    """A re-check decision from the audit log, in the order they were made."""

    item_key: str
    outcome: str


class ReportRepo:
    """The figures of the year-end report (综合评估情况报告), one query each."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _count(self, stmt: Any) -> int:
        return int(self.session.execute(stmt).scalar() or 0)

    def phases(self, cycle_id: int) -> list[PhaseInfo]:
        ph = table(Phase)
        return [
            PhaseInfo(*row)
            for row in self.session.execute(
                select(ph.c.id, ph.c.kind, ph.c.window_start, ph.c.window_end)
                .where(ph.c.cycle_id == cycle_id)
                .order_by(ph.c.window_start)
            )
        ]

    def phase_activity(self, phase_id: int) -> PhaseActivity:
        da, od, oa = table(DepartmentAssessment), table(OnsiteDraw), table(OnsiteAssignment)
        draws = select(od.c.id).where(od.c.phase_id == phase_id)
        return PhaseActivity(
            assessed=self._count(
                select(func.count()).select_from(da).where(da.c.phase_id == phase_id)
            ),
            onsite_departments=self._count(
                select(func.count(func.distinct(oa.c.department_id))).where(oa.c.draw_id.in_(draws))
            ),
            inspectors=self._count(
                select(func.count(func.distinct(oa.c.commissioner_id))).where(
                    oa.c.draw_id.in_(draws)
                )
            ),
        )

    def survey(self, cycle_id: int, phase_ids: Sequence[int]) -> SurveyTotals:
        tr, pb, pu, hc = (
            table(TownRating),
            table(PeerBallot),
            table(PublicRating),
            table(HotlineCase),
        )
        ids = list(phase_ids)
        return SurveyTotals(
            town_ratings=self._count(select(func.count()).where(tr.c.phase_id.in_(ids))),
            peer_ballots=self._count(select(func.count()).where(pb.c.phase_id.in_(ids))),
            public_ratings=self._count(select(func.count()).where(pu.c.phase_id.in_(ids))),
            hotline_cases=self._count(select(func.count()).where(hc.c.cycle_id == cycle_id)),
            hotline_checked=self._count(
                select(func.count()).where(hc.c.cycle_id == cycle_id, hc.c.sampled_on.is_not(None))
            ),
        )

    def active_sections(self, jurisdiction_id: int) -> int:
        sec, d = table(BusinessSection), table(Department)
        return self._count(
            select(func.count())
            .select_from(sec)
            .join(d, d.c.id == sec.c.department_id)
            .where(d.c.jurisdiction_id == jurisdiction_id, sec.c.active.is_(True))
        )

    def indicators_by_kind(self, cycle_id: int) -> dict[str, int]:
        ind = table(Indicator)
        return {
            str(kind): int(n)
            for kind, n in self.session.execute(
                select(ind.c.kind, func.count())
                .where(ind.c.cycle_id == cycle_id)
                .group_by(ind.c.kind)
            )
        }

    def breakdowns(self, phase_id: int) -> list[Breakdown]:
        """The stored scores of a phase, read through the typed breakdown."""
        da = table(DepartmentAssessment)
        return [
            Breakdown.from_json(b)
            for (b,) in self.session.execute(
                select(da.c.breakdown).where(da.c.phase_id == phase_id)
            )
        ]

    def submissions_by_method(self, phase_ids: Sequence[int]) -> dict[str, int]:
        sub = table(Submission)
        return {
            str(method): int(n)
            for method, n in self.session.execute(
                select(sub.c.method, func.count())
                .where(sub.c.phase_id.in_(list(phase_ids)))
                .group_by(sub.c.method)
                .order_by(sub.c.method)
            )
        }

    def staffing_checks(self, phase_ids: Sequence[int]) -> list[StaffingCheckRow]:
        sc = table(StaffingCheck)
        return [
            StaffingCheckRow(int(dept_id), int(n or 0), ptype)
            for dept_id, n, ptype in self.session.execute(
                select(sc.c.department_id, sc.c.problems, sc.c.problem_type).where(
                    sc.c.phase_id.in_(list(phase_ids))
                )
            )
        ]

    def approved_findings(self, cycle_id: int) -> list[ApprovedFinding]:
        """The cycle's approved findings, in the order they were raised."""
        f, d = table(Finding), table(Department)
        return [
            ApprovedFinding(name, title, category, severity, carried_from is not None)
            for category, severity, title, name, carried_from in self.session.execute(
                select(f.c.category, f.c.severity, f.c.title, d.c.name, f.c.carried_from_id)
                .join(d, d.c.id == f.c.department_id)
                .where(f.c.cycle_id == cycle_id, f.c.status == FindingStatus.APPROVED.value)
                .order_by(f.c.id)
            )
        ]

    def chain_shortfalls(self, phase_id: int, below: float) -> list[ChainLinkShortfall]:
        """Links of central tasks that delivered less than `below` percent, weakest first."""
        ct, cl, cr, d = (
            table(CentralTask),
            table(CentralTaskLink),
            table(CentralTaskResult),
            table(Department),
        )
        return [
            ChainLinkShortfall(r.name, r.dept, r.role, float(r.delivered_pct), r.shortfall or "")
            for r in self.session.execute(
                select(
                    ct.c.name, d.c.name.label("dept"), cl.c.role, cr.c.delivered_pct, cr.c.shortfall
                )
                .join(cl, cl.c.id == cr.c.link_id)
                .join(ct, ct.c.id == cl.c.task_id)
                .join(d, d.c.id == cl.c.department_id)
                .where(cr.c.phase_id == phase_id, cr.c.delivered_pct < below)
                .order_by(cr.c.delivered_pct)
            )
        ]

    def rect_items(self, cycle_id: int) -> list[core.RectItem]:
        """The cycle's rectification items as the rates need them."""
        ri, f, d = table(RectificationItem), table(Finding), table(Department)
        return [
            core.RectItem(code, category, status, deadline, closed_on)
            for code, category, status, deadline, closed_on in self.session.execute(
                select(d.c.code, d.c.category, ri.c.status, ri.c.deadline, ri.c.closed_on)
                .join(f, f.c.id == ri.c.finding_id)
                .join(d, d.c.id == ri.c.department_id)
                # a withdrawn finding (撤销问题) was never a problem: it counts nowhere
                .where(
                    f.c.cycle_id == cycle_id,
                    ri.c.status != RectificationStatus.WITHDRAWN.value,
                )
            )
        ]

    def recheck_decisions(self, jurisdiction_id: int, year: int) -> list[RecheckDecisionRecord]:
        """The re-check's decisions into `year` from the audit log, oldest first."""
        a = table(AuditLog)
        return [
            RecheckDecisionRecord(str(key), str((details or {}).get("outcome", "")))
            for key, details in self.session.execute(
                select(a.c.entity_key, a.c.details)
                .where(
                    a.c.jurisdiction_id == jurisdiction_id,
                    a.c.action == recheck_action(year),
                    a.c.entity == ITEM,
                )
                .order_by(a.c.id)
            )
        ]
