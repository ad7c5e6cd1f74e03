"""tamper-evident audit log: a hash chain per jurisdiction, its head and daily checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base
from bihuan.core.auditchain import GENESIS, row_hash

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "auditlog is append-only"
CHECKPOINT_MESSAGE = "auditcheckpoint is append-only"


def _triggers(table: str, message: str, *, create: bool) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        function = f"{table}_append_only"
        if create:
            op.execute(
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ "
                f"BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        return
    for verb in ("UPDATE", "DELETE"):
        name = f"{table}_no_{verb.lower()}"
        if create:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _aware(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, column in (
        ("chain_id", "INTEGER NOT NULL DEFAULT 0"),
        ("seq", "INTEGER NOT NULL DEFAULT 0"),
        ("prev_hash", "VARCHAR(64) NOT NULL DEFAULT ''"),
        ("row_hash", "VARCHAR(64) NOT NULL DEFAULT ''"),
    ):
        # ADD COLUMN in place on both databases: a batch rebuild would drop the triggers
        op.execute(f"ALTER TABLE auditlog ADD COLUMN {name} {column}")
    op.create_table(
        "audithead",
        sa.Column("chain_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "auditcheckpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "seq"),
    )
    op.create_index("ix_auditcheckpoint_chain_id", "auditcheckpoint", ["chain_id"])
    _triggers("auditcheckpoint", CHECKPOINT_MESSAGE, create=True)

    # Chain the rows written before this revision, in the order they were written.
    _triggers("auditlog", MESSAGE, create=False)
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS auditlog_append_only()")
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, jurisdiction_id, at, user_id, actor, action, entity, entity_key, details "
            "FROM auditlog ORDER BY id"
        )
    ).all()
    heads: dict[int, tuple[int, str]] = {}
    for r in rows:
        chain = r.jurisdiction_id or 0
        seq, prev = heads.get(chain, (0, GENESIS))
        seq += 1
        details = r.details if isinstance(r.details, dict) else json.loads(r.details or "{}")
        hashed = row_hash(
            chain_id=chain,
            seq=seq,
            at=_aware(r.at),
            jurisdiction_id=r.jurisdiction_id,
            user_id=r.user_id,
            actor=r.actor,
            action=r.action,
            entity=r.entity,
            entity_key=r.entity_key,
            details=details,
            prev_hash=prev,
        )
        bind.execute(
            sa.text(
                "UPDATE auditlog SET chain_id = :c, seq = :s, prev_hash = :p, row_hash = :h "
                "WHERE id = :id"
            ),
            {"c": chain, "s": seq, "p": prev, "h": hashed, "id": r.id},
        )
        heads[chain] = (seq, hashed)
    now = datetime.now(UTC)
    for chain, (seq, hashed) in heads.items():
        bind.execute(
            sa.text(
                "INSERT INTO audithead (chain_id, seq, row_hash, updated_at) "
                "VALUES (:c, :s, :h, :t)"
            ),
            {"c": chain, "s": seq, "h": hashed, "t": now},
        )
    op.create_index("ux_auditlog_chain_seq", "auditlog", ["chain_id", "seq"], unique=True)
    _triggers("auditlog", MESSAGE, create=True)


def downgrade() -> None:
    _triggers("auditlog", MESSAGE, create=False)
    op.drop_index("ux_auditlog_chain_seq", table_name="auditlog")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("auditlog", recreate="always") as batch_op:
            for name in ("row_hash", "prev_hash", "seq", "chain_id"):
                batch_op.drop_column(name)
    else:
        for name in ("row_hash", "prev_hash", "seq", "chain_id"):
            op.drop_column("auditlog", name)
    _triggers("auditlog", MESSAGE, create=True)
    _triggers("auditcheckpoint", CHECKPOINT_MESSAGE, create=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS auditcheckpoint_append_only()")
    op.drop_index("ix_auditcheckpoint_chain_id", table_name="auditcheckpoint")
    op.drop_table("auditcheckpoint")
    op.drop_table("audithead")
