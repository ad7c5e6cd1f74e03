"""Alembic migrations up and down, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

import models
from bihuan.db import audit, get_engine, session_scope
from bihuan.migrate import current, downgrade, upgrade


def test_upgrade_creates_every_table_then_downgrade_removes_them(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert current(empty_db_url) is not None
    names = set(inspect(get_engine(empty_db_url)).get_table_names())
    assert set(models.metadata.tables) <= names
    downgrade(empty_db_url, "base")
    assert current(empty_db_url) is None
    left = set(inspect(get_engine(empty_db_url)).get_table_names()) - {"alembic_version"}
    assert not (set(models.metadata.tables) & left)
    upgrade(empty_db_url)
    assert set(models.metadata.tables) <= set(inspect(get_engine(empty_db_url)).get_table_names())


def test_schema_matches_models(db_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations describe exactly the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.metadata)
    assert diff == []


def test_audit_log_is_append_only(db_url: str) -> None:
    with session_scope(db_url) as session:
        audit(session, actor="tester", action="test", entity="x", entity_key="1")
    with pytest.raises(Exception, match="append-only"), session_scope(db_url) as session:
        session.execute(text("UPDATE auditlog SET actor = 'someone else'"))
    with pytest.raises(Exception, match="append-only"), session_scope(db_url) as session:
        session.execute(text("DELETE FROM auditlog"))
    with session_scope(db_url) as session:
        assert session.execute(text("SELECT actor FROM auditlog")).scalar_one() == "tester"
