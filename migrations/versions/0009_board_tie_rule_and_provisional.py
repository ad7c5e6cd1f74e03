"""the board keeps the tie rule (并列名次规则) that placed each department below an equal score,
and whether it is provisional (暂定: computed before the year-end assessment)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("boardentry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tie_rule", sa.String(length=24), nullable=True))
        batch_op.add_column(
            sa.Column("provisional", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("boardentry", schema=None) as batch_op:
        batch_op.drop_column("provisional")
        batch_op.drop_column("tie_rule")
