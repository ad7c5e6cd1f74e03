"""Shared fixtures: throwaway databases on SQLite and on the local PostgreSQL, migrated."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("BIHUAN_PEER_TOKEN_SECRET", "test-secret")
# Commands act as `--as LOGIN` without a password prompt, unless a test asks for one.
os.environ.setdefault("BIHUAN_CLI_REQUIRE_PASSWORD", "false")

from bihuan.db import get_engine
from bihuan.migrate import upgrade
from bihuan.settings import reset_settings

PG_ADMIN_URL = os.environ.get(
    "BIHUAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


def _pg_schema_url() -> Iterator[str]:
    """A fresh schema in the `test` database, so tests never see each other's rows."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bihuan.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_schema_url()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend, not yet migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bihuan.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A migrated database on each backend."""
    upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
def sqlite_db(sqlite_url: str) -> str:
    """A migrated SQLite database (for tests that need only one backend)."""
    upgrade(sqlite_url)
    return sqlite_url
