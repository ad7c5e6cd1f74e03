"""audit log is append-only: triggers reject UPDATE and DELETE

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "auditlog is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION auditlog_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}'; END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER auditlog_no_change BEFORE UPDATE OR DELETE ON auditlog "
            "FOR EACH ROW EXECUTE FUNCTION auditlog_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER auditlog_no_{verb.lower()} BEFORE {verb} ON auditlog "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS auditlog_no_change ON auditlog")
        op.execute("DROP FUNCTION IF EXISTS auditlog_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS auditlog_no_update")
        op.execute("DROP TRIGGER IF EXISTS auditlog_no_delete")
