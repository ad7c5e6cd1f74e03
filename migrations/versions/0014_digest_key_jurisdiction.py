"""digest keys carry their jurisdiction: digest:<day>:<tag> becomes digest:<jurisdiction id>:<day>:<tag>

In a province-wide installation the counties share recipient tags (`leadership`, a section's tag,
a department code every county has): with the day and the tag alone, the second county's digest of
a day collided with the first's and was stored as its "supplement" (key:2, ...). Existing keys
(and their supplements) are rewritten in place, so a tracker run on the day of the upgrade finds
the morning's digest under its new key and sends nothing twice.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# an old key: 'digest:' and a date (YYYY-MM-DD); a new one has the jurisdiction's id before it
OLD = "digest:____-__-__:%"


def upgrade() -> None:
    op.execute(
        "UPDATE notification SET idempotency_key = "
        "'digest:' || CAST(jurisdiction_id AS VARCHAR) || ':' || substr(idempotency_key, 8) "
        f"WHERE idempotency_key LIKE '{OLD}'"
    )


def downgrade() -> None:
    prefix = "'digest:' || CAST(jurisdiction_id AS VARCHAR) || ':'"
    op.execute(
        "UPDATE notification SET idempotency_key = "
        f"'digest:' || substr(idempotency_key, length({prefix}) + 1) "
        f"WHERE idempotency_key LIKE {prefix} || '____-__-__:%'"
    )
