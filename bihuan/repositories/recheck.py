"""The next-year re-check (次年复查): last year's items, this year's results, carried findings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from bihuan.core.breakdown import Breakdown
from bihuan.db import table, upsert
from bihuan.vocab import FindingCategory, FindingStatus, PhaseKind, RectificationStatus, Severity
from models import (
    AuditLog,
    Cycle,
    Department,
    DepartmentAssessment,
    Finding,
    Phase,
    RectificationEvent,
    RectificationItem,
)

ITEM = "rectificationitem"  # the audit log's entity of a rectification item
LAPSED = "alternative_lapsed"  # audit action: a cannot-solve item's agreed alternative lapsed

# An IN list is one bound parameter per value, and PostgreSQL takes at most 65,535 per statement:
# a 10,000-department jurisdiction carries ~84,000 findings into its re-check.
IN_CHUNK = 10_000


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield list(values[start : start + IN_CHUNK])


def recheck_action(year: int) -> str:
    """The audit action of year Y's re-check decisions."""
    return f"recheck:{year}"


@dataclass(frozen=True)
class PriorRow:
    """One of last year's rectification items with its finding."""

    item_id: int
    status: str
    department_id: int
    department_code: str
    finding_id: int
    finding_key: str
    category: str
    title: str
    indicator_code: str | None  # the ledger indicator of an indicator finding
    lapsed: bool  # a coordinator recorded its agreed alternative as lapsed


@dataclass(frozen=True)
class AssessedBreakdown:
    """A stored score's breakdown with the phase it belongs to."""

    phase_kind: str
    breakdown: Breakdown


@dataclass(frozen=True)
class CarriedFinding:
    """A finding of year Y that carries one of last year's items (上年度问题延续): category
    carried_over, severity high, proposed, on the mid-year problem list."""

    cycle_id: int
    department_id: int
    key: str
    title: str
    evidence: dict[str, Any]
    carried_from_id: int
    source: str = "次年复查"


@dataclass(frozen=True)
class HistoryNote:
    """A line in an item's history that leaves its status as it is."""

    item_id: int
    seq: int
    status: str
    actor: str
    on_date: date
    reason: str


@dataclass(frozen=True)
class ItemScope:
    """What the permission check and the lapse rule need to know about one item."""

    item_id: int
    status: str
    jurisdiction_id: int
    department_id: int
    department_code: str
    supervising_section: str


class RecheckRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ reading

    def lapsed_items(self, jurisdiction_id: int) -> set[int]:
        """Items whose agreed alternative a coordinator recorded as lapsed (audit rows)."""
        a = table(AuditLog)
        return {
            int(key)
            for key in self.session.execute(
                select(a.c.entity_key).where(
                    a.c.jurisdiction_id == jurisdiction_id,
                    a.c.action == LAPSED,
                    a.c.entity == ITEM,
                )
            ).scalars()
        }

    def prior_items(self, jurisdiction_id: int, prior_year: int) -> list[PriorRow]:
        """Year Y-1's rectification items with their findings, in one query, by item id."""
        ri, f, c, d = table(RectificationItem), table(Finding), table(Cycle), table(Department)
        lapsed = self.lapsed_items(jurisdiction_id)
        out = []
        for row in self.session.execute(
            select(
                ri.c.id,
                ri.c.status,
                ri.c.department_id,
                f.c.id.label("finding_id"),
                f.c.key,
                f.c.category,
                f.c.title,
                f.c.evidence,
                d.c.code,
            )
            .join(f, f.c.id == ri.c.finding_id)
            .join(c, c.c.id == f.c.cycle_id)
            .join(d, d.c.id == ri.c.department_id)
            .where(
                c.c.jurisdiction_id == jurisdiction_id,
                c.c.year == prior_year,
                # a withdrawn finding (撤销问题) has nothing to re-check
                ri.c.status != RectificationStatus.WITHDRAWN.value,
            )
            .order_by(ri.c.id)
        ):
            evidence: dict[str, Any] = row.evidence or {}
            indicator = evidence.get("indicator") if row.category == "indicator" else None
            out.append(
                PriorRow(
                    item_id=row.id,
                    status=row.status,
                    department_id=row.department_id,
                    department_code=row.code,
                    finding_id=row.finding_id,
                    finding_key=row.key,
                    category=row.category,
                    title=row.title,
                    indicator_code=str(indicator) if indicator else None,
                    lapsed=row.id in lapsed,
                )
            )
        return out

    def breakdowns(self, cycle_id: int) -> list[AssessedBreakdown]:
        """Every stored score of the cycle's phases, read through the typed breakdown."""
        ph, da = table(Phase), table(DepartmentAssessment)
        return [
            AssessedBreakdown(kind, Breakdown.from_json(breakdown))
            for kind, breakdown in self.session.execute(
                select(ph.c.kind, da.c.breakdown)
                .join(da, da.c.phase_id == ph.c.id)
                .where(ph.c.cycle_id == cycle_id)
            )
        ]

    def recorded_outcomes(self, jurisdiction_id: int, year: int) -> set[tuple[int, str]]:
        """(item id, outcome) of the re-check decisions already in the audit log for `year`."""
        a = table(AuditLog)
        return {
            (int(key), str((details or {}).get("outcome", "")))
            for key, details in self.session.execute(
                select(a.c.entity_key, a.c.details).where(
                    a.c.jurisdiction_id == jurisdiction_id,
                    a.c.action == recheck_action(year),
                    a.c.entity == ITEM,
                )
            )
        }

    def item_scope(self, item_id: int) -> ItemScope | None:
        ri, d = table(RectificationItem), table(Department)
        row = self.session.execute(
            select(
                ri.c.id,
                ri.c.status,
                ri.c.supervising_section,
                d.c.id,
                d.c.code,
                d.c.jurisdiction_id,
            )
            .join(d, d.c.id == ri.c.department_id)
            .where(ri.c.id == item_id)
        ).first()
        if row is None:
            return None
        item, status, section, dept_id, code, jid = row
        return ItemScope(item, status, jid, dept_id, code, section)

    # ------------------------------------------------------------------ writing

    def ensure_cycle(self, jurisdiction_id: int, year: int) -> int:
        """The id of year Y's cycle; created if the January run comes before Y's ledger import
        (the importer finds it by the same natural key and fills it)."""
        c = table(Cycle)
        found = self.session.execute(
            select(c.c.id).where(c.c.jurisdiction_id == jurisdiction_id, c.c.year == year)
        ).scalar()
        if found is not None:
            return int(found)
        cycle = Cycle(jurisdiction_id=jurisdiction_id, year=year)
        self.session.add(cycle)
        self.session.flush()
        assert cycle.id is not None
        return cycle.id

    def count_findings(self, cycle_id: int) -> int:
        f = table(Finding)
        return int(
            self.session.execute(
                select(func.count()).select_from(f).where(f.c.cycle_id == cycle_id)
            ).scalar_one()
        )

    def add_carried_findings(self, rows: Sequence[CarriedFinding], *, at: datetime) -> None:
        """Carried findings, upserted on their natural key (cycle, department, key): a re-run
        adds none and leaves the ones there as they are (the office may have approved them)."""
        upsert(
            self.session,
            Finding,
            [
                {
                    "cycle_id": r.cycle_id,
                    "phase_kind": PhaseKind.MID_YEAR.value,
                    "department_id": r.department_id,
                    "key": r.key,
                    "category": FindingCategory.CARRIED_OVER.value,
                    "severity": Severity.HIGH.value,
                    "source": r.source,
                    "title": r.title,
                    "evidence": r.evidence,
                    "status": FindingStatus.PROPOSED.value,
                    "carried_from_id": r.carried_from_id,
                    "created_at": at,
                }
                for r in rows
            ],
            keys=["cycle_id", "department_id", "key"],
        )

    def finding_ids(self, cycle_id: int, keys: Sequence[str]) -> dict[tuple[int, str], int]:
        """(department id, key) → finding id. Two departments may share a finding key."""
        f = table(Finding)
        out: dict[tuple[int, str], int] = {}
        for chunk in _chunks(sorted(set(keys))):
            out.update(
                ((dept_id, key), fid)
                for dept_id, key, fid in self.session.execute(
                    select(f.c.department_id, f.c.key, f.c.id).where(
                        f.c.cycle_id == cycle_id, f.c.key.in_(chunk)
                    )
                )
            )
        return out

    def last_event_seq(self, item_ids: Sequence[int]) -> dict[int, int]:
        ev = table(RectificationEvent)
        out: dict[int, int] = {}
        for chunk in _chunks(list(item_ids)):
            out.update(
                (item, int(seq or 0))
                for item, seq in self.session.execute(
                    select(ev.c.item_id, func.max(ev.c.seq))
                    .where(ev.c.item_id.in_(chunk))
                    .group_by(ev.c.item_id)
                )
            )
        return out

    def add_notes(self, notes: Sequence[HistoryNote], *, at: datetime) -> None:
        """History events that leave the item's status as it is: the re-check never rewrites
        last year's rows, it only tells their history where the problem went."""
        upsert(
            self.session,
            RectificationEvent,
            [
                {
                    "item_id": n.item_id,
                    "seq": n.seq,
                    "from_status": n.status,
                    "to_status": n.status,
                    "actor": n.actor,
                    "on_date": n.on_date,
                    "reason": n.reason,
                    "evidence": [],
                    "at": at,
                }
                for n in notes
            ],
            keys=["item_id", "seq"],
        )
