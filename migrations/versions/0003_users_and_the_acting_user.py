"""users (账号) and the acting user of every audit row

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_MESSAGE = "auditlog is append-only"


def _sqlite_audit_triggers(create: bool) -> None:
    for verb in ("UPDATE", "DELETE"):
        name = f"auditlog_no_{verb.lower()}"
        if create:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON auditlog "
                f"BEGIN SELECT RAISE(ABORT, '{AUDIT_MESSAGE}'); END"
            )
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    op.create_table(
        "useraccount",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("section", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["department.id"]),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdiction.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    op.create_index("ix_useraccount_department_id", "useraccount", ["department_id"])
    op.create_index("ix_useraccount_jurisdiction_id", "useraccount", ["jurisdiction_id"])
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN in place: a batch rebuild of auditlog would drop its append-only triggers
        op.execute("ALTER TABLE auditlog ADD COLUMN user_id INTEGER REFERENCES useraccount (id)")
    else:
        op.add_column("auditlog", sa.Column("user_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "auditlog_user_id_fkey", "auditlog", "useraccount", ["user_id"], ["id"]
        )
    op.create_index("ix_auditlog_user_id", "auditlog", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_auditlog_user_id", table_name="auditlog")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column that references another table: rebuild the table, and
        # put the append-only triggers back on the rebuilt one
        _sqlite_audit_triggers(create=False)
        with op.batch_alter_table("auditlog", recreate="always") as batch_op:
            batch_op.drop_column("user_id")
        _sqlite_audit_triggers(create=True)
    else:
        op.drop_constraint("auditlog_user_id_fkey", "auditlog", type_="foreignkey")
        op.drop_column("auditlog", "user_id")
    op.drop_index("ix_useraccount_jurisdiction_id", table_name="useraccount")
    op.drop_index("ix_useraccount_department_id", table_name="useraccount")
    op.drop_table("useraccount")
