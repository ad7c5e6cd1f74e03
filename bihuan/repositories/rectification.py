"""The rectification ledger (整改台账): items, their history, and the audit rows that explain it.

Every write to an item is guarded by its version (``UPDATE ... WHERE id = :id AND version =
:seen``): `save` says whether the row still had the version the caller read, so the use case can
answer "changed by someone else" instead of losing an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bihuan.core.rectification import ItemState
from models import (
    AuditLog,
    Cycle,
    Department,
    Finding,
    Jurisdiction,
    RectificationEvent,
    RectificationItem,
    utc_now,
)
from models.enums import EscalationLevel, RectificationStatus

# The audit rows of moves name the item as "rectification_item"; the re-check's lapsed
# alternatives (and its decisions) as "rectificationitem", the table's name.
MOVE_ENTITY = "rectification_item"
ITEM_ENTITY = "rectificationitem"


@dataclass(frozen=True)
class LoadedItem:
    """An item as a move needs it: the state machine's fields and who hears of the move."""

    state: ItemState
    jurisdiction_id: int
    department_id: int
    department_code: str
    department_name: str
    notify_tags: str
    title: str
    supervising_section: str = ""
    jurisdiction_code: str = ""


@dataclass(frozen=True)
class ItemView:
    """One item of the ledger with its department, finding and cycle, as listings show it."""

    id: int
    department_id: int
    department: str
    department_name: str
    year: int
    phase: str
    title: str
    category: str
    severity: str
    status: str
    issued_on: date
    deadline: date
    escalation_level: str | None
    supervising_section: str
    extensions: int
    last_response_on: date | None
    closed_on: date | None
    version: int
    measures: str
    explanation: str
    alternative: str
    extension_request_days: int | None = None
    extension_requested_on: date | None = None
    extension_request_reason: str = ""
    finding_id: int = 0
    deadline_provisional_from: int | None = None


class RectificationRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ reads

    def load(self, jurisdiction_id: int, item_id: int) -> LoadedItem | None:
        """The item if it belongs to a department of the jurisdiction, else None."""
        row = self.session.exec(
            select(RectificationItem, Department, Finding.title, Jurisdiction.code)
            .join(Department, col(Department.id) == col(RectificationItem.department_id))
            .join(Finding, col(Finding.id) == col(RectificationItem.finding_id))
            .join(Jurisdiction, col(Jurisdiction.id) == col(Department.jurisdiction_id))
            .where(RectificationItem.id == item_id, Department.jurisdiction_id == jurisdiction_id)
        ).first()
        if row is None:
            return None
        ri, d, title, jur_code = row
        state = ItemState(
            id=ri.id or 0,
            status=RectificationStatus(ri.status),
            issued_on=ri.issued_on,
            deadline=ri.deadline,
            last_response_on=ri.last_response_on,
            escalation_level=EscalationLevel(ri.escalation_level) if ri.escalation_level else None,
            extensions=ri.extensions,
            explanation=ri.explanation or "",
            alternative=ri.alternative or "",
            closed_on=ri.closed_on,
            version=ri.version,
            extension_request_days=ri.extension_request_days,
            extension_requested_on=ri.extension_requested_on,
            extension_request_reason=ri.extension_request_reason or "",
        )
        return LoadedItem(
            state=state,
            jurisdiction_id=jurisdiction_id,
            department_id=ri.department_id,
            department_code=d.code,
            department_name=d.name,
            notify_tags=d.notify_tags or "",
            title=title,
            supervising_section=ri.supervising_section,
            jurisdiction_code=jur_code,
        )

    def views(
        self,
        jurisdiction_id: int,
        *,
        item_id: int | None = None,
        year: int | None = None,
        department_id: int | None = None,
        section: str | None = None,
        statuses: Sequence[str] | None = None,
        extension_requested: bool | None = None,
        deadline_before: date | None = None,
        escalation_level: str | None = None,
        phase: str | None = None,
    ) -> list[ItemView]:
        """Items of the jurisdiction, ordered by department code and id, narrowed by the
        arguments that are given (a section user's listing passes its section)."""
        ri, d, f = RectificationItem, Department, Finding
        # Columns, not entities: a province's ledger is 100,000 items.
        stmt: Any = (
            sa_select(
                col(ri.id),
                col(ri.department_id),
                col(d.code).label("department"),
                col(d.name).label("department_name"),
                col(Cycle.year),
                col(f.phase_kind).label("phase"),
                col(f.title),
                col(f.category),
                col(f.severity),
                col(ri.status),
                col(ri.issued_on),
                col(ri.deadline),
                col(ri.escalation_level),
                col(ri.supervising_section),
                col(ri.extensions),
                col(ri.last_response_on),
                col(ri.closed_on),
                col(ri.version),
                col(ri.measures),
                col(ri.explanation),
                col(ri.alternative),
                col(ri.extension_request_days),
                col(ri.extension_requested_on),
                func.coalesce(col(ri.extension_request_reason), "").label(
                    "extension_request_reason"
                ),
                col(ri.finding_id),
                col(ri.deadline_provisional_from),
            )
            .join(d, col(d.id) == col(ri.department_id))
            .join(f, col(f.id) == col(ri.finding_id))
            .join(Cycle, col(Cycle.id) == col(f.cycle_id))
            .where(col(d.jurisdiction_id) == jurisdiction_id)
            .order_by(col(d.code), col(ri.id))
        )
        if item_id is not None:
            stmt = stmt.where(col(ri.id) == item_id)
        if year is not None:
            stmt = stmt.where(col(Cycle.year) == year)
        if department_id is not None:
            stmt = stmt.where(col(ri.department_id) == department_id)
        if section is not None:
            stmt = stmt.where(col(ri.supervising_section) == section)
        if statuses is not None:
            stmt = stmt.where(col(ri.status).in_(list(statuses)))
        if extension_requested is not None:
            pending = col(ri.extension_request_days).is_not(None)
            stmt = stmt.where(pending if extension_requested else ~pending)
        if deadline_before is not None:
            stmt = stmt.where(col(ri.deadline) < deadline_before)
        if escalation_level is not None:
            stmt = stmt.where(col(ri.escalation_level) == escalation_level)
        if phase is not None:
            stmt = stmt.where(col(f.phase_kind) == phase)
        return [ItemView(**row._mapping) for row in self.session.execute(stmt)]

    def years(self, jurisdiction_id: int) -> list[int]:
        """The cycle years that have rectification items, newest first."""
        ri, f, d = RectificationItem, Finding, Department
        stmt: Any = (
            sa_select(col(Cycle.year))
            .select_from(ri)
            .join(f, col(f.id) == col(ri.finding_id))
            .join(Cycle, col(Cycle.id) == col(f.cycle_id))
            .join(d, col(d.id) == col(ri.department_id))
            .where(col(d.jurisdiction_id) == jurisdiction_id)
            .distinct()
            .order_by(col(Cycle.year).desc())
        )
        return [int(y) for y in self.session.execute(stmt).scalars()]

    def events(self, item_id: int) -> list[RectificationEvent]:
        return list(
            self.session.exec(
                select(RectificationEvent)
                .where(RectificationEvent.item_id == item_id)
                .order_by(col(RectificationEvent.seq))
            )
        )

    def move_audits(self, item_id: int) -> list[AuditLog]:
        """The audit rows of the moves on an item (each names the history seq it wrote)."""
        return list(
            self.session.exec(
                select(AuditLog)
                .where(AuditLog.entity == MOVE_ENTITY, AuditLog.entity_key == str(item_id))
                .order_by(col(AuditLog.id))
            )
        )

    def item_audits(self, jurisdiction_id: int, item_id: int) -> list[AuditLog]:
        """Every audit row about an item: its moves and what else was recorded on it (a lapsed
        alternative, a re-check's decision), oldest first."""
        return list(
            self.session.exec(
                select(AuditLog)
                .where(
                    col(AuditLog.entity).in_([MOVE_ENTITY, ITEM_ENTITY]),
                    AuditLog.entity_key == str(item_id),
                    AuditLog.jurisdiction_id == jurisdiction_id,
                )
                .order_by(col(AuditLog.id))
            )
        )

    def last_move_audits(self, item_ids: Sequence[int], action: str) -> dict[int, AuditLog]:
        """The newest audit row of one kind of move (e.g. rectify_report_fixed) per item."""
        out: dict[int, AuditLog] = {}
        keys = [str(i) for i in item_ids]
        for start in range(0, len(keys), 1000):
            rows = self.session.exec(
                select(AuditLog)
                .where(
                    AuditLog.entity == MOVE_ENTITY,
                    AuditLog.action == action,
                    col(AuditLog.entity_key).in_(keys[start : start + 1000]),
                )
                .order_by(col(AuditLog.id))
            )
            for row in rows:
                out[int(row.entity_key)] = row  # the later row wins
        return out

    def move_actions(self, item_ids: Sequence[int]) -> dict[tuple[int, int], tuple[str, str]]:
        """(item id, history seq) -> (the move's audit action, the user's login), for the
        events of these items that a move wrote."""
        out: dict[tuple[int, int], tuple[str, str]] = {}
        keys = [str(i) for i in item_ids]
        for start in range(0, len(keys), 1000):
            rows = self.session.exec(
                select(
                    AuditLog.entity_key, AuditLog.action, AuditLog.actor, AuditLog.details
                ).where(
                    AuditLog.entity == MOVE_ENTITY,
                    col(AuditLog.entity_key).in_(keys[start : start + 1000]),
                )
            )
            for key, action, login, details in rows:
                seq = (details or {}).get("seq")
                if seq is not None:
                    out[(int(key), int(seq))] = (action, login)
        return out

    def recent_events(self, item_ids: Sequence[int], *, limit: int) -> list[RectificationEvent]:
        """The newest history events of these items, newest first."""
        if not item_ids:
            return []
        return list(
            self.session.exec(
                select(RectificationEvent)
                .where(col(RectificationEvent.item_id).in_(list(item_ids)))
                .order_by(col(RectificationEvent.on_date).desc(), col(RectificationEvent.id).desc())
                .limit(limit)
            )
        )

    def current_version(self, item_id: int) -> int:
        return self.session.exec(
            select(RectificationItem.version).where(RectificationItem.id == item_id)
        ).one()

    def alternative_lapsed(self, jurisdiction_id: int, item_id: int) -> bool:
        """Whether the office recorded the item's agreed alternative as lapsed (an audit row,
        which the next re-check reads)."""
        return (
            self.session.exec(
                select(AuditLog.id).where(
                    AuditLog.jurisdiction_id == jurisdiction_id,
                    AuditLog.action == "alternative_lapsed",
                    AuditLog.entity == ITEM_ENTITY,
                    AuditLog.entity_key == str(item_id),
                )
            ).first()
            is not None
        )

    # ------------------------------------------------------------------ writes

    def save(self, new: ItemState, *, seen_version: int) -> bool:
        """Write the state a move computed, if the row still has `seen_version` (it becomes
        seen_version + 1); False when someone else changed it since it was read."""
        ri = RectificationItem
        result = self.session.execute(
            update(ri)
            .where(col(ri.id) == new.id, col(ri.version) == seen_version)
            .values(
                status=new.status.value,
                deadline=new.deadline,
                last_response_on=new.last_response_on,
                escalation_level=new.escalation_level.value if new.escalation_level else None,
                extensions=new.extensions,
                explanation=new.explanation,
                alternative=new.alternative,
                closed_on=new.closed_on,
                extension_request_days=new.extension_request_days,
                extension_requested_on=new.extension_requested_on,
                extension_request_reason=new.extension_request_reason,
                version=col(ri.version) + 1,
                updated_at=utc_now(),
            )
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def add_event(
        self,
        *,
        item_id: int,
        from_status: RectificationStatus,
        to_status: RectificationStatus,
        actor: str,
        on_date: date,
        reason: str,
        evidence: list[str],
    ) -> int:
        """Append one history event (seq = last + 1) and return its seq."""
        last = self.session.exec(
            select(func.coalesce(func.max(RectificationEvent.seq), 0)).where(
                RectificationEvent.item_id == item_id
            )
        ).one()
        seq = int(last) + 1
        self.session.add(
            RectificationEvent(
                item_id=item_id,
                seq=seq,
                from_status=from_status,
                to_status=to_status,
                actor=actor,
                on_date=on_date,
                reason=reason,
                evidence=evidence,
                at=utc_now(),
            )
        )
        self.session.flush()
        return seq
