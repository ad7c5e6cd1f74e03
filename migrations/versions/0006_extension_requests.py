"""rectification items: a department's pending extension request (申请延期); an index of the
outbox by department and kind (the portal counts each item's reminder markers)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN, no table rebuild: existing items have no request pending.
    op.add_column(
        "rectificationitem", sa.Column("extension_request_days", sa.Integer(), nullable=True)
    )
    op.add_column(
        "rectificationitem", sa.Column("extension_requested_on", sa.Date(), nullable=True)
    )
    op.add_column(
        "rectificationitem",
        sa.Column(
            "extension_request_reason",
            sqlmodel.sql.sqltypes.AutoString(length=1000),
            nullable=False,
            server_default="",
        ),
    )
    op.create_index("ix_notification_department_kind", "notification", ["department_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_notification_department_kind", table_name="notification")
    with op.batch_alter_table("rectificationitem") as batch:
        batch.drop_column("extension_request_reason")
        batch.drop_column("extension_requested_on")
        batch.drop_column("extension_request_days")
