"""breakdown hash: a re-run compares a stored score's breakdown by its hash, not its JSON

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN, no table rebuild: a score stored before has no hash, so the next run of its
    # phase rewrites it once, in the compact form (numbers and codes, no prose).
    op.add_column(
        "departmentassessment",
        sa.Column(
            "breakdown_hash",
            sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
            server_default="",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("departmentassessment") as batch:
        batch.drop_column("breakdown_hash")
