"""Backups, restores and the guarded downgrade, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from bihuan.backup import backup, contents, restore
from bihuan.cli import _register_commands, app
from bihuan.db import audit, get_engine, session_scope
from bihuan.errors import UserError
from bihuan.migrate import current, upgrade
from bihuan.services import audit as audit_service
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from tests.conftest import PG_ADMIN_URL
from tests.users import app_for, make_user

_register_commands()
runner = CliRunner()


def fill(url: str, n: int = 5) -> None:
    make_user(url, "root", UserRole.ADMIN)
    with session_scope(url) as s:
        for i in range(n):
            audit(s, actor="root", action="test", entity="x", entity_key=str(i), details={"i": i})


def chain_ok(url: str) -> bool:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        from bihuan.services import identity

        return audit_service.verify(uow, identity.actor_for(uow, "root")).ok


@pytest.fixture
def other_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend to restore into."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    # a fresh database; the dump brings its schema (the source's test schema) with it
    name = f"restore_{uuid.uuid4().hex[:12]}"
    schema = db_url.rsplit("search_path%3D", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_backup_then_restore_round_trips_and_the_chain_verifies(
    db_url: str, other_url: str, tmp_path: Path
) -> None:
    fill(db_url)
    before = contents(db_url)
    written = backup(db_url, tmp_path / "b" / "bihuan.bak", taken_by="os:tester")
    assert written.path.exists() and written.bytes > 0
    result = restore(written.path, other_url, replace=False, var_dir=tmp_path)
    assert result.safety_copy is None
    after = contents(other_url)
    assert after.revision == current(db_url)
    assert after.rows["auditlog"] == before.rows["auditlog"] + 1  # plus "backup_written"
    assert chain_ok(other_url)


def test_restore_over_data_needs_yes_and_keeps_a_safety_copy(db_url: str, tmp_path: Path) -> None:
    fill(db_url)
    written = backup(db_url, tmp_path / "first.bak")
    with session_scope(db_url) as s:
        audit(s, actor="root", action="later", entity="x", entity_key="after-backup")
    with pytest.raises(UserError, match="holds data"):
        restore(written.path, db_url, replace=False, var_dir=tmp_path)
    result = restore(written.path, db_url, replace=True, var_dir=tmp_path)
    assert result.safety_copy is not None and result.safety_copy.exists()
    with session_scope(db_url) as s:
        assert s.execute(text("SELECT count(*) FROM auditlog WHERE action = 'later'")).scalar() == 0
    assert chain_ok(db_url)


def test_downgrade_refuses_without_yes_and_without_a_backup(sqlite_db: str, tmp_path: Path) -> None:
    fill(sqlite_db)
    plan = runner.invoke(app, ["db", "downgrade", "--db", sqlite_db])
    assert plan.exit_code == 1 and "would revert" in plan.output and "auditlog" in plan.output
    assert current(sqlite_db) is not None and "--yes" in plan.output
    no_backup = runner.invoke(app, ["db", "downgrade", "--db", sqlite_db, "--yes"])
    assert no_backup.exit_code == 1 and "--backup FILE" in no_backup.output
    head = current(sqlite_db)
    out = tmp_path / "pre-downgrade.db"
    done = runner.invoke(app, ["db", "downgrade", "--db", sqlite_db, "--yes", "--backup", str(out)])
    assert done.exit_code == 0, done.output
    assert out.exists() and current(sqlite_db) != head


def test_cli_backup_and_restore(sqlite_db: str, tmp_path: Path) -> None:
    fill(sqlite_db)
    out = tmp_path / "x.db"
    result = runner.invoke(app, ["backup", "--out", str(out), "--db", sqlite_db])
    assert result.exit_code == 0, result.output
    target = tmp_path / "new.db"
    result = runner.invoke(app, ["restore", str(out), "--db", str(target)])
    assert result.exit_code == 0, result.output
    assert "bihuan audit verify" in result.output
    upgrade(f"sqlite:///{target}")  # already at head: nothing to do
    assert chain_ok(f"sqlite:///{target}")
