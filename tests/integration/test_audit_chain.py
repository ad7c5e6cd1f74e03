"""The hash-chained audit log on real databases: appends chain, tampering is found, migrations
chain the rows written before them, and `bihuan audit verify` says so with its exit code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from bihuan.db import AuditEntry, audit, audit_many, get_engine, session_scope
from bihuan.migrate import upgrade
from bihuan.services import audit as audit_service
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from tests.users import app_for, make_user

_register_commands()
runner = CliRunner()


def write_rows(url: str, n: int, jurisdiction_id: int | None = None) -> None:
    if not _has(url, "auditroot"):
        make_user(url, "auditroot", UserRole.ADMIN)  # the reader, made before the rows
    with session_scope(url) as s:
        for i in range(n):
            audit(
                s,
                actor="tester",
                action="test",
                entity="x",
                entity_key=str(i),
                jurisdiction_id=jurisdiction_id,
                details={"i": i, "text": "整改"},
            )
        audit_many(
            s, [AuditEntry("tester", "bulk", "x", str(i), jurisdiction_id) for i in range(3)]
        )


def verify(url: str) -> audit_service.VerifyResult:
    admin = make_user(url, "auditroot", UserRole.ADMIN) if not _has(url, "auditroot") else None
    with UnitOfWork(app_for(url), readonly=True) as uow:
        from bihuan.services import identity

        actor = admin or identity.actor_for(uow, "auditroot")
        return audit_service.verify(uow, actor)


def _has(url: str, login: str) -> bool:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        return uow.users.by_login(login) is not None


def test_appends_chain_and_verify_is_green(db_url: str) -> None:
    write_rows(db_url, 5)
    result = verify(db_url)
    assert result.ok, result
    (chain,) = [c for c in result.chains if c.chain_id == 0]
    assert chain.rows == chain.head_seq == chain.last_seq >= 8


@pytest.mark.reliability
def test_an_edited_row_is_named(db_url: str) -> None:
    write_rows(db_url, 4)
    engine = get_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE auditlog DISABLE TRIGGER ALL"))
        else:
            conn.execute(text("DROP TRIGGER auditlog_no_update"))
        conn.execute(text("UPDATE auditlog SET actor = 'forger' WHERE entity_key = '2'"))
    result = verify(db_url)
    assert not result.ok
    (broken,) = [c for c in result.chains if not c.ok]
    assert broken.problem_kind == "altered" and broken.problem_seq == 4  # after the bootstrap row
    assert f"audit row id {broken.problem_row_id} (seq 4" in (broken.problem or "")


@pytest.mark.reliability
def test_truncation_is_found(db_url: str) -> None:
    write_rows(db_url, 6)
    engine = get_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE auditlog DISABLE TRIGGER ALL"))
        else:
            conn.execute(text("DROP TRIGGER auditlog_no_delete"))
        conn.execute(text("DELETE FROM auditlog WHERE seq > 4"))
    result = verify(db_url)
    assert not result.ok
    assert [c.problem_kind for c in result.chains if not c.ok] == ["head"]


def test_the_migration_chains_rows_written_before_it(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0003")
    with get_engine(empty_db_url).begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO auditlog (at, actor, action, entity, entity_key, details) "
                    "VALUES (:at, 'old', 'legacy', 'x', :k, :d)"
                ),
                {"at": f"2026-11-0{i + 1} 08:00:00.000000", "k": str(i), "d": '{"n": 1}'},
            )
    upgrade(empty_db_url)
    write_rows(empty_db_url, 2)
    result = verify(empty_db_url)
    assert result.ok, result
    assert next(c for c in result.chains if c.chain_id == 0).rows >= 3 + 2 + 3


@pytest.mark.reliability
def test_cli_verify_exits_1_after_an_edit_with_sqlite3(sqlite_db: str, tmp_path: Path) -> None:
    write_rows(sqlite_db, 3)
    ok = runner.invoke(app, ["audit", "verify", "--db", sqlite_db, "--as", "auditroot"])
    assert ok.exit_code == 0, ok.output
    assert "完好 ok" in ok.output
    path = sqlite_db.removeprefix("sqlite:///")
    get_engine(sqlite_db).dispose()
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER auditlog_no_update")
    con.execute(
        "UPDATE auditlog SET details = '{\"i\": 99}' WHERE entity_key = '1' AND action = 'test'"
    )
    con.commit()
    con.close()
    bad = runner.invoke(app, ["audit", "verify", "--db", sqlite_db, "--as", "auditroot", "--json"])
    assert bad.exit_code == 1
    assert '"problem_kind": "altered"' in bad.output and '"problem_seq": 3' in bad.output


def test_only_auditors_and_admins_read_it(db_url: str) -> None:
    write_rows(db_url, 1)
    office = make_user(db_url, "wang", UserRole.OFFICE)
    from bihuan.errors import PermissionDenied

    with pytest.raises(PermissionDenied), UnitOfWork(app_for(db_url), readonly=True) as uow:
        audit_service.read_log(uow, office)


def test_concurrent_writers_never_fork_a_chain(db_url: str) -> None:
    """Two processes' worth of writers appending to one chain at once: one link each, in order."""
    from concurrent.futures import ThreadPoolExecutor

    make_user(db_url, "auditroot", UserRole.ADMIN)

    def writer(name: str) -> None:
        for i in range(15):
            with session_scope(db_url) as s:
                audit(s, actor=name, action="race", entity="x", entity_key=str(i))

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(writer, ["a", "b", "c"]))
    result = verify(db_url)
    assert result.ok, result
    assert next(c for c in result.chains if c.chain_id == 0).rows == 1 + 45
