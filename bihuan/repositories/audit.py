"""The audit log (审计日志): every change and every refusal, with the user who made it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from bihuan.core.access import Actor
from bihuan.core.auditchain import ChainRow
from bihuan.db import audit, dialect_insert, table
from models import AuditCheckpoint, AuditHead, AuditLog, utc_now


class AuditRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        actor: Actor | None,
        *,
        action: str,
        entity: str,
        key: str,
        jurisdiction_id: int | None = None,
        details: dict[str, Any] | None = None,
        login: str | None = None,
    ) -> None:
        """Append one row in the unit of work's transaction. `actor` None is only for what no
        user did (a failed sign-in of an unknown login); `login` then names who was tried."""
        audit(
            self.session,
            actor=actor.login if actor else (login or "?"),
            user_id=actor.user_id if actor else None,
            action=action,
            entity=entity,
            entity_key=key,
            jurisdiction_id=jurisdiction_id,
            details=details,
        )


class AuditChainRepo:
    """Reading the audit log's hash chains for verification, and recording checkpoints."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def chains(self, *, chain_id: int | None = None) -> list[tuple[int, int, str]]:
        """(chain id, head seq, head hash) of every chain (or of one)."""
        stmt = orm_select(AuditHead).order_by(col(AuditHead.chain_id))
        if chain_id is not None:
            stmt = stmt.where(AuditHead.chain_id == chain_id)
        heads = {h.chain_id: (h.seq, h.row_hash) for h in self.session.exec(stmt)}
        # a chain whose head row was deleted still has rows: verify those too
        t = table(AuditLog)
        logged = select(t.c.chain_id).distinct()
        if chain_id is not None:
            logged = logged.where(t.c.chain_id == chain_id)
        for (cid,) in self.session.execute(logged):
            heads.setdefault(int(cid), (-1, ""))
        return [(cid, seq, h) for cid, (seq, h) in sorted(heads.items())]

    def rows(self, chain_id: int, batch: int = 5000) -> Iterator[ChainRow]:
        """The chain's rows in seq order, streamed in batches (a province's log is large)."""
        t = table(AuditLog)
        after = -1
        while True:
            chunk = self.session.execute(
                select(t)
                .where(t.c.chain_id == chain_id, t.c.seq > after)
                .order_by(t.c.seq)
                .limit(batch)
            ).all()
            for r in chunk:
                yield ChainRow(
                    id=r.id,
                    chain_id=r.chain_id,
                    seq=r.seq,
                    at=r.at,
                    jurisdiction_id=r.jurisdiction_id,
                    user_id=r.user_id,
                    actor=r.actor,
                    action=r.action,
                    entity=r.entity,
                    entity_key=r.entity_key,
                    details=r.details or {},
                    prev_hash=r.prev_hash,
                    row_hash=r.row_hash,
                )
            if len(chunk) < batch:
                return
            after = chunk[-1].seq

    def checkpoints(self, chain_id: int) -> list[tuple[int, str]]:
        return [
            (c.seq, c.row_hash)
            for c in self.session.exec(
                orm_select(AuditCheckpoint).where(AuditCheckpoint.chain_id == chain_id)
            )
        ]

    def record_checkpoint(self, chain_id: int) -> tuple[int, str] | None:
        """Copy the chain's current head into the checkpoints (once per head)."""
        head = self.session.get(AuditHead, chain_id)
        if head is None or head.seq == 0:
            return None
        t = table(AuditCheckpoint)
        self.session.execute(
            dialect_insert(self.session, t)
            .values(chain_id=chain_id, seq=head.seq, row_hash=head.row_hash, at=utc_now())
            .on_conflict_do_nothing(index_elements=["chain_id", "seq"])
        )
        return head.seq, head.row_hash

    def entries(
        self,
        *,
        chain_id: int | None,
        limit: int,
        action: str | None = None,
        entity: str | None = None,
        key: str | None = None,
    ) -> tuple[int, list[AuditLog]]:
        """The newest entries first, and the total count of what matches."""
        stmt = orm_select(AuditLog)
        t = table(AuditLog)
        count = select(func.count()).select_from(t)
        for name, value in (
            ("chain_id", chain_id),
            ("action", action),
            ("entity", entity),
            ("entity_key", key),
        ):
            if value is not None:
                stmt = stmt.where(getattr(AuditLog, name) == value)
                count = count.where(t.c[name] == value)
        total = int(self.session.execute(count).scalar_one())
        rows = list(self.session.exec(stmt.order_by(col(AuditLog.id).desc()).limit(limit)))
        return total, rows
