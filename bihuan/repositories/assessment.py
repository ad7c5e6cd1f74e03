"""Assessment (集中评估): submission requests and submissions, prior-year values, the scoring
inputs of a batch of departments, central-task chains, the double-random draw, stored scores.

Everything a batch needs is loaded in one query per table for the batch's departments, so a
province's assessment is a fixed number of queries per batch of departments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, bindparam, func, null, select, update
from sqlmodel import Session

from bihuan.core.chain import CentralTaskInput, ChainLinkInput
from bihuan.core.draw import DrawResult, Inspector
from bihuan.core.scoring import (
    DepartmentInput,
    IndicatorInput,
    SatisfactionInput,
    StaffingCheckInput,
)
from bihuan.db import EncodedJSON, table, upsert
from bihuan.repositories.ledger import Scope
from bihuan.vocab import (
    FindingCategory,
    FindingStatus,
    IndicatorKind,
    PhaseKind,
    SubmissionStatus,
)
from models import (
    AssessmentTeam,
    BusinessSection,
    CentralTask,
    CentralTaskLink,
    CentralTaskResult,
    Commissioner,
    Cycle,
    Department,
    DepartmentAssessment,
    Finding,
    HotlineCase,
    Indicator,
    IndicatorHistory,
    OnsiteAssignment,
    OnsiteDraw,
    PeerRating,
    Phase,
    PublicRating,
    StaffingCheck,
    Submission,
    SubmissionRequest,
    TownRating,
)

_NO_HISTORY: Mapping[int, float] = MappingProxyType({})
TOWN_DIMS = ("overall", "efficiency", "policy_effect", "guidance", "unblocking")
PEER_DIMS = ("style", "efficiency", "quality", "cooperation", "one_go")
# What a stored score is compared on to decide whether a re-run changed it.
ASSESSMENT_UPDATE = (
    "total",
    "ledger",
    "staffing",
    "central_tasks",
    "satisfaction",
    "breakdown",
    "breakdown_hash",
    "onsite",
    "as_of",
    "policy_hash",
    "computed_at",
)


@dataclass(frozen=True)
class DeptRow:
    """An active department as the assessment sees it."""

    id: int
    code: str
    name: str
    category: str
    team_id: int | None


@dataclass(frozen=True)
class RequestRow:
    id: int
    department_id: int
    status: str


@dataclass(frozen=True)
class IndicatorRef:
    """The indicator a submission is for, and whose it is."""

    id: int
    code: str
    kind: str
    department_id: int
    department_code: str


@dataclass(frozen=True)
class DrawPool:
    """The inspectors of a jurisdiction (active ones) and the teams of its departments."""

    teams: dict[int, str]
    inspectors: list[Inspector]
    inspector_ids: dict[str, int]


@dataclass(frozen=True)
class StoredScore:
    """What a re-run compares a new score with (the breakdown by its hash, never its JSON)."""

    total: float
    breakdown_hash: str
    onsite: bool
    policy_hash: str


@dataclass(frozen=True)
class ScoreView:
    """A stored department score, with its department."""

    department_id: int
    code: str
    name: str
    category: str
    total: float
    ledger: float | None
    staffing: float | None
    central_tasks: float | None
    satisfaction: float | None
    onsite: bool
    as_of: date
    computed_at: datetime
    breakdown: dict[str, Any]


class AssessmentRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ departments

    def departments(
        self, jurisdiction_id: int, *, ids: Sequence[int] | None = None
    ) -> list[DeptRow]:
        """Active departments by code (only `ids` when given)."""
        d = table(Department)
        stmt = (
            select(d.c.id, d.c.code, d.c.name, d.c.category, d.c.team_id)
            .where(d.c.jurisdiction_id == jurisdiction_id, d.c.active.is_(True))
            .order_by(d.c.code)
        )
        if ids is not None:
            stmt = stmt.where(d.c.id.in_(list(ids)))
        return [DeptRow(*row) for row in self.session.execute(stmt)]

    def department_ids(self, jurisdiction_id: int, codes: Sequence[str]) -> dict[str, int]:
        d = table(Department)
        return {
            row.code: row.id
            for row in self.session.execute(
                select(d.c.id, d.c.code).where(
                    d.c.jurisdiction_id == jurisdiction_id, d.c.code.in_(list(codes))
                )
            )
        }

    def department_codes(self, jurisdiction_id: int) -> dict[int, str]:
        d = table(Department)
        return {
            row.id: row.code
            for row in self.session.execute(
                select(d.c.id, d.c.code).where(d.c.jurisdiction_id == jurisdiction_id)
            )
        }

    # ------------------------------------------------------------------ requests (报送要求)

    def request_submissions(self, phase: Phase, department_ids: Iterable[int]) -> None:
        """One request per department for the phase; existing requests are kept."""
        upsert(
            self.session,
            SubmissionRequest,
            [
                {
                    "phase_id": phase.id,
                    "department_id": d,
                    "status": SubmissionStatus.REQUESTED.value,
                    "requested_on": phase.window_start,
                    "due_on": phase.window_end,
                }
                for d in department_ids
            ],
            keys=["phase_id", "department_id"],
        )

    def requests(self, phase_id: int) -> list[RequestRow]:
        sr = table(SubmissionRequest)
        return [
            RequestRow(*row)
            for row in self.session.execute(
                select(sr.c.id, sr.c.department_id, sr.c.status)
                .where(sr.c.phase_id == phase_id)
                .order_by(sr.c.department_id)
            )
        ]

    def first_submissions(self, phase_id: int, until: date) -> dict[int, date]:
        """Each department's first submission in the phase, by `until` (the window's end)."""
        sub, ind = table(Submission), table(Indicator)
        return {
            row[0]: row[1]
            for row in self.session.execute(
                select(ind.c.department_id, func.min(sub.c.submitted_on))
                .join(ind, ind.c.id == sub.c.indicator_id)
                .where(sub.c.phase_id == phase_id, sub.c.submitted_on <= until)
                .group_by(ind.c.department_id)
            )
        }

    def mark_submitted(self, submitted: Sequence[tuple[int, date]]) -> None:
        """(request id, first submission) pairs: one bulk UPDATE (an ORM update per row made a
        province's 10,000 quadratic)."""
        if submitted:
            sr = table(SubmissionRequest)
            self.session.execute(
                update(sr)
                .where(sr.c.id == bindparam("rid"))
                .values(status=SubmissionStatus.SUBMITTED.value, submitted_on=bindparam("on")),
                [{"rid": rid, "on": on} for rid, on in submitted],
            )

    def mark_missing(self, request_ids: Sequence[int]) -> None:
        if request_ids:
            sr = table(SubmissionRequest)
            self.session.execute(
                update(sr)
                .where(sr.c.id == bindparam("rid"))
                .values(status=SubmissionStatus.MISSING.value),
                [{"rid": rid} for rid in request_ids],
            )

    # ------------------------------------------------------------------ prior-year values

    def previous_year_end(self, jurisdiction_id: int, year: int) -> Phase | None:
        """Last year's year-end phase, whose results are this year's baselines."""
        c, p = table(Cycle), table(Phase)
        phase_id = self.session.execute(
            select(p.c.id)
            .join(c, c.c.id == p.c.cycle_id)
            .where(
                c.c.jurisdiction_id == jurisdiction_id,
                c.c.year == year - 1,
                p.c.kind == PhaseKind.YEAR_END.value,
            )
        ).scalar()
        return self.session.get(Phase, phase_id) if phase_id is not None else None

    def pull_prior_year_values(self, scope: Scope, previous: Phase) -> int:
        """Copy last year's year-end values of quantitative indicators into this year's history
        (纵向比对), matching indicators by code; values already there are kept. Returns how many."""
        year = scope.year
        old = table(Indicator).alias("old")
        new = table(Indicator).alias("new")
        sub, hist = table(Submission), table(IndicatorHistory)
        rows = self.session.execute(
            select(new.c.id, sub.c.value)
            .select_from(new)
            .join(old, and_(old.c.code == new.c.code, old.c.cycle_id == previous.cycle_id))
            .join(sub, and_(sub.c.indicator_id == old.c.id, sub.c.phase_id == previous.id))
            .where(
                new.c.cycle_id == scope.cycle_id,
                new.c.kind == IndicatorKind.QUANTITATIVE.value,
                sub.c.value.is_not(None),
            )
        ).all()
        existing = set(
            self.session.execute(
                select(hist.c.indicator_id)
                .join(new, new.c.id == hist.c.indicator_id)
                .where(new.c.cycle_id == scope.cycle_id, hist.c.year == year - 1)
            ).scalars()
        )
        fresh = [
            {"indicator_id": ind_id, "year": year - 1, "value": value, "source": "previous_cycle"}
            for ind_id, value in rows
            if ind_id not in existing
        ]
        upsert(self.session, IndicatorHistory, fresh, keys=["indicator_id", "year"])
        return len(fresh)

    # ------------------------------------------------------------------ submissions (报送)

    def indicator(self, cycle_id: int, code: str) -> IndicatorRef | None:
        ind, d = table(Indicator), table(Department)
        row = self.session.execute(
            select(ind.c.id, ind.c.code, ind.c.kind, ind.c.department_id, d.c.code)
            .join(d, d.c.id == ind.c.department_id)
            .where(ind.c.cycle_id == cycle_id, ind.c.code == code)
        ).first()
        return IndicatorRef(*row) if row is not None else None

    def submission(self, phase_id: int, indicator_id: int) -> Submission | None:
        sub = table(Submission)
        sub_id = self.session.execute(
            select(sub.c.id).where(sub.c.phase_id == phase_id, sub.c.indicator_id == indicator_id)
        ).scalar()
        return self.session.get(Submission, sub_id) if sub_id is not None else None

    def save_submission(self, row: dict[str, Any]) -> None:
        """Insert or replace the phase's submission of one indicator."""
        upsert(
            self.session,
            Submission,
            [row],
            keys=["phase_id", "indicator_id"],
            update=["value", "level", "method", "evidence", "submitted_on", "updated_at"],
        )

    # ------------------------------------------------------------------ scoring inputs

    def phase_inputs(self, scope: Scope, departments: Sequence[DeptRow]) -> list[DepartmentInput]:
        """The scoring core's input for each of `departments` (a batch), one query per table."""
        ids = [d.id for d in departments]
        indicators = self._indicators(scope, ids)
        staffing = self._staffing(scope, ids)
        town, peer = self._town(scope, ids), self._peer(scope, ids)
        public, hotline = self._public(scope, ids), self._hotline(scope, ids)
        carried = self._carried(scope, ids)
        return [
            DepartmentInput(
                code=d.code,
                name=d.name,
                category=d.category,
                indicators=tuple(indicators.get(d.id, ())),
                staffing=tuple(staffing.get(d.id, ())),
                satisfaction=SatisfactionInput(
                    town=tuple(town.get(d.id, ())),
                    peer=tuple(peer.get(d.id, ())),
                    public=tuple(public.get(d.id, ())),
                    hotline_on_time=tuple(hotline.get(d.id, ())),
                ),
                carried_items=int(carried.get(d.id, 0)),
            )
            for d in departments
        ]

    def _indicators(self, scope: Scope, ids: list[int]) -> dict[int, list[IndicatorInput]]:
        """The batch's indicators with this phase's submission and last year's value (the only
        prior year scoring compares with, 纵向比对), in one query fetched at once."""
        ind, sec = table(Indicator), table(BusinessSection)
        sub, hist = table(Submission), table(IndicatorHistory)
        last_year = scope.year - 1
        mid_year = scope.phase.kind == PhaseKind.MID_YEAR.value
        rows = self.session.execute(
            select(
                ind.c.department_id,
                ind.c.code,
                ind.c.name,
                ind.c.kind,
                ind.c.weight,
                ind.c.direction,
                ind.c.target,
                ind.c.unit,
                ind.c.cumulative,
                ind.c.same_period_value,
                ind.c.mid_year_target,
                sec.c.code.label("section"),
                sub.c.value,
                sub.c.level,
                hist.c.value.label("last_year"),
            )
            .join(sec, sec.c.id == ind.c.section_id)
            .outerjoin(
                sub,
                and_(
                    sub.c.indicator_id == ind.c.id,
                    sub.c.phase_id == scope.phase_id,
                    # what arrives after the window does not count in this phase
                    sub.c.submitted_on <= scope.phase.window_end,
                ),
            )
            .outerjoin(hist, and_(hist.c.indicator_id == ind.c.id, hist.c.year == last_year))
            .where(ind.c.cycle_id == scope.cycle_id, ind.c.department_id.in_(ids))
            # by department first, so the (cycle, department) index drives the query
            .order_by(ind.c.department_id, ind.c.code)
        ).all()
        out: dict[int, list[IndicatorInput]] = defaultdict(list)
        new = tuple.__new__  # IndicatorInput built positionally: one per indicator of a phase
        for (
            dept_id,
            code,
            name,
            kind,
            weight,
            direction,
            target,
            unit,
            cumulative,
            same_period,
            mid_year_target,
            section,
            value,
            level,
            prior,
        ) in rows:
            # IndicatorInput's fields in order: code, kind, name, section, weight, direction,
            # target, value, level, history, mid_year, unit, cumulative, same_period,
            # mid_year_target
            history = _NO_HISTORY if prior is None else {last_year: prior}
            item = new(
                IndicatorInput,
                (code, kind, name, section, weight, direction, target, value, level, history,
                 mid_year, unit or "", cumulative, same_period, mid_year_target),
            )  # fmt: skip
            out[dept_id].append(item)
        return out

    def _staffing(self, scope: Scope, ids: list[int]) -> dict[int, list[StaffingCheckInput]]:
        sc = table(StaffingCheck)
        out: dict[int, list[StaffingCheckInput]] = defaultdict(list)
        for dept_id, kind, problems, ptype, note in self.session.execute(
            select(
                sc.c.department_id, sc.c.kind, sc.c.problems, sc.c.problem_type, sc.c.note
            ).where(sc.c.phase_id == scope.phase_id, sc.c.department_id.in_(ids))
        ).all():
            out[dept_id].append(StaffingCheckInput(kind, problems, ptype, note))
        return out

    def _town(self, scope: Scope, ids: list[int]) -> dict[int, list[tuple[float, ...]]]:
        tr = table(TownRating)
        out: dict[int, list[tuple[float, ...]]] = defaultdict(list)
        for row in self.session.execute(
            select(tr.c.department_id, *[tr.c[d] for d in TOWN_DIMS]).where(
                tr.c.phase_id == scope.phase_id, tr.c.department_id.in_(ids)
            )
        ).all():
            out[row[0]].append(tuple(row[1:]))
        return out

    def _peer(self, scope: Scope, ids: list[int]) -> dict[int, list[tuple[float, ...]]]:
        pr = table(PeerRating)
        out: dict[int, list[tuple[float, ...]]] = defaultdict(list)
        for row in self.session.execute(
            select(pr.c.ratee_department_id, *[pr.c[d] for d in PEER_DIMS]).where(
                pr.c.phase_id == scope.phase_id, pr.c.ratee_department_id.in_(ids)
            )
        ).all():
            out[row[0]].append(tuple(row[1:]))
        return out

    def _public(self, scope: Scope, ids: list[int]) -> dict[int, list[str]]:
        pu = table(PublicRating)
        out: dict[int, list[str]] = defaultdict(list)
        for dept_id, level, count in self.session.execute(
            select(pu.c.department_id, pu.c.level, func.count())
            .where(pu.c.phase_id == scope.phase_id, pu.c.department_id.in_(ids))
            .group_by(pu.c.department_id, pu.c.level)
        ):
            out[dept_id].extend([level] * count)
        return out

    def _hotline(self, scope: Scope, ids: list[int]) -> dict[int, list[bool]]:
        """Whether each 12345 case due by the phase's cutoff was closed on time: mid-year looks
        at cases received by the end of its window, year-end at the whole year."""
        hc = table(HotlineCase)
        cutoff = scope.phase.window_end
        out: dict[int, list[bool]] = defaultdict(list)
        # decided in SQL: no date of a city's 12,000 cases is parsed into Python
        on_time = and_(hc.c.closed_on.is_not(None), hc.c.closed_on <= hc.c.due_on)
        for dept_id, closed_in_time in self.session.execute(
            select(hc.c.department_id, on_time).where(
                hc.c.cycle_id == scope.cycle_id,
                hc.c.received_on <= cutoff,
                hc.c.due_on <= cutoff,
                hc.c.department_id.in_(ids),
            )
        ).all():
            out[dept_id].append(bool(closed_in_time))
        return out

    def _carried(self, scope: Scope, ids: list[int]) -> dict[int, int]:
        """Last year's items carried by the re-check count again in this year's score, unless
        the coordinator dropped the finding when approving the problem list."""
        f = table(Finding)
        return {
            row[0]: row[1]
            for row in self.session.execute(
                select(f.c.department_id, func.count())
                .where(
                    f.c.cycle_id == scope.cycle_id,
                    f.c.category == FindingCategory.CARRIED_OVER.value,
                    f.c.status != FindingStatus.DROPPED.value,
                    f.c.department_id.in_(ids),
                )
                .group_by(f.c.department_id)
            )
        }

    def chain_tasks(
        self, scope: Scope, *, department_ids: Sequence[int] | None = None
    ) -> list[CentralTaskInput]:
        """Every central task of the cycle (only those `department_ids` are links of, when
        given: a scoring batch's) with its links (active departments) and their results in the
        phase: the compact input of chain assessment (链条式评估)."""
        ct, cl, cr = table(CentralTask), table(CentralTaskLink), table(CentralTaskResult)
        d = table(Department)
        tasks = ct.c.cycle_id == scope.cycle_id
        if department_ids is not None:
            tasks = and_(
                tasks,
                ct.c.id.in_(
                    select(cl.c.task_id).where(cl.c.department_id.in_(list(department_ids)))
                ),
            )
        links: dict[int, list[ChainLinkInput]] = defaultdict(list)
        for task_id, code, role, duty, pct, shortfall in self.session.execute(
            select(
                cl.c.task_id,
                d.c.code,
                cl.c.role,
                cl.c.duty,
                cr.c.delivered_pct,
                cr.c.shortfall,
            )
            .outerjoin(cr, and_(cr.c.link_id == cl.c.id, cr.c.phase_id == scope.phase_id))
            .join(ct, ct.c.id == cl.c.task_id)
            .join(d, d.c.id == cl.c.department_id)
            .where(tasks, d.c.active.is_(True))
            .order_by(cl.c.task_id, cl.c.role.desc(), cl.c.department_id)
        ):
            links[task_id].append(
                ChainLinkInput(
                    department=code,
                    role=role,
                    delivered_pct=pct,
                    shortfall=shortfall or "",
                    duty=duty or "",
                )
            )
        return [
            CentralTaskInput(code=code, name=name, links=tuple(links.get(task_id, ())))
            for task_id, code, name in self.session.execute(
                select(ct.c.id, ct.c.code, ct.c.name).where(tasks).order_by(ct.c.code)
            )
        ]

    # ------------------------------------------------------------------ the draw (双随机)

    def stored_draw(self, phase_id: int) -> tuple[DrawResult, str] | None:
        """The phase's draw and who made it, or None."""
        od, oa = table(OnsiteDraw), table(OnsiteAssignment)
        d, c = table(Department), table(Commissioner)
        row = self.session.execute(select(od).where(od.c.phase_id == phase_id)).first()
        if row is None:
            return None
        assignments: dict[str, list[str]] = {}
        for dept, insp in self.session.execute(
            select(d.c.code, c.c.code)
            .join(oa, oa.c.department_id == d.c.id)
            .join(c, c.c.id == oa.c.commissioner_id)
            .where(oa.c.draw_id == row.id)
            .order_by(d.c.code, c.c.code)
        ):
            assignments.setdefault(dept, []).append(insp)
        result = DrawResult(
            seed=row.seed,
            share=row.share,
            per_department=int(row.exclusions.get("per_department", 0)),
            candidates=tuple(row.candidates),
            departments=tuple(sorted(assignments)),
            assignments={k: tuple(v) for k, v in assignments.items()},
            exclusions=row.exclusions.get("departments", {}),
        )
        return result, row.triggered_by

    def onsite_codes(self, phase_id: int, department_ids: Sequence[int]) -> set[str]:
        """Which of the departments the phase's draw took for on-site assessment."""
        od, oa, d = table(OnsiteDraw), table(OnsiteAssignment), table(Department)
        return set(
            self.session.execute(
                select(d.c.code)
                .distinct()
                .join(oa, oa.c.department_id == d.c.id)
                .join(od, od.c.id == oa.c.draw_id)
                .where(od.c.phase_id == phase_id, oa.c.department_id.in_(list(department_ids)))
            ).scalars()
        )

    def draw_pool(self, jurisdiction_id: int) -> DrawPool:
        at, c = table(AssessmentTeam), table(Commissioner)
        codes = self.department_codes(jurisdiction_id)
        teams = {
            row.id: row.code
            for row in self.session.execute(
                select(at.c.id, at.c.code).where(at.c.jurisdiction_id == jurisdiction_id)
            )
        }
        pool = self.session.execute(
            select(c.c.id, c.c.code, c.c.team_id, c.c.former_department_id)
            .where(c.c.jurisdiction_id == jurisdiction_id, c.c.active.is_(True))
            .order_by(c.c.code)
        ).all()
        return DrawPool(
            teams=teams,
            inspectors=[
                Inspector(code=code, team=teams.get(team_id), former_department=codes.get(former))
                for _id, code, team_id, former in pool
            ],
            inspector_ids={code: cid for cid, code, _t, _f in pool},
        )

    def store_draw(
        self,
        phase_id: int,
        result: DrawResult,
        *,
        triggered_by: str,
        department_ids: dict[str, int],
        inspector_ids: dict[str, int],
        drawn_at: datetime,
    ) -> None:
        row = OnsiteDraw(
            phase_id=phase_id,
            seed=result.seed,
            share=result.share,
            triggered_by=triggered_by,
            candidates=result.candidates_json(),
            exclusions=result.exclusions_json(),
            drawn_at=drawn_at,
        )
        self.session.add(row)
        self.session.flush()
        upsert(
            self.session,
            OnsiteAssignment,
            [
                {
                    "draw_id": row.id,
                    "department_id": department_ids[dept],
                    "commissioner_id": inspector_ids[code],
                }
                for dept, codes in result.assignments.items()
                for code in codes
            ],
            keys=["draw_id", "department_id", "commissioner_id"],
        )

    # ------------------------------------------------------------------ scores (得分)

    def stored_scores(self, phase_id: int, department_ids: Sequence[int]) -> dict[int, StoredScore]:
        da = table(DepartmentAssessment)
        return {
            dept_id: StoredScore(total, breakdown_hash, onsite, policy_hash)
            for dept_id, total, breakdown_hash, onsite, policy_hash in self.session.execute(
                select(
                    da.c.department_id,
                    da.c.total,
                    da.c.breakdown_hash,
                    da.c.onsite,
                    da.c.policy_hash,
                ).where(da.c.phase_id == phase_id, da.c.department_id.in_(list(department_ids)))
            )
        }

    def save_scores(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk upsert of DepartmentAssessment rows on (phase, department); a row's
        "breakdown" is its JSON text as hashed (breakdown.encode), written without re-encoding."""
        upsert(
            self.session,
            DepartmentAssessment,
            [{**row, "breakdown": EncodedJSON(row["breakdown"])} for row in rows],
            keys=["phase_id", "department_id"],
            update=ASSESSMENT_UPDATE,
        )

    def scores(
        self, phase_id: int, *, department_id: int | None = None, breakdown: bool = False
    ) -> list[ScoreView]:
        """The phase's stored scores, best first (the breakdowns only when asked for)."""
        da, d = table(DepartmentAssessment), table(Department)
        stmt = (
            select(
                da.c.department_id,
                d.c.code,
                d.c.name,
                d.c.category,
                da.c.total,
                da.c.ledger,
                da.c.staffing,
                da.c.central_tasks,
                da.c.satisfaction,
                da.c.onsite,
                da.c.as_of,
                da.c.computed_at,
                (da.c.breakdown if breakdown else null()).label("breakdown"),
            )
            .join(d, d.c.id == da.c.department_id)
            .where(da.c.phase_id == phase_id)
            .order_by(da.c.total.desc(), d.c.code)
        )
        if department_id is not None:
            stmt = stmt.where(da.c.department_id == department_id)
        return [
            ScoreView(**(dict(row._mapping) | {"breakdown": row.breakdown or {}}))
            for row in self.session.execute(stmt)
        ]
