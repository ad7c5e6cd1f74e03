"""Alembic from the program: `bihuan db upgrade` / `downgrade` without an alembic.ini."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bihuan.runtime import shipped

# migrations/ in a checkout; bihuan/_migrations in an installed wheel
MIGRATIONS = shipped("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from bihuan.db import get_engine

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def require_current(url: str) -> None:
    """Stop with a clear message when the database's schema is missing or behind the code."""
    from bihuan.errors import UserError

    have, want = current(url), head()
    if have != want:
        state = "has no bihuan schema" if have is None else f"is at schema revision {have}"
        raise UserError(
            f"the database {url.split('@')[-1]} {state}, the code needs {want}; "
            "run `bihuan db upgrade` (with the same --db) first"
        )


def downgrade_plan(url: str, revision: str) -> list[tuple[str, str]]:
    """The revisions a downgrade to `revision` would revert, newest first, with their titles."""
    from alembic.script import ScriptDirectory

    have = current(url)
    if have is None:
        return []
    script = ScriptDirectory.from_config(alembic_config(url))
    if revision.startswith("-"):
        steps = int(revision[1:] or 1)
        revs = list(script.iterate_revisions(have, "base"))[:steps]
    else:
        target = None if revision == "base" else revision
        revs = [r for r in script.iterate_revisions(have, target or "base") if r.revision != target]
    return [(r.revision, (r.doc or "").strip().splitlines()[0]) for r in revs]
