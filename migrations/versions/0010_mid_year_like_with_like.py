"""indicators: a same-period prior value (同期值), a mid-year target (年中目标) and whether the
value is cumulative (累计指标), so the mid-year assessment compares like with like

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN, no table rebuild: existing indicators have none of the three.
    op.add_column("indicator", sa.Column("same_period_value", sa.Float(), nullable=True))
    op.add_column("indicator", sa.Column("mid_year_target", sa.Float(), nullable=True))
    op.add_column("indicator", sa.Column("cumulative", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("indicator") as batch:
        batch.drop_column("cumulative")
        batch.drop_column("mid_year_target")
        batch.drop_column("same_period_value")
