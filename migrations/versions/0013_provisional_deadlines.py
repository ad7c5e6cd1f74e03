"""provisional deadlines: the first provisional year (暂定) an item's deadline was counted over

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rectificationitem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline_provisional_from", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rectificationitem", schema=None) as batch_op:
        batch_op.drop_column("deadline_provisional_from")
