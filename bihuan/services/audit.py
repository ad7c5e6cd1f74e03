"""Audit use cases (审计): verify the hash chains, read the log, record checkpoints."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from bihuan.core.access import Actor, Permission, Target
from bihuan.core.auditchain import verify_chain
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork


class ChainCheck(BaseModel):
    chain_id: int
    jurisdiction: str  # the jurisdiction's code, or "(installation)" for chain 0
    rows: int
    last_seq: int
    head_seq: int
    checkpoints: int
    ok: bool
    problem: str | None = None
    problem_kind: str | None = None
    problem_seq: int | None = None
    problem_row_id: int | None = None


class VerifyResult(BaseModel):
    ok: bool
    chains: list[ChainCheck]


class AuditEntryView(BaseModel):
    id: int
    at: datetime
    jurisdiction: str | None
    user_id: int | None
    actor: str
    action: str
    entity: str
    entity_key: str
    details: dict[str, object]
    seq: int


class AuditPage(BaseModel):
    total: int
    shown: int
    entries: list[AuditEntryView]


def _chain_of(uow: UnitOfWork, actor: Actor, jurisdiction: str | None) -> int | None:
    """The chain a user may read: one jurisdiction's, or every chain for installation-wide users."""
    if jurisdiction is not None:
        jur = uow.jurisdictions.require(jurisdiction)
        return jur.id
    return None if actor.jurisdiction_id is None else actor.jurisdiction_id


def verify(uow: UnitOfWork, actor: Actor, jurisdiction: str | None = None) -> VerifyResult:
    """Walk every chain the user may read and report the first broken row of each."""
    only = _chain_of(uow, actor, jurisdiction)
    require(
        uow,
        actor,
        Permission.READ_AUDIT,
        Target(jurisdiction_id=only),
        action="verify the audit log",
    )
    names = {j.id: j.code for j in uow.jurisdictions.all()}
    checks = []
    for chain_id, head_seq, head_hash in uow.audit_chain.chains(chain_id=only):
        checkpoints = uow.audit_chain.checkpoints(chain_id)
        report = verify_chain(
            chain_id,
            uow.audit_chain.rows(chain_id),
            head=(head_seq, head_hash) if head_seq >= 0 else (-1, "missing"),
            checkpoints=checkpoints,
        )
        first = report.problems[0] if report.problems else None
        checks.append(
            ChainCheck(
                chain_id=chain_id,
                jurisdiction=names.get(chain_id, "(installation)")
                if chain_id
                else "(installation)",
                rows=report.rows,
                last_seq=report.last_seq,
                head_seq=head_seq,
                checkpoints=len(checkpoints),
                ok=report.ok,
                problem=first.message if first else None,
                problem_kind=first.kind if first else None,
                problem_seq=first.seq if first else None,
                problem_row_id=first.row_id if first else None,
            )
        )
    return VerifyResult(ok=all(c.ok for c in checks), chains=checks)


def record_checkpoint(uow: UnitOfWork, actor: Actor, jurisdiction: str, as_of: date) -> int | None:
    """Copy the jurisdiction's chain head into the checkpoints (the daily tracker does this, so
    a truncation of the log is noticed even if the head row is rewritten)."""
    jur = uow.jurisdictions.require(jurisdiction)
    require(
        uow,
        actor,
        Permission.RUN_CYCLE,
        Target(jurisdiction_id=jur.id),
        action="record an audit checkpoint",
    )
    assert jur.id is not None
    head = uow.audit_chain.record_checkpoint(jur.id)
    return head[0] if head else None


def read_log(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str | None = None,
    *,
    limit: int = 200,
    action: str | None = None,
    entity: str | None = None,
    key: str | None = None,
) -> AuditPage:
    """The newest audit entries (auditors and admins), with the total count."""
    only = _chain_of(uow, actor, jurisdiction)
    require(
        uow, actor, Permission.READ_AUDIT, Target(jurisdiction_id=only), action="read the audit log"
    )
    names = {j.id: j.code for j in uow.jurisdictions.all()}
    total, rows = uow.audit_chain.entries(
        chain_id=only, limit=limit, action=action, entity=entity, key=key
    )
    return AuditPage(
        total=total,
        shown=len(rows),
        entries=[
            AuditEntryView(
                id=r.id or 0,
                at=r.at,
                jurisdiction=names.get(r.jurisdiction_id) if r.jurisdiction_id else None,
                user_id=r.user_id,
                actor=r.actor,
                action=r.action,
                entity=r.entity,
                entity_key=r.entity_key,
                details=dict(r.details or {}),
                seq=r.seq,
            )
            for r in rows
        ],
    )
