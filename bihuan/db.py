"""The database adapter: engines (SQLite in WAL mode or PostgreSQL), sessions, bulk upserts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, insert, update
from sqlmodel import Session, SQLModel, select

import models
from models.audit import AuditHead, AuditLog
from models.base import utc_now
from models.org import Jurisdiction

SQLITE_BUSY_TIMEOUT_MS = 30_000
READONLY = "bihuan_readonly"  # execution option of read-only units of work


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class EncodedJSON(str):
    """JSON text already encoded for a JSON column (a stored breakdown is encoded once, for its
    hash and for the column): written as it is, not encoded again."""


def _dumps(value: Any) -> str:
    if isinstance(value, EncodedJSON):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=_json_default)


@lru_cache(maxsize=16)
def get_engine(url: str) -> Engine:
    """One engine per URL. SQLite: WAL, busy timeout, foreign keys, BEGIN IMMEDIATE for writes."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=_dumps,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            # Pooled: opening a SQLite connection (and the WAL checkpoint when the last one
            # closes) costs ~7 ms, which a dispatcher with two short transactions per message
            # would pay every time.
            pool_size=5,
            max_overflow=10,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself (pysqlite's own transaction handling is off) so
            # that a write transaction takes the lock up front instead of failing half-way.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers take the write lock up front (a deferred transaction that reads, then
            # writes, can fail half-way with "database is locked"); readers begin deferred and
            # read their WAL snapshot without ever waiting for a writer.
            if conn.get_execution_options().get(READONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, json_serializer=_dumps, pool_pre_ping=True)


def read_engine(url: str) -> Engine:
    """The same engine and pool, for transactions that only read (deferred BEGIN on SQLite)."""
    return get_engine(url).execution_options(**{READONLY: True})


@contextmanager
def session_scope(url: str, *, readonly: bool = False) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error. Only entry points open one."""
    bind = read_engine(url) if readonly else get_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def create_all(url: str) -> None:
    """For throwaway databases in tests; real installations use `bihuan db upgrade`."""
    models.load_all().metadata.create_all(get_engine(url))


def dialect_insert(session: Session, table: Any) -> Any:
    # imported here: a SQLite command need not load the PostgreSQL dialect (and asyncpg's)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def upsert(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Iterable[str] | None = None,
) -> None:
    """Bulk INSERT ... ON CONFLICT on the natural key: update `update` columns, or do nothing."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    update = list(update) if update is not None else []
    stmt = dialect_insert(session, table)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    # executemany: the statement is compiled once and batched by the driver ("insertmanyvalues");
    # a literal multi-row VALUES clause took ~8 s per 30,000 rows just to compile.
    session.execute(stmt, list(rows))


@dataclass(frozen=True)
class AuditEntry:
    """One row to append to the audit log (see `audit` and `audit_many`)."""

    actor: str
    action: str
    entity: str
    entity_key: str
    jurisdiction_id: int | None = None
    details: dict[str, Any] | None = None
    user_id: int | None = None


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    jurisdiction_id: int | None = None,
    details: dict[str, Any] | None = None,
    user_id: int | None = None,
) -> None:
    """Append one row to the audit log, in the caller's transaction, chained (see
    bihuan/core/auditchain.py)."""
    audit_many(
        session,
        [AuditEntry(actor, action, entity, entity_key, jurisdiction_id, details, user_id)],
    )


def audit_many(session: Session, entries: Sequence[AuditEntry]) -> None:
    """Append rows to the audit log in one bulk insert, each chained to the one before.

    The chain's head row is locked first (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write
    transactions are serialised anyway), so two transactions never append to one chain at once.
    """
    from bihuan.core.auditchain import GENESIS, row_hash

    if not entries:
        return
    now = utc_now()
    heads: dict[int, tuple[int, str]] = {}
    rows: list[dict[str, Any]] = []
    for entry in entries:
        chain = entry.jurisdiction_id or 0
        if chain not in heads:
            heads[chain] = _lock_head(session, chain, GENESIS)
        seq, prev = heads[chain]
        seq += 1
        details = json.loads(_dumps(entry.details or {}))
        hashed = row_hash(
            chain_id=chain,
            seq=seq,
            at=now,
            jurisdiction_id=entry.jurisdiction_id,
            user_id=entry.user_id,
            actor=entry.actor,
            action=entry.action,
            entity=entry.entity,
            entity_key=entry.entity_key,
            details=details,
            prev_hash=prev,
        )
        rows.append(
            {
                "jurisdiction_id": entry.jurisdiction_id,
                "at": now,
                "user_id": entry.user_id,
                "actor": entry.actor[:100],
                "action": entry.action,
                "entity": entry.entity,
                "entity_key": entry.entity_key[:200],
                "details": details,
                "chain_id": chain,
                "seq": seq,
                "prev_hash": prev,
                "row_hash": hashed,
            }
        )
        heads[chain] = (seq, hashed)
    session.flush()  # ORM rows added earlier in this transaction go first
    session.execute(insert(table(AuditLog)), rows)
    head = table(AuditHead)
    for chain, (seq, hashed) in heads.items():
        session.execute(
            update(head)
            .where(head.c.chain_id == chain)
            .values(seq=seq, row_hash=hashed, updated_at=now)
        )


def _lock_head(session: Session, chain: int, genesis: str) -> tuple[int, str]:
    head = table(AuditHead)
    session.execute(
        dialect_insert(session, head)
        .values(chain_id=chain, seq=0, row_hash=genesis, updated_at=utc_now())
        .on_conflict_do_nothing(index_elements=["chain_id"])
    )
    row = session.execute(
        select(head.c.seq, head.c.row_hash).where(head.c.chain_id == chain).with_for_update()
    ).one()
    return int(row.seq), str(row.row_hash)


def get_jurisdiction(session: Session, code: str) -> Jurisdiction | None:
    return session.exec(select(Jurisdiction).where(Jurisdiction.code == code)).first()


__all__ = [
    "AuditEntry",
    "audit",
    "audit_many",
    "create_all",
    "dialect_insert",
    "get_engine",
    "get_jurisdiction",
    "models",
    "session_scope",
    "upsert",
]


def table(model: type[SQLModel]) -> Table:
    """The Core table of a model, for bulk statements and typed column access (`t.c.x`)."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]
