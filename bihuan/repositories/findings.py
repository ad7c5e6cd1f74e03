"""Findings and problem lists (问题, 问题清单): the facts the findings rules read, the findings
themselves, the approval's writes (items and their first events, the lists, the outbox).

Every set the size of a county or a province goes through one bulk statement (an INSERT .. ON
CONFLICT or an UPDATE executed once per batch of bound parameters), never per-row ORM adds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlmodel import Session

from bihuan.clock import utc_now
from bihuan.core.breakdown import Breakdown
from bihuan.core.findings import (
    ChainFact,
    DepartmentFacts,
    FindingDraft,
    IndicatorFact,
    StaffingFact,
)
from bihuan.core.problem_lists import PlannedItem, Proposed
from bihuan.db import table, upsert
from bihuan.repositories.recheck import ITEM, LAPSED  # a lapsed alternative's audit row
from bihuan.vocab import (
    FindingCategory,
    FindingStatus,
    PhaseKind,
    ProblemListStatus,
    RectificationStatus,
    Severity,
    SubmissionStatus,
)
from models import (
    AuditLog,
    Cycle,
    Department,
    DepartmentAssessment,
    Finding,
    HotlineCase,
    Phase,
    ProblemList,
    RectificationEvent,
    RectificationItem,
    StaffingCheck,
    SubmissionRequest,
)

# Ids per IN (...) list: SQLite refuses statements with more than 32,766 bound variables.
CHUNK = 5_000
# The first event of every item: how it came to be.
ISSUED_REASON = "问题清单审核下发"
# Items in these statuses are finished; a subject with such an item may be raised again.
CLOSED = (
    RectificationStatus.VERIFIED_CLOSED.value,
    RectificationStatus.CANNOT_SOLVE.value,
    RectificationStatus.WITHDRAWN.value,
)


def subject_of(key: str) -> str:
    """A finding key without its phase (`<rule>:<subject>`); for a carried finding
    (`carried:<year>:<phase>:<rule>:<subject>`) the subject of the finding it carries."""
    parts = key.split(":", 3)
    if parts[0] == "carried" and len(parts) == 4:
        return parts[3]
    return key.split(":", 1)[1] if ":" in key else key


@dataclass(frozen=True)
class PhaseRef:
    """The cycle and phase a findings run works on."""

    jurisdiction_id: int
    cycle_id: int
    phase_id: int
    year: int
    kind: PhaseKind
    window_start: date
    window_end: date


@dataclass(frozen=True)
class FindingView:
    """A finding with its department and, once approved, its item's supervising section."""

    id: int
    department_id: int
    department: str
    department_name: str
    phase: PhaseKind
    key: str
    category: FindingCategory
    severity: Severity
    source: str
    title: str
    status: FindingStatus
    dropped_reason: str
    carried_from_id: int | None
    evidence: dict[str, Any]
    item_id: int | None
    item_section: str | None


@dataclass(frozen=True)
class ProblemListView:
    department_id: int
    department: str
    department_name: str
    phase: PhaseKind
    status: ProblemListStatus
    issued_on: date | None
    approved_by: str
    findings: int  # not dropped
    items: int


@dataclass(frozen=True)
class FindingRef:
    """A finding as a correction after issue (修改/撤销问题) needs it: where it belongs, its
    text and its item (None before approval, or when dropped)."""

    id: int
    department: str
    year: int
    phase: PhaseKind
    status: FindingStatus
    title: str
    item_id: int | None


@dataclass(frozen=True)
class Notice:
    """One message for the outbox (the dispatcher sends it)."""

    key: str
    department_id: int
    recipient_tag: str
    kind: str
    subject: str
    body: str
    attachment: str = ""  # a file under var/ sent with it


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


class FindingsRepo:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.f: Table = table(Finding)
        self.d: Table = table(Department)
        self.pl: Table = table(ProblemList)
        self.ri: Table = table(RectificationItem)

    # ------------------------------------------------------------------ the phase

    def phase(self, jurisdiction_id: int, year: int, kind: PhaseKind) -> PhaseRef | None:
        c, p = table(Cycle), table(Phase)
        row = self.session.execute(
            select(c.c.id, p.c.id, p.c.window_start, p.c.window_end)
            .join(p, p.c.cycle_id == c.c.id)
            .where(c.c.jurisdiction_id == jurisdiction_id, c.c.year == year, p.c.kind == kind.value)
        ).first()
        if row is None:
            return None
        cycle_id, phase_id, start, end = row
        return PhaseRef(jurisdiction_id, cycle_id, phase_id, year, kind, start, end)

    def cycle_id(self, jurisdiction_id: int, year: int) -> int | None:
        c = table(Cycle)
        return self.session.execute(
            select(c.c.id).where(c.c.jurisdiction_id == jurisdiction_id, c.c.year == year)
        ).scalar_one_or_none()

    def list_years(self, jurisdiction_id: int) -> list[int]:
        """The years that have problem lists, newest first."""
        c, pl = table(Cycle), self.pl
        return [
            int(y)
            for y in self.session.execute(
                select(c.c.year)
                .join(pl, pl.c.cycle_id == c.c.id)
                .where(c.c.jurisdiction_id == jurisdiction_id)
                .distinct()
                .order_by(c.c.year.desc())
            ).scalars()
        ]

    # ------------------------------------------------------------------ facts → findings

    def facts(self, ref: PhaseRef) -> dict[int, DepartmentFacts]:
        """Each active department's facts for the phase, from what collection and assessment
        stored (scores read through the typed Breakdown)."""
        d = self.d
        codes: dict[int, str] = {
            dept_id: code
            for dept_id, code in self.session.execute(
                select(d.c.id, d.c.code).where(
                    d.c.jurisdiction_id == ref.jurisdiction_id, d.c.active.is_(True)
                )
            )
        }
        sr = table(SubmissionRequest)
        missing = set(
            self.session.execute(
                select(sr.c.department_id).where(
                    sr.c.phase_id == ref.phase_id, sr.c.status == SubmissionStatus.MISSING.value
                )
            ).scalars()
        )
        staffing = self._staffing(ref)
        hotline = self._hotline(ref)
        window = f"{ref.window_start}至{ref.window_end}"
        da = table(DepartmentAssessment)
        out: dict[int, DepartmentFacts] = {}
        for dept_id, stored, satisfaction in self.session.execute(
            select(da.c.department_id, da.c.breakdown, da.c.satisfaction).where(
                da.c.phase_id == ref.phase_id
            )
        ):
            if dept_id not in codes:
                continue
            breakdown = Breakdown.from_json(stored)
            cases, late = hotline.get(dept_id, (0, 0))
            out[dept_id] = DepartmentFacts(
                code=codes[dept_id],
                submission_missing=dept_id in missing,
                window=window,
                indicators=[
                    IndicatorFact(i.code, i.name, i.score, i.missing, i.compared)
                    for i in breakdown.indicators
                ],
                staffing=staffing.get(dept_id, []),
                satisfaction=satisfaction,
                hotline_cases=cases,
                hotline_late=late,
                chains=[
                    ChainFact(link.task_code, link.task_name, link.score, link.own_shortfall())
                    for link in breakdown.chain_links
                    if link.responsible
                ],
            )
        return out

    def _staffing(self, ref: PhaseRef) -> dict[int, list[StaffingFact]]:
        sc = table(StaffingCheck)
        out: dict[int, list[StaffingFact]] = defaultdict(list)
        for dept_id, kind, problems, ptype, note in self.session.execute(
            select(
                sc.c.department_id, sc.c.kind, sc.c.problems, sc.c.problem_type, sc.c.note
            ).where(sc.c.phase_id == ref.phase_id)
        ):
            out[dept_id].append(StaffingFact(kind, problems, ptype, note or ""))
        return out

    def _hotline(self, ref: PhaseRef) -> dict[int, tuple[int, int]]:
        """12345 cases due by the end of the phase's window, and how many were closed late or
        not at all, per department."""
        hc = table(HotlineCase)
        cutoff = ref.window_end
        late = case((or_(hc.c.closed_on.is_(None), hc.c.closed_on > hc.c.due_on), 1), else_=0)
        return {
            dept_id: (int(cases), int(late_cases or 0))
            for dept_id, cases, late_cases in self.session.execute(
                select(hc.c.department_id, func.count(), func.sum(late))
                .where(
                    hc.c.cycle_id == ref.cycle_id,
                    hc.c.received_on <= cutoff,
                    hc.c.due_on <= cutoff,
                )
                .group_by(hc.c.department_id)
            )
        }

    def open_subjects(self, ref: PhaseRef) -> dict[int, frozenset[str]]:
        """Per department, the subjects not to raise again: those of this cycle's findings of
        the other phase whose items are still open (a year-end run does not repeat what mid-year
        put on the ledger), those the re-check carried from last year (the carried finding
        stands for a problem that came back; raising it twice would count it twice), and those
        of an item agreed as cannot be solved (无法解决, with its alternative) in this cycle or
        an earlier year, while the alternative stands (no `alternative_lapsed` audit row)."""
        f, ri = self.f, self.ri
        out: dict[int, set[str]] = defaultdict(set)
        for dept_id, key in self._standing_alternatives(ref):
            out[dept_id].add(key)
        for dept_id, key in self.session.execute(
            select(f.c.department_id, f.c.key)
            .join(ri, ri.c.finding_id == f.c.id)
            .where(
                f.c.cycle_id == ref.cycle_id,
                f.c.phase_kind != ref.kind.value,
                ri.c.status.not_in(CLOSED),
            )
        ):
            out[dept_id].add(key.split(":", 1)[1])
        for dept_id, key in self.session.execute(
            select(f.c.department_id, f.c.key).where(
                f.c.cycle_id == ref.cycle_id,
                f.c.category == FindingCategory.CARRIED_OVER.value,
                f.c.status != FindingStatus.DROPPED.value,
            )
        ):
            # carried:<last year>:<phase>:<rule>:<subject> -> <rule>:<subject>
            parts = key.split(":", 3)
            if len(parts) == 4 and parts[0] == "carried":
                out[dept_id].add(parts[3])
        return {k: frozenset(v) for k, v in out.items()}

    def _standing_alternatives(self, ref: PhaseRef) -> list[tuple[int, str]]:
        """(department id, subject) of the cannot-solve items of the jurisdiction up to this
        cycle whose agreed alternative was not recorded as lapsed."""
        f, ri, c, a = self.f, self.ri, table(Cycle), table(AuditLog)
        lapsed = select(a.c.entity_key).where(
            a.c.jurisdiction_id == ref.jurisdiction_id,
            a.c.action == LAPSED,
            a.c.entity == ITEM,
        )
        return [
            (dept_id, subject_of(key))
            for dept_id, key in self.session.execute(
                select(f.c.department_id, f.c.key)
                .join(ri, ri.c.finding_id == f.c.id)
                .join(c, c.c.id == f.c.cycle_id)
                .where(
                    c.c.jurisdiction_id == ref.jurisdiction_id,
                    c.c.year <= ref.year,
                    ri.c.status == RectificationStatus.CANNOT_SOLVE.value,
                    cast(ri.c.id, String).not_in(lapsed),
                )
            )
        ]

    def count(self, cycle_id: int) -> int:
        f = self.f
        return int(
            self.session.execute(
                select(func.count()).select_from(f).where(f.c.cycle_id == cycle_id)
            ).scalar_one()
        )

    def add_findings(self, ref: PhaseRef, drafts: Sequence[tuple[int, FindingDraft]]) -> int:
        """Insert the drafts as proposed findings (a natural key already there is left alone);
        returns how many were new."""
        before = self.count(ref.cycle_id)
        now = utc_now()
        upsert(
            self.session,
            Finding,
            [
                {
                    "cycle_id": ref.cycle_id,
                    "phase_kind": ref.kind.value,
                    "department_id": dept_id,
                    "key": dr.key,
                    "category": dr.category.value,
                    "severity": dr.severity.value,
                    "source": dr.source,
                    "title": dr.title,
                    "evidence": {**dr.evidence, "measures": dr.measures},
                    "status": FindingStatus.PROPOSED.value,
                    "carried_from_id": dr.carried_from_id,
                    "created_at": now,
                }
                for dept_id, dr in drafts
            ],
            keys=["cycle_id", "department_id", "key"],
        )
        return self.count(ref.cycle_id) - before

    def draft_lists(self, ref: PhaseRef) -> int:
        """A draft problem list for every department with proposed findings in the phase."""
        f = self.f
        dept_ids = sorted(
            set(
                self.session.execute(
                    select(f.c.department_id).where(
                        f.c.cycle_id == ref.cycle_id,
                        f.c.phase_kind == ref.kind.value,
                        f.c.status == FindingStatus.PROPOSED.value,
                    )
                ).scalars()
            )
        )
        self._ensure_lists(ref, dept_ids)
        return len(dept_ids)

    def _ensure_lists(self, ref: PhaseRef, dept_ids: Sequence[int]) -> None:
        upsert(
            self.session,
            ProblemList,
            [
                {
                    "cycle_id": ref.cycle_id,
                    "phase_kind": ref.kind.value,
                    "department_id": dept_id,
                    "status": ProblemListStatus.DRAFT.value,
                    "approved_by": "",
                }
                for dept_id in dept_ids
            ],
            keys=["cycle_id", "phase_kind", "department_id"],
        )

    # ------------------------------------------------------------------ reading findings

    def views(
        self,
        *,
        cycle_id: int,
        phase: PhaseKind | None = None,
        status: FindingStatus | None = None,
        department_id: int | None = None,
        section: str | None = None,
        section_categories: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[FindingView]:
        """Findings of a cycle in department and key order. `section` keeps those the section
        supervises: its items, and the not yet approved findings of its categories."""
        f, d, ri = self.f, self.d, self.ri
        stmt = (
            select(
                f.c.id,
                f.c.department_id,
                d.c.code,
                d.c.name,
                f.c.phase_kind,
                f.c.key,
                f.c.category,
                f.c.severity,
                f.c.source,
                f.c.title,
                f.c.status,
                f.c.dropped_reason,
                f.c.carried_from_id,
                f.c.evidence,
                ri.c.id,
                ri.c.supervising_section,
            )
            .join(d, d.c.id == f.c.department_id)
            .join(ri, ri.c.finding_id == f.c.id, isouter=True)
            .where(f.c.cycle_id == cycle_id)
            .order_by(d.c.code, f.c.key)
        )
        if phase is not None:
            stmt = stmt.where(f.c.phase_kind == phase.value)
        if status is not None:
            stmt = stmt.where(f.c.status == status.value)
        if department_id is not None:
            stmt = stmt.where(f.c.department_id == department_id)
        if section is not None:
            stmt = stmt.where(self._supervised_by(section, section_categories))
        if limit is not None:
            stmt = stmt.limit(limit)
        return [
            FindingView(
                id=r[0],
                department_id=r[1],
                department=r[2],
                department_name=r[3],
                phase=PhaseKind(r[4]),
                key=r[5],
                category=FindingCategory(r[6]),
                severity=Severity(r[7]),
                source=r[8],
                title=r[9],
                status=FindingStatus(r[10]),
                dropped_reason=r[11] or "",
                carried_from_id=r[12],
                evidence=dict(r[13] or {}),
                item_id=r[14],
                item_section=r[15],
            )
            for r in self.session.execute(stmt)
        ]

    def _supervised_by(self, section: str, categories: Sequence[str]) -> Any:
        f, ri = self.f, self.ri
        return or_(
            ri.c.supervising_section == section,
            and_(ri.c.id.is_(None), f.c.category.in_(list(categories))),
        )

    def count_pending(self, ref: PhaseRef) -> int:
        f = self.f
        return int(
            self.session.execute(
                select(func.count())
                .select_from(f)
                .where(
                    f.c.cycle_id == ref.cycle_id,
                    f.c.phase_kind == ref.kind.value,
                    f.c.status == FindingStatus.PROPOSED.value,
                )
            ).scalar_one()
        )

    def pending_phases(self, jurisdiction_id: int) -> list[tuple[int, PhaseKind, int, int]]:
        """(year, phase, departments, findings) of every phase with findings awaiting
        approval, the latest first."""
        f, c = self.f, table(Cycle)
        return [
            (int(year), PhaseKind(kind), int(depts), int(n))
            for year, kind, depts, n in self.session.execute(
                select(
                    c.c.year,
                    f.c.phase_kind,
                    func.count(func.distinct(f.c.department_id)),
                    func.count(),
                )
                .join(c, c.c.id == f.c.cycle_id)
                .where(
                    c.c.jurisdiction_id == jurisdiction_id,
                    f.c.status == FindingStatus.PROPOSED.value,
                )
                .group_by(c.c.year, f.c.phase_kind)
                .order_by(c.c.year.desc(), f.c.phase_kind.desc())
            )
        ]

    def proposed(self, ref: PhaseRef) -> list[Proposed]:
        """The phase's findings awaiting approval, with what their items and lists need."""
        f, d = self.f, self.d
        return [
            Proposed(
                id=fid,
                department_id=dept_id,
                department=code,
                department_name=name,
                notify_tags=tags or "",
                category=FindingCategory(category),
                severity=Severity(severity),
                title=title,
                measures=str((evidence or {}).get("measures", "")),
            )
            for fid, dept_id, code, name, tags, category, severity, title, evidence in (
                self.session.execute(
                    select(
                        f.c.id,
                        f.c.department_id,
                        d.c.code,
                        d.c.name,
                        d.c.notify_tags,
                        f.c.category,
                        f.c.severity,
                        f.c.title,
                        f.c.evidence,
                    )
                    .join(d, d.c.id == f.c.department_id)
                    .where(
                        f.c.cycle_id == ref.cycle_id,
                        f.c.phase_kind == ref.kind.value,
                        f.c.status == FindingStatus.PROPOSED.value,
                    )
                    .order_by(d.c.code, f.c.key)
                )
            )
        ]

    # ------------------------------------------------------------------ corrections after issue

    def finding_ref(self, jurisdiction_id: int, finding_id: int) -> FindingRef | None:
        """A finding of the jurisdiction, with its item's id; None when there is none."""
        f, d, ri = self.f, self.d, self.ri
        c = table(Cycle)
        row = self.session.execute(
            select(f.c.id, d.c.code, c.c.year, f.c.phase_kind, f.c.status, f.c.title, ri.c.id)
            .join(c, c.c.id == f.c.cycle_id)
            .join(d, d.c.id == f.c.department_id)
            .outerjoin(ri, ri.c.finding_id == f.c.id)
            .where(f.c.id == finding_id, c.c.jurisdiction_id == jurisdiction_id)
        ).first()
        if row is None:
            return None
        fid, code, year, phase, status, title, item_id = row
        return FindingRef(
            int(fid), code, int(year), PhaseKind(phase), FindingStatus(status), title, item_id
        )

    def retitle(self, finding_id: int, title: str) -> None:
        """The amended text of an issued finding (修改问题)."""
        self.session.execute(update(self.f).where(self.f.c.id == finding_id).values(title=title))

    def withdraw(self, finding_id: int, reason: str) -> None:
        """An issued finding withdrawn (撤销问题), the reason kept beside it."""
        self.session.execute(
            update(self.f)
            .where(self.f.c.id == finding_id, self.f.c.status == FindingStatus.APPROVED.value)
            .values(status=FindingStatus.WITHDRAWN.value, dropped_reason=reason)
        )

    # ------------------------------------------------------------------ the approval's writes

    def drop(self, reasons: dict[int, str]) -> None:
        """Mark findings dropped with their reasons (one statement, a row of parameters each)."""
        if not reasons:
            return
        f = self.f
        self.session.execute(
            update(f)
            .where(f.c.id == bindparam("fid"), f.c.status == FindingStatus.PROPOSED.value)
            .values(status=FindingStatus.DROPPED.value, dropped_reason=bindparam("reason")),
            [{"fid": fid, "reason": reason} for fid, reason in reasons.items()],
        )

    def approve(self, finding_ids: Sequence[int]) -> None:
        if not finding_ids:
            return
        f = self.f
        self.session.execute(
            update(f)
            .where(f.c.id == bindparam("fid"), f.c.status == FindingStatus.PROPOSED.value)
            .values(status=FindingStatus.APPROVED.value),
            [{"fid": fid} for fid in finding_ids],
        )

    def create_items(self, items: Sequence[PlannedItem], *, actor: str, as_of: date) -> int:
        """One rectification item per planned item, and its first history event (open, by the
        approver); a finding that has an item already keeps it. Returns the items created."""
        if not items:
            return 0
        now = utc_now()
        finding_ids = [i.finding.id for i in items]
        existing = set(self._item_ids(finding_ids))
        # One number per problem (问题编号 = 事项编号): an item takes its finding's id, unless
        # an item of an older installation already holds that number (then the next free one).
        taken = self._taken_ids([fid for fid in finding_ids if fid not in existing])
        rows = [
            {
                "finding_id": i.finding.id,
                "department_id": i.finding.department_id,
                "supervising_section": i.section.name,
                "measures": i.finding.measures,
                "issued_on": as_of,
                "deadline": i.deadline,
                "deadline_provisional_from": i.provisional_from,
                "status": RectificationStatus.OPEN.value,
                "extensions": 0,
                "version": 1,
                "updated_at": now,
            }
            for i in items
            if i.finding.id not in existing
        ]
        numbered = [{"id": r["finding_id"], **r} for r in rows if r["finding_id"] not in taken]
        upsert(self.session, RectificationItem, numbered, keys=["finding_id"])
        if numbered:
            self._advance_item_sequence()
        upsert(
            self.session,
            RectificationItem,
            [r for r in rows if r["finding_id"] in taken],
            keys=["finding_id"],
        )
        created = {
            fid: iid for fid, iid in self._item_ids(finding_ids).items() if fid not in existing
        }
        upsert(
            self.session,
            RectificationEvent,
            [
                {
                    "item_id": item_id,
                    "seq": 1,
                    "from_status": None,
                    "to_status": RectificationStatus.OPEN.value,
                    "actor": actor,
                    "on_date": as_of,
                    "reason": ISSUED_REASON,
                    "evidence": [],
                    "at": now,
                }
                for item_id in created.values()
            ],
            keys=["item_id", "seq"],
        )
        return len(created)

    def _taken_ids(self, ids: Sequence[int]) -> set[int]:
        """Of `ids`, those some rectification item already holds as its own id."""
        out: set[int] = set()
        for chunk in _chunks(ids):
            out.update(self.session.scalars(select(self.ri.c.id).where(self.ri.c.id.in_(chunk))))
        return out

    def _advance_item_sequence(self) -> None:
        """After items were given explicit ids, PostgreSQL's id sequence must move past them
        (SQLite's rowid always takes the largest id plus one)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        self.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('rectificationitem', 'id'), "
                "(SELECT max(id) FROM rectificationitem))"
            )
        )

    def item_numbers(self, finding_ids: Sequence[int]) -> dict[int, int]:
        """The rectification item's id (事项编号) of each finding that has one."""
        return self._item_ids(finding_ids)

    def _item_ids(self, finding_ids: Sequence[int]) -> dict[int, int]:
        ri = self.ri
        out: dict[int, int] = {}
        for chunk in _chunks(finding_ids):
            out.update(
                self.session.execute(
                    select(ri.c.finding_id, ri.c.id).where(ri.c.finding_id.in_(chunk))
                )
                .tuples()
                .all()
            )
        return out

    def mark_lists(
        self,
        ref: PhaseRef,
        *,
        sent: Sequence[int],
        approver: str,
        as_of: date,
        decided: Sequence[int] | None = None,
    ) -> None:
        """The decided departments' draft lists (`decided`; None: every department of the
        phase) are decided: those of `sent` departments are sent (and exist, even for findings
        raised without a draft), the others (every finding dropped) approved with nothing to
        send. Drafts of departments not decided stay drafts."""
        pl = self.pl
        self._ensure_lists(ref, sent)
        now = utc_now()
        drafts = and_(
            pl.c.cycle_id == ref.cycle_id,
            pl.c.phase_kind == ref.kind.value,
            pl.c.status == ProblemListStatus.DRAFT.value,
        )
        if sent:
            self.session.execute(
                update(pl)
                .where(drafts, pl.c.department_id == bindparam("dept"))
                .values(
                    status=ProblemListStatus.SENT.value,
                    issued_on=as_of,
                    approved_by=approver,
                    approved_at=now,
                ),
                [{"dept": dept_id} for dept_id in sent],
            )
        rest = update(pl).where(drafts)
        if decided is not None:
            if not decided:
                return
            rest = rest.where(pl.c.department_id.in_(list(decided)))
        self.session.execute(
            rest.values(
                status=ProblemListStatus.APPROVED.value, approved_by=approver, approved_at=now
            )
        )

    # ------------------------------------------------------------------ problem lists

    def lists(
        self,
        *,
        cycle_id: int,
        phase: PhaseKind | None = None,
        department_id: int | None = None,
        section: str | None = None,
        section_categories: Sequence[str] = (),
    ) -> list[ProblemListView]:
        """A cycle's problem lists with their findings and items counted; `section` keeps the
        lists holding a finding the section supervises."""
        pl, d, f, ri = self.pl, self.d, self.f, self.ri
        same_list = and_(
            f.c.cycle_id == pl.c.cycle_id,
            f.c.phase_kind == pl.c.phase_kind,
            f.c.department_id == pl.c.department_id,
        )
        live = f.c.status != FindingStatus.DROPPED.value
        findings = select(func.count()).select_from(f).where(same_list, live).scalar_subquery()
        items = (
            select(func.count())
            .select_from(f.join(ri, ri.c.finding_id == f.c.id))
            .where(same_list)
            .scalar_subquery()
        )
        stmt = (
            select(
                pl.c.department_id,
                d.c.code,
                d.c.name,
                pl.c.phase_kind,
                pl.c.status,
                pl.c.issued_on,
                pl.c.approved_by,
                findings,
                items,
            )
            .join(d, d.c.id == pl.c.department_id)
            .where(pl.c.cycle_id == cycle_id)
            .order_by(pl.c.phase_kind, d.c.code)
        )
        if phase is not None:
            stmt = stmt.where(pl.c.phase_kind == phase.value)
        if department_id is not None:
            stmt = stmt.where(pl.c.department_id == department_id)
        if section is not None:
            stmt = stmt.where(
                exists(
                    select(f.c.id)
                    .select_from(f.outerjoin(ri, ri.c.finding_id == f.c.id))
                    .where(same_list, live, self._supervised_by(section, section_categories))
                )
            )
        return [
            ProblemListView(
                department_id=dept_id,
                department=code,
                department_name=name,
                phase=PhaseKind(kind),
                status=ProblemListStatus(status),
                issued_on=issued,
                approved_by=by or "",
                findings=int(n_findings or 0),
                items=int(n_items or 0),
            )
            for dept_id, code, name, kind, status, issued, by, n_findings, n_items in (
                self.session.execute(stmt)
            )
        ]
