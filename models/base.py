"""Shared column types and helpers: UTC timestamps, string enums with Chinese labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator

from bihuan.clock import BUSINESS_TZ, business_today, utc_now

__all__ = ["BUSINESS_TZ", "LABELS", "UTCDateTime", "business_today", "enum_col", "utc_now"]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps stored in UTC, read back aware on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use models.base.utc_now() or an aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_col(length: int = 24) -> Any:
    """Enums are stored as plain strings (portable, no PostgreSQL ENUM types to migrate)."""
    return String(length)


class _AllLabels(dict[str, str]):
    """Value -> Chinese label across every enum of bihuan.vocab, for code that holds only the
    stored string. Prefer `Enum.X.label` or `bihuan.vocab.label(value, Enum)`."""

    def get(self, key: str, default: str | None = None) -> str:  # type: ignore[override]
        from bihuan.vocab import label

        text = label(key)
        return text if text != key or default is None else default


LABELS = _AllLabels()
