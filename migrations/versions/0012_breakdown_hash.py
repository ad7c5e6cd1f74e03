"""breakdown hash: a re-run compares a stored score's breakdown by its hash, not its JSON;
indexes by (phase or cycle, department) for loading a scoring batch's inputs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
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
    # A scoring batch loads its departments' rows of the phase (or cycle): with only one-column
    # indexes SQLite walks the whole phase's rows for every batch.
    for name, tbl, columns in INDEXES:
        op.create_index(name, tbl, columns)


INDEXES = (
    ("ix_indicator_cycle_department", "indicator", ["cycle_id", "department_id"]),
    ("ix_townrating_phase_department", "townrating", ["phase_id", "department_id"]),
    ("ix_peerrating_phase_ratee", "peerrating", ["phase_id", "ratee_department_id"]),
    ("ix_publicrating_phase_department", "publicrating", ["phase_id", "department_id"]),
    ("ix_hotlinecase_cycle_department", "hotlinecase", ["cycle_id", "department_id"]),
)


def downgrade() -> None:
    for name, tbl, _columns in INDEXES:
        op.drop_index(name, table_name=tbl)
    with op.batch_alter_table("departmentassessment") as batch:
        batch.drop_column("breakdown_hash")
