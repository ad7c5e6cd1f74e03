"""What the daily tracker (整改跟踪) reads and writes beside the outbox: its last run (the JobState
row it locks), the active rectification items, their escalation levels."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from bihuan.clock import utc_now
from bihuan.db import table, upsert
from bihuan.vocab import EscalationLevel, RectificationStatus
from models import Department, Finding, JobState, RectificationItem


@dataclass(frozen=True, slots=True)
class TrackedItem:
    """An active rectification item with its department and finding, as the tracker needs it."""

    id: int
    department_id: int
    department_code: str
    department_name: str
    notify_tags: str
    supervising_section: str
    title: str
    issued_on: date
    deadline: date
    status: RectificationStatus
    escalation_level: EscalationLevel | None
    last_response_on: date | None
    extensions: int
    deadline_provisional_from: int | None = None


class TrackingRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_last_run(self, jurisdiction_id: int, job: str) -> date | None:
        """Lock the job's state row for this transaction (creating it on first use) and return
        the day of its last run: a second tracker of the jurisdiction waits here."""
        js = table(JobState)
        upsert(
            self.session,
            JobState,
            [
                {
                    "jurisdiction_id": jurisdiction_id,
                    "job": job,
                    "value": "",
                    "updated_at": utc_now(),
                }
            ],
            keys=["jurisdiction_id", "job"],
        )
        value = self.session.execute(
            select(js.c.value)
            .where(js.c.jurisdiction_id == jurisdiction_id, js.c.job == job)
            .with_for_update()
        ).scalar_one()
        return date.fromisoformat(value) if value else None

    def record_last_run(self, jurisdiction_id: int, job: str, day: date) -> None:
        js = table(JobState)
        self.session.execute(
            update(js)
            .where(js.c.jurisdiction_id == jurisdiction_id, js.c.job == job)
            .values(value=day.isoformat(), updated_at=utc_now())
        )

    def active_items(
        self, jurisdiction_id: int, statuses: Collection[RectificationStatus]
    ) -> list[TrackedItem]:
        """The jurisdiction's items in `statuses`, by id, in one select."""
        ri, d, f = table(RectificationItem), table(Department), table(Finding)
        rows = self.session.execute(
            select(
                ri.c.id,
                ri.c.department_id,
                d.c.code,
                d.c.name,
                d.c.notify_tags,
                ri.c.supervising_section,
                f.c.title,
                ri.c.issued_on,
                ri.c.deadline,
                ri.c.status,
                ri.c.escalation_level,
                ri.c.last_response_on,
                ri.c.extensions,
                ri.c.deadline_provisional_from,
            )
            .join(d, d.c.id == ri.c.department_id)
            .join(f, f.c.id == ri.c.finding_id)
            .where(
                d.c.jurisdiction_id == jurisdiction_id,
                ri.c.status.in_([s.value for s in statuses]),
            )
            .order_by(ri.c.id)
        )
        return [
            TrackedItem(
                id=r.id,
                department_id=r.department_id,
                department_code=r.code,
                department_name=r.name,
                notify_tags=r.notify_tags,
                supervising_section=r.supervising_section,
                title=r.title,
                issued_on=r.issued_on,
                deadline=r.deadline,
                status=RectificationStatus(r.status),
                escalation_level=EscalationLevel(r.escalation_level)
                if r.escalation_level
                else None,
                last_response_on=r.last_response_on,
                extensions=r.extensions,
                deadline_provisional_from=r.deadline_provisional_from,
            )
            for r in rows
        ]

    def set_levels(self, levels: Sequence[tuple[int, EscalationLevel]]) -> None:
        """Store escalation levels. The item's `version` (its optimistic lock for people's
        edits) is left alone: the level is derived, never lowered by the tracker, and a
        department's exported workbook must stay importable meanwhile."""
        self._set_column("escalation_level", [(i, level.value) for i, level in levels])

    def set_provisional_from(self, flags: Sequence[tuple[int, int | None]]) -> None:
        """Store each item's first provisional year (暂定) of its deadline (derived, so the
        item's `version` is left alone, like the level)."""
        self._set_column("deadline_provisional_from", flags)

    def move_deadlines(self, moves: Sequence[tuple[int, date]]) -> None:
        """Re-counted deadlines (a provisional year became official). The `version` is left
        alone: the department's answers stay valid, only the date moved."""
        self._set_column("deadline", moves)

    def _set_column(self, column: str, values: Sequence[tuple[int, object]]) -> None:
        """One column of many items, item id -> value, in one bulk statement."""
        if not values:
            return
        ri = table(RectificationItem)
        self.session.execute(
            update(ri)
            .where(ri.c.id == bindparam("iid"))
            .values({column: bindparam("value")})
            .execution_options(synchronize_session=False),
            [{"iid": item_id, "value": value} for item_id, value in values],
        )


__all__ = ["TrackedItem", "TrackingRepo"]
