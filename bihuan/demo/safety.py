"""The demo's guard: it wipes a database only when that database is new, empty, or holds the
demo county and nothing else (issue 10.1: a county's ledger was once lost to `bihuan demo`).

A demo database carries a marker (a JobState row `demo` of the demo's jurisdiction, written when
the demo creates it). "The demo county alone" means: the schema is bihuan's, the only
jurisdiction is the demo's and it carries the marker, and every user is one the demo makes.
Anything else is refused with what the database holds, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, inspect, select

from bihuan.db import get_engine, table
from bihuan.errors import UserError
from models import JobState, Jurisdiction, User

MARKER_JOB = "demo"
MARKER_VALUE = "bihuan-demo-county"
SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Verdict:
    wipe: bool  # False: the database is new or empty, nothing to wipe
    reason: str


def check_sqlite_file(path: Path) -> Verdict:
    if not path.exists():
        return Verdict(False, "new")
    size = path.stat().st_size
    if size == 0:
        return Verdict(True, "empty file")
    with path.open("rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if head != SQLITE_HEADER:
        raise UserError(
            f"{path} is not a SQLite database ({size:,} bytes of something else); the demo "
            "will not overwrite it. Give the demo another --db, or move that file away"
        )
    return Verdict(True, "sqlite")


def check_demo_only(url: str, *, jurisdiction: str, demo_logins: re.Pattern[str]) -> Verdict:
    """Raise UserError naming what the database holds unless the demo may wipe it."""
    where = url.split("@")[-1] if "@" in url else url.removeprefix("sqlite:///")
    engine = get_engine(url)
    tables = set(inspect(engine).get_table_names())
    if not tables or tables == {"alembic_version"}:
        return Verdict(False, "empty database")
    if not {"jurisdiction", "useraccount", "jobstate"} <= tables:
        raise UserError(
            f"the database {where} holds tables that are not bihuan's "
            f"({', '.join(sorted(tables)[:5])}…); the demo wipes its database, so it refuses. "
            "Give the demo an empty database or a new SQLite file with --db"
        )
    j, u, js = table(Jurisdiction), table(User), table(JobState)
    with engine.connect() as conn:
        codes = list(conn.execute(select(j.c.code).order_by(j.c.code)).scalars())
        marked = conn.execute(
            select(func.count())
            .select_from(js)
            .join(j, j.c.id == js.c.jurisdiction_id)
            .where(j.c.code == jurisdiction, js.c.job == MARKER_JOB, js.c.value == MARKER_VALUE)
        ).scalar_one()
        logins = list(conn.execute(select(u.c.login)).scalars())
    others = [c for c in codes if c != jurisdiction]
    strangers = [login for login in logins if not demo_logins.fullmatch(login)]
    if others or (codes and not marked) or strangers:
        held = []
        if codes:
            held.append(f"jurisdictions {', '.join(codes)}")
        if codes and not marked:
            held.append(f"{jurisdiction} was not made by the demo")
        if strangers:
            held.append(f"users {', '.join(strangers[:5])}{'…' if len(strangers) > 5 else ''}")
        raise UserError(
            f"the database {where} holds more than the demo county ({'; '.join(held)}); the demo "
            "wipes its database, so it refuses. Give it an empty database or a new SQLite file "
            "with --db (the default is var/demo.db)"
        )
    return Verdict(True, "the demo county alone")


def mark(url: str, *, jurisdiction: str, name: str) -> None:
    """Mark a freshly created database as the demo's (its jurisdiction and the marker row)."""
    from bihuan.clock import utc_now
    from bihuan.db import session_scope

    j, js = table(Jurisdiction), table(JobState)
    with session_scope(url) as session:
        jid = session.execute(select(j.c.id).where(j.c.code == jurisdiction)).scalar()
        if jid is None:
            jid = session.execute(
                j.insert()
                .values(code=jurisdiction, name=name, level="county", created_at=utc_now())
                .returning(j.c.id)
            ).scalar_one()
        session.execute(
            js.insert().values(
                jurisdiction_id=jid, job=MARKER_JOB, value=MARKER_VALUE, updated_at=utc_now()
            )
        )
