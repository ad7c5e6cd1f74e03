"""Backups and restores (备份与恢复) of a bihuan database, and what a database holds.

SQLite goes through its online backup API (a consistent copy while others read and write);
PostgreSQL through `pg_dump` / `pg_restore` (custom format). A restore never overwrites a
database that holds data without being told to, and first copies what it replaces.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, inspect, select

from bihuan.clock import utc_now
from bihuan.db import get_engine
from bihuan.errors import UserError

PG_CLIENT = "postgresql-client"


@dataclass(frozen=True)
class Contents:
    """What a database holds: its schema revision and the rows of each non-empty table."""

    revision: str | None
    rows: dict[str, int]

    @property
    def empty(self) -> bool:
        return not any(self.rows.values())

    @property
    def audit_rows(self) -> int:
        return self.rows.get("auditlog", 0)

    def describe(self) -> str:
        if self.revision is None and self.empty:
            return "an empty database"
        top = sorted(self.rows.items(), key=lambda kv: -kv[1])[:6]
        listed = ", ".join(f"{name} {count}" for name, count in top if count)
        return f"schema revision {self.revision}, rows: {listed or 'none'}"


def contents(url: str) -> Contents:
    from bihuan import migrate

    engine = get_engine(url)
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    rows: dict[str, int] = {}
    if names:
        from sqlalchemy import table as sa_table

        with engine.connect() as conn:
            for name in names:
                rows[name] = int(
                    conn.execute(select(func.count()).select_from(sa_table(name))).scalar_one()
                )
    return Contents(migrate.current(url), rows)


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("sqlite:///", 1)[-1]
    return None if not path or path == ":memory:" else Path(path)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    kind: str
    contents: Contents


def backup(url: str, out: Path, *, taken_by: str | None = None) -> BackupResult:
    """Write a consistent backup of the database to `out` (never half a file). With
    `taken_by`, the backup first records itself in the audit log (a schema being present), so
    the copy ends with the row that says who took it."""
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    held = contents(url)
    if taken_by and held.revision is not None:
        from bihuan.db import audit, session_scope

        with session_scope(url) as session:
            audit(
                session,
                actor=taken_by,
                action="backup_written",
                entity="database",
                entity_key=out.name,
                details={"path": str(out)},
            )
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise UserError(f"{path}: no such database file")
        src = sqlite3.connect(path)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
            src.close()
        if check != "ok":
            tmp.unlink(missing_ok=True)
            raise UserError(f"{out}: the copy failed its integrity check ({check}); nothing kept")
        kind = "sqlite"
    else:
        args, env = _pg_target(url)
        _pg(["pg_dump", "--format=custom", f"--file={tmp}", *args], "pg_dump", env)
        kind = "postgresql"
    tmp.replace(out)
    return BackupResult(out, out.stat().st_size, kind, held)


@dataclass(frozen=True)
class RestoreResult:
    restored_from: Path
    safety_copy: Path | None
    contents: Contents


def restore(source: Path, url: str, *, replace: bool, var_dir: Path) -> RestoreResult:
    """Put a backup in place of the database. A database that holds data is only replaced
    with `replace=True`, and only after a safety copy of it was written (var/backups/)."""
    source = source.expanduser().resolve()
    if not source.is_file():
        raise UserError(f"{source}: no such backup file")
    before = contents(url) if _exists(url) else Contents(None, {})
    safety: Path | None = None
    if not before.empty:
        if not replace:
            raise UserError(
                f"the database holds data ({before.describe()}); a restore would replace it. "
                "Run again with --yes to replace it (a safety copy is written first)"
            )
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        safety = backup(url, var_dir / "backups" / f"before-restore-{stamp}{_suffix(url)}").path
    path = sqlite_path(url)
    get_engine(url).dispose()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src:
            head = src.execute("PRAGMA integrity_check").fetchone()[0]
        if head != "ok":
            raise UserError(f"{source}: not a sound SQLite backup ({head}); nothing restored")
        src = sqlite3.connect(source)
        dst = sqlite3.connect(path)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        # the dump already holds just its schema (and the statement creating it)
        args, env = _pg_target(url, scoped=False)
        _pg(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", *args, str(source)],
            "pg_restore",
            env,
        )
    get_engine(url).dispose()
    return RestoreResult(source, safety, contents(url))


def default_backup_path(url: str, var_dir: Path) -> Path:
    stamp = utc_now().strftime("%Y%m%d-%H%M%S")
    return var_dir / "backups" / f"bihuan-{stamp}{_suffix(url)}"


def _suffix(url: str) -> str:
    return ".db" if sqlite_path(url) is not None else ".dump"


def _exists(url: str) -> bool:
    path = sqlite_path(url)
    return path.exists() if path is not None else True


def _pg_target(url: str, *, scoped: bool = True) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore arguments for a SQLAlchemy PostgreSQL URL (password via the
    environment, never on the command line; a search_path option restricts to that schema)."""
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    query = parse_qs(parts.query)
    args = [f"--dbname={parts.path.lstrip('/')}", f"--host={parts.hostname or 'localhost'}"]
    if parts.port:
        args.append(f"--port={parts.port}")
    if parts.username:
        args.append(f"--username={unquote(parts.username)}")
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)  # the child's environment, not argv
    for option in query.get("options", []) if scoped else []:
        if "search_path=" in unquote(option):
            args.append(f"--schema={unquote(option).split('search_path=', 1)[1]}")
    return args, env


def _pg(argv: list[str], program: str, env: dict[str, str]) -> None:
    if shutil.which(program) is None:
        raise UserError(
            f"{program} is not installed: install the PostgreSQL client tools "
            f"(Debian: apt-get install {PG_CLIENT}), matching the server's version"
        )
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["failed"]
        raise UserError(f"{program} failed: {reason[0]}")
